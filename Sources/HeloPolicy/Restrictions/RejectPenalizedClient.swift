extension Evaluation {
    /// `reject_penalized_client` (heloguard's own): refuse every recipient of a client that is
    /// in the penalty box, whatever HELO it says now. The reply names the client the way
    /// Postfix's client restrictions do (`<name[address]>: Client host rejected`), with the
    /// reason it was boxed and when the entry expires. Place it after `permit_mynetworks` and
    /// `permit_sasl_authenticated` so that those clients are never refused by it.
    ///
    /// Its own refusals never box the client again (that would lengthen the penalty at each
    /// attempt, up to the maximum, for a client that merely retries).
    func rejectPenalizedClient() -> CheckStatus {
        guard let client = facts.clientIP, let notice = penalties.penalty(for: client) else { return .dunno }
        let savedPenalizeNext = penalizeNext
        penalizeNext = false
        defer { penalizeNext = savedPenalizeNext }
        return refuse(.policy, code: config.codes.penaltyBox, dsn: "5.7.1",
                      text: rejectionText(facts.clientNameAndAddress, .client,
                                          "\(notice.reason); penalized until \(notice.expiresText)"))
    }
}
