extension Evaluation {
    /// `check_sender_access` inside the HELO list: the envelope sender (known only with delayed
    /// rejection); the null sender is looked up as `smtpd_null_access_lookup_key`.
    func checkSenderAccess(_ table: TableReference) throws(EvaluationAbort) -> CheckStatus {
        guard let sender = facts.sender else { return .dunno }
        if sender.isEmpty {
            let key = config.nullAccessLookupKey
            let answer = find(table, key, .full)
            return try resultOfLookup(table, key: key, datum: key, answer: answer, replyName: sender, replyClass: .sender) ?? .dunno
        }
        return try lookupMailAddress(table, sender, replyClass: .sender)
    }
}
