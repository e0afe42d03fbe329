extension Evaluation {
    /// `permit_naked_ip_address` (Postfix 3.7, deprecated): permit a HELO that is a bare,
    /// valid IP address.
    func permitNakedIPAddress() -> CheckStatus {
        guard let helo = heloName, !helo.hasPrefix("["), HostnameSyntax.isValidHostAddress(helo) else { return .dunno }
        return .permit
    }
}
