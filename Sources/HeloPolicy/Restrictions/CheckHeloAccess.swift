extension Evaluation {
    /// `check_helo_access`: the HELO name as checked, then its parent domains (fixed-string
    /// tables only; none for a bare IP address). No HELO, nothing to check.
    func checkHeloAccess(_ table: TableReference) throws(EvaluationAbort) -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        return try lookupDomain(table, helo, replyName: helo, replyClass: .helo).0
    }
}
