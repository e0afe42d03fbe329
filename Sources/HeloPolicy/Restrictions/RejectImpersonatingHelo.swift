extension Evaluation {
    /// `reject_impersonating_helo` (heloguard's own): refuse a client that greets us with one of
    /// our own host names, one of our domains, or one of our addresses (bare, `[a.b.c.d]`,
    /// `[IPv6:...]`). Put it after `permit_mynetworks, permit_sasl_authenticated`.
    ///
    /// With `impersonation_check_dns = yes` a HELO host name that passed the name checks is
    /// also resolved (A, then AAAA): pointing at one of our addresses is impersonation too,
    /// with the same reply. Only valid host names are asked (one trailing dot ignored), never
    /// literals or bare addresses. DNS trouble never refuses: it is logged and the restriction
    /// has no opinion.
    ///
    /// With `penalize_impersonation = yes` (the default) a refusal also asks for the client
    /// to be put into the penalty box.
    func rejectImpersonatingHelo() -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        let identity = config.impersonation
        if ImpersonationCheck.claimsToBeUs(helo, identity: identity, facts: facts)
            || (identity.checkDNS && resolvesToUs(helo, identity: identity)) {
            let status = refuse(.policy, code: config.codes.impersonation, dsn: "5.7.1",
                                text: rejectionText(helo, .helo, identity.replyText))
            // With penalize_impersonation = yes a final, permanent refusal boxes the client
            // (not one under warn_if_reject, which returns dunno, nor a 4xx).
            if config.penalizeImpersonation, case .reject(let reply) = status, reply.isPermanent {
                penaltyRequest = PenaltyRequest(reason: "impersonating HELO <\(helo)>", restriction: "reject_impersonating_helo")
            }
            return status
        }
        return .dunno
    }

    /// True when the HELO, a host name, has an A or AAAA record that is one of our addresses.
    private func resolvesToUs(_ helo: String, identity: ImpersonationIdentity) -> Bool {
        let name = HostnameSyntax.droppingOneTrailingDot(helo)
        guard !name.hasPrefix("["), !HostnameSyntax.isValidHostAddress(name),
              HostnameSyntax.isValidHostname(name), name.utf8.count <= 253 else { return false }
        for type in [DNSRecordType.a, .aaaa] {
            let answer = resolver.lookup(name, type: type)
            recordNote("  DNS \(type.rawValue) \(name)", Evaluation.describe(answer))
            switch answer {
            case .records(let records):
                for record in records {
                    if let address = IPAddress(record), ImpersonationCheck.isOurAddress(address, identity: identity, facts: facts) {
                        recordNote("  impersonation", "\(name) has our address \(address)")
                        return true
                    }
                }
            case .notFound, .nullMX:
                break
            case .temporaryFailure, .failed, .malformed:
                events.append(PolicyLogEvent(.warning,
                    "reject_impersonating_helo: cannot look up \(type.rawValue) records of \(name) (\(Evaluation.describe(answer))); not counted as impersonation"))
            }
        }
        return false
    }
}

/// The comparison behind `reject_impersonating_helo`, kept pure so it can be tested alone.
public enum ImpersonationCheck {
    public static func claimsToBeUs(_ helo: String, identity: ImpersonationIdentity, facts: SessionFacts = SessionFacts()) -> Bool {
        if let address = claimedAddress(helo) {
            return isOurAddress(address, identity: identity, facts: facts)
        }
        let name = normalisedName(helo)
        guard !name.isEmpty else { return false }
        for hostname in identity.hostnames where normalises(hostname, to: name) { return true }
        for hostname in facts.serverHostnames where normalises(hostname, to: name) { return true }
        for domain in identity.domains {
            // Most entries are plain names: compared without making their normalised copy.
            if !domain.utf8.starts(with: CollectionOfOne(UInt8(ascii: "."))) {
                if normalises(domain, to: name) { return true }
                continue
            }
            let entry = normalisedName(domain)
            if entry.hasPrefix(".") {
                let bare = String(entry.dropFirst())
                if name == bare || name.hasSuffix(entry) { return true }
            } else if name == entry {
                return true
            }
        }
        return false
    }

    /// True when `address` is one of ours (configured or reported by the MTA); an
    /// IPv4-mapped IPv6 address counts as its IPv4 address, on either side.
    public static func isOurAddress(_ address: IPAddress, identity: ImpersonationIdentity, facts: SessionFacts = SessionFacts()) -> Bool {
        let ours = identity.addresses + facts.serverAddresses.compactMap { IPAddress($0) }
        let candidates = [address, address.unmappedIPv4].compactMap { $0 }
        return ours.contains { mine in candidates.contains { $0 == mine || $0 == mine.unmappedIPv4 } }
    }

    /// The address a HELO claims, if it is written as one: bare, `[v4]`, `[IPv6:v6]` or `[v6]`.
    static func claimedAddress(_ helo: String) -> IPAddress? {
        var text = helo
        if text.hasPrefix("[") && text.hasSuffix("]") && text.count > 2 {
            text = String(text.dropFirst().dropLast())
            if text.lowercased().hasPrefix("ipv6:") {
                text = String(text.dropFirst(5))
                guard text.contains(":") else { return nil }
            }
        }
        if text.contains("%") { return nil }
        return IPAddress(text)
    }

    /// `normalisedName(entry) == name` for an already normalised `name`, without a copy of
    /// `entry` when both are ASCII (the usual case); other text takes the general path.
    static func normalises(_ entry: String, to name: String) -> Bool {
        var entryBytes = entry.utf8[...]
        let nameBytes = name.utf8
        guard entryBytes.allSatisfy({ $0 < 0x80 }), nameBytes.allSatisfy({ $0 < 0x80 }) else {
            return normalisedName(entry) == name
        }
        if entryBytes.count > 1, entryBytes.last == UInt8(ascii: ".") { entryBytes = entryBytes.dropLast() }
        return entryBytes.elementsEqual(nameBytes) { entryByte, nameByte in
            (entryByte >= 0x41 && entryByte <= 0x5A ? entryByte | 0x20 : entryByte) == nameByte
        }
    }

    /// Lower case, one trailing dot removed.
    static func normalisedName(_ name: String) -> String {
        var lowered = name.lowercased()
        if lowered.count > 1 && lowered.hasSuffix(".") { lowered.removeLast() }
        return lowered
    }
}
