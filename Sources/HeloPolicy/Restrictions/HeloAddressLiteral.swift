extension Evaluation {
    /// Postfix's `reject_invalid_hostaddr()`, used by all three syntax restrictions when the HELO
    /// starts with `[`: the text between the brackets must be an IPv4 address or `IPv6:` and an
    /// IPv6 address. The code is always `invalid_hostname_reject_code`.
    func rejectInvalidAddressLiteral(_ helo: String) -> CheckStatus {
        let bytes = Array(helo.utf8)
        var tested = helo
        if bytes.count > 2, bytes.last == UInt8(ascii: "]") {
            tested = String(decoding: bytes[1..<(bytes.count - 1)], as: UTF8.self)
        }
        if HostnameSyntax.isValidMailhostAddress(tested) { return .dunno }
        return refuse(.policy, code: config.codes.invalidHostname, dsn: "5.5.2",
                      text: rejectionText(helo, .helo, "invalid ip address"))
    }
}
