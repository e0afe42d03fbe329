extension Evaluation {
    /// `check_helo_a_access`, `check_helo_mx_access`, `check_helo_ns_access`: look up the
    /// servers behind the HELO name (its addresses, its mail exchangers or its name servers) in
    /// an access table. The first hit of any kind ends the check; `OK` is not allowed there.
    func checkHeloServerAccess(_ kind: Restriction.ServerKind, _ table: TableReference) throws(EvaluationAbort) -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        let status = try serverAccess(kind, table, helo)
        if case .permit = status, !discard {
            throw serverError("restriction check_helo_\(kind.rawValue.lowercased())_access returns OK for \(helo); this is not allowed for security reasons; use DUNNO instead of OK if you want to make an exception")
        }
        return status
    }

    private func serverAccess(_ kind: Restriction.ServerKind, _ table: TableReference, _ helo: String) throws(EvaluationAbort) -> CheckStatus {
        var domain = helo
        if let at = domain.lastIndex(of: "@") { domain = String(domain[domain.index(after: at)...]) }
        if domain.hasPrefix("[") {
            guard kind != .ns, domain.hasSuffix("]"), domain.utf8.count >= 2 else { return .dunno }
            var inside = String(domain.dropFirst().dropLast())
            guard HostnameSyntax.isValidMailhostAddress(inside) else { return .dunno }
            if inside.lowercased().hasPrefix("ipv6:") { inside = String(inside.dropFirst(5)) }
            return try lookupAddress(table, inside, replyName: helo, replyClass: .helo).0
        }
        if !domain.allSatisfy(\.isASCII), let ascii = IDNA.toASCII(domain) { domain = ascii }

        var servers: [String]
        switch kind {
        case .a:
            servers = [domain]
        case .mx, .ns:
            let type: DNSRecordType = kind == .mx ? .mx : .ns
            var answer = resolver.lookup(domain, type: type)
            if case .nullMX = answer { return .dunno }
            if case .notFound = answer {
                if kind == .mx {
                    answer = .records([domain])
                } else {
                    var parent = Substring(domain)
                    while let dot = parent.firstIndex(of: "."), parent.index(after: dot) < parent.endIndex {
                        parent = parent[parent.index(after: dot)...]
                        answer = resolver.lookup(String(parent), type: .ns)
                        if case .notFound = answer { continue }
                        break
                    }
                }
            }
            guard case .records(let hosts) = answer else {
                events.append(PolicyLogEvent(.warning, "Unable to look up \(kind.rawValue) host for \(domain): \(Evaluation.describe(answer))"))
                return .dunno
            }
            servers = hosts
        }

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
            var addresses: [String] = []
            var failure: String? = nil
            for type in [DNSRecordType.a, .aaaa] {
                switch resolver.lookup(server, type: type) {
                case .records(let found): addresses += found
                case .temporaryFailure(let why), .malformed(let why), .failed(let why): failure = why
                case .notFound, .nullMX: break
                }
            }
            if addresses.isEmpty {
                if kind != .a || failure != nil {
                    events.append(PolicyLogEvent(.warning, "Unable to look up \(kind.rawValue) host \(server) for \(helo): \(failure ?? "host not found")"))
                }
                continue
            }
            for address in addresses {
                let (status, found) = try lookupAddress(table, address, replyName: helo, replyClass: .helo)
                if found { return status }
            }
        }
        return .dunno
    }

    static func describe(_ answer: DNSAnswer) -> String {
        switch answer {
        case .records(let records): return records.joined(separator: ", ")
        case .notFound: return "Host not found"
        case .nullMX: return "Null MX"
        case .temporaryFailure(let why): return "Host not found, try again (\(why))"
        case .malformed(let why): return "Malformed DNS server reply (\(why))"
        case .failed(let why): return "Non-recoverable error (\(why))"
        }
    }
}
