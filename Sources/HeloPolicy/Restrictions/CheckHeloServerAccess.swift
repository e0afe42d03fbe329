extension Evaluation {
    /// `check_helo_a_access`, `check_helo_mx_access`, `check_helo_ns_access`: look up the
    /// servers behind the HELO name (its addresses, its mail exchangers or its name servers) in
    /// an access table, as Postfix's `check_server_access()` does. The first hit of any kind
    /// ends the check, `DUNNO` included. `OK` is not allowed there: Postfix logs three warnings
    /// and answers `451 4.3.5 Server configuration error` (unless a DISCARD came first).
    func checkHeloServerAccess(_ kind: Restriction.ServerKind, _ table: TableReference) throws(EvaluationAbort) -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        let status = try serverAccess(kind, table, helo)
        if case .permit = status, !discard {
            let name = "check_helo_\(kind.rawValue.lowercased())_access"
            events.append(PolicyLogEvent(.warning, "restriction \(name) returns OK for \(helo)"))
            events.append(PolicyLogEvent(.warning, "this is not allowed for security reasons"))
            throw serverError("use DUNNO instead of OK if you want to make an exception")
        }
        return status
    }

    /// The body of `check_server_access()` for the HELO name.
    ///
    /// 1. A literal `[addr]` (A and MX only) is its own server: the address is looked up
    ///    directly; a bad literal and the NS type are DUNNO.
    /// 2. A non-ASCII name is converted to its A-label form.
    /// 3. The servers: for A, the name itself; for MX and NS, a DNS lookup. A null MX is
    ///    DUNNO; an MX-less name (not found) is its own mail exchanger; an NS-less name walks up
    ///    one label at a time until some answer other than "not found". Any other failure logs
    ///    `Unable to look up <TYPE> host for <domain>: <why>` and is DUNNO, never a deferral.
    ///    `<domain>` is the name last asked (a parent after an NS walk), or the HELO argument
    ///    when that name is shorter than two characters or the walk ran out of labels.
    /// 4. For each server in DNS order: a numeric server is looked up as an address; for MX and
    ///    NS the server name is looked up as a domain (parents included); then each of its
    ///    addresses (A, then AAAA; see ``resolveAddresses(_:)``). A server whose addresses cannot
    ///    be found logs `Unable to look up <TYPE> host <server> for Helo command <h>: <why>`
    ///    (MX and NS only) and is skipped. More than `dns_rr_list_limit` addresses over the whole
    ///    check end it with a warning and DUNNO.
    private func serverAccess(_ kind: Restriction.ServerKind, _ table: TableReference, _ helo: String) throws(EvaluationAbort) -> CheckStatus {
        var domain = helo
        if let at = domain.lastIndex(of: "@") { domain = String(domain[domain.index(after: at)...]) }
        if domain.hasPrefix("[") {
            guard kind != .ns, domain.utf8.last == UInt8(ascii: "]") else { return .dunno }
            var inside = String(decoding: Array(domain.utf8).dropFirst().dropLast(), as: UTF8.self)
            guard HostnameSyntax.isValidMailhostAddress(inside) else { return .dunno }
            if inside.lowercased().hasPrefix("ipv6:") { inside = String(inside.dropFirst(5)) }
            return try lookupAddress(table, inside, replyName: helo, replyClass: .helo).0
        }
        if !domain.allSatisfy(\.isASCII), let ascii = IDNA.toASCII(domain) { domain = ascii }

        guard let servers = serverNames(kind, domain, helo: helo) else { return .dunno }
        return try lookUpServers(servers, kind, table, helo: helo)
    }

    /// Step 3: the servers to look up, or nil (DUNNO) for a null MX or a failed lookup (logged).
    private func serverNames(_ kind: Restriction.ServerKind, _ domain: String, helo: String) -> [String]? {
        switch kind {
        case .a:
            return [domain]
        case .mx, .ns:
            let type: DNSRecordType = kind == .mx ? .mx : .ns
            var answer = dnsLookup(domain, type)
            if case .nullMX = answer { return nil }
            // The name the warning shows; nil once an NS walk has run out of labels.
            var asked: String? = domain
            if case .notFound = answer {
                if kind == .mx {
                    answer = .records([domain])
                } else {
                    (answer, asked) = walkUpForNS(domain, answer)
                }
            }
            guard case .records(let hosts) = answer else {
                let shown = asked.flatMap { $0.utf8.count >= 2 ? $0 : nil } ?? helo
                events.append(PolicyLogEvent(.warning,
                    "Unable to look up \(kind.rawValue) host for \(shown): \(Evaluation.resolverErrorText(answer))"))
                return nil
            }
            return hosts
        }
    }

    /// An NS-less name: asks each parent in turn until an answer other than "not found".
    /// Returns that answer and the name asked (nil when the walk ran out of labels).
    private func walkUpForNS(_ domain: String, _ first: DNSAnswer) -> (DNSAnswer, String?) {
        var answer = first
        var rest = Substring(domain)
        while true {
            guard let dot = rest.firstIndex(of: ".") else { return (answer, nil) }
            let parent = rest[rest.index(after: dot)...]
            // A trailing dot ends the walk; Postfix then names the HELO argument.
            guard !parent.isEmpty else { return (answer, nil) }
            rest = parent
            answer = dnsLookup(String(parent), .ns)
            if case .notFound = answer { continue }
            return (answer, String(parent))
        }
    }

    /// Step 4: each server (by address, by name for MX and NS, then by each of its addresses)
    /// until the first table hit, within `dns_rr_list_limit` addresses.
    private func lookUpServers(_ servers: [String], _ kind: Restriction.ServerKind, _ table: TableReference,
                               helo: String) throws(EvaluationAbort) -> CheckStatus {
        var addressCount = 0
        for server in servers {
            if HostnameSyntax.isValidHostAddress(server) {
                let (status, found) = try lookupAddress(table, server, replyName: helo, replyClass: .helo)
                if found { return status }
                continue
            }
            if kind != .a {
                let (status, found) = try lookupDomain(table, server, replyName: helo, replyClass: .helo)
                if found { return status }
            }
            switch resolveAddresses(server) {
            case .failure(let why):
                if kind != .a {
                    events.append(PolicyLogEvent(.warning,
                        "Unable to look up \(kind.rawValue) host \(server) for \(ReplyClass.helo.rawValue) \(helo): \(why)"))
                }
            case .addresses(let addresses):
                for address in addresses {
                    addressCount += 1
                    if addressCount > config.dnsRRListLimit {
                        events.append(PolicyLogEvent(.warning,
                            "check_server_access: \(kind.rawValue) server address count limit (\(config.dnsRRListLimit)) exceeded for \(ReplyClass.helo.rawValue) \(helo) -- ignoring the remainder"))
                        return .dunno
                    }
                    let (status, found) = try lookupAddress(table, address, replyName: helo, replyClass: .helo)
                    if found { return status }
                }
            }
        }
        return .dunno
    }
}
