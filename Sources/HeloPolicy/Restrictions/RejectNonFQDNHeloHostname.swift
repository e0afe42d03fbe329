extension Evaluation {
    /// `reject_non_fqdn_helo_hostname`: the name (one trailing dot ignored) must be a valid host
    /// name with at least one dot. Bare IP addresses fail; UTF-8 names pass only when the client
    /// asked for SMTPUTF8 and the A-label form is valid.
    func rejectNonFQDNHeloHostname() -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        if helo.hasPrefix("[") { return rejectInvalidAddressLiteral(helo) }
        let name = HostnameSyntax.droppingOneTrailingDot(helo)
        if HostnameSyntax.isValidUTF8Hostname(name, smtputf8: facts.smtputf8) && name.contains(".") { return .dunno }
        return refuse(.policy, code: config.codes.nonFQDN, dsn: "5.5.2",
                      text: rejectionText(helo, .helo, "need fully-qualified hostname"))
    }
}
