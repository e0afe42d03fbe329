extension Evaluation {
    /// `reject_invalid_helo_hostname`: the name (one trailing dot ignored) must be a valid host
    /// name or a bare IP address; an address literal must be valid.
    func rejectInvalidHeloHostname() -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        if helo.hasPrefix("[") { return rejectInvalidAddressLiteral(helo) }
        let name = HostnameSyntax.droppingOneTrailingDot(helo)
        if HostnameSyntax.isValidHostname(name) || HostnameSyntax.isValidHostAddress(name) { return .dunno }
        return refuse(.policy, code: config.codes.invalidHostname, dsn: "5.5.2",
                      text: rejectionText(helo, .helo, "Invalid name"))
    }
}
