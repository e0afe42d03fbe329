extension Evaluation {
    /// `permit_sasl_authenticated`: permit when the client logged in with any SASL mechanism
    /// other than ANONYMOUS.
    func permitSaslAuthenticated() -> CheckStatus {
        guard let method = facts.saslMethod, !method.isEmpty, method.lowercased() != "anonymous" else { return .dunno }
        return .permit
    }
}
