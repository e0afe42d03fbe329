extension Evaluation {
    /// `reject_impersonating_helo` (heloguard's own): refuse a client that greets us with one of
    /// our own host names, one of our domains, or one of our addresses (bare, `[a.b.c.d]`,
    /// `[IPv6:...]`). Put it after `permit_mynetworks, permit_sasl_authenticated`.
    func rejectImpersonatingHelo() -> CheckStatus {
        guard let helo = heloName, ImpersonationCheck.claimsToBeUs(helo, identity: config.impersonation, facts: facts) else {
            return .dunno
        }
        return refuse(.policy, code: config.codes.impersonation, dsn: "5.7.1",
                      text: rejectionText(helo, .helo, config.impersonation.replyText))
    }
}

/// The comparison behind `reject_impersonating_helo`, kept pure so it can be tested alone.
public enum ImpersonationCheck {
    public static func claimsToBeUs(_ helo: String, identity: ImpersonationIdentity, facts: SessionFacts = SessionFacts()) -> Bool {
        if let address = claimedAddress(helo) {
            let ours = identity.addresses + facts.serverAddresses.compactMap { IPAddress($0) }
            let candidates = [address, address.unmappedIPv4].compactMap { $0 }
            return ours.contains { mine in candidates.contains { $0 == mine || $0 == mine.unmappedIPv4 } }
        }
        let name = normalisedName(helo)
        guard !name.isEmpty else { return false }
        for hostname in identity.hostnames + facts.serverHostnames where normalisedName(hostname) == name {
            return true
        }
        for domain in identity.domains {
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

    /// Lower case, one trailing dot removed.
    static func normalisedName(_ name: String) -> String {
        var lowered = name.lowercased()
        if lowered.count > 1 && lowered.hasSuffix(".") { lowered.removeLast() }
        return lowered
    }
}
