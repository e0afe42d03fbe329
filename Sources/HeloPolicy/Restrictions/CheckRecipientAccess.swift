extension Evaluation {
    /// `check_recipient_access` inside the HELO list: makes per-recipient exceptions possible,
    /// e.g. `abuse@` gets mail whatever the client says in HELO.
    func checkRecipientAccess(_ table: TableReference) throws(EvaluationAbort) -> CheckStatus {
        guard let recipient else { return .dunno }
        return try lookupMailAddress(table, recipient, replyClass: .recipient)
    }
}
