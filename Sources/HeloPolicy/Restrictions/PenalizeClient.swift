extension Evaluation {
    /// `penalize_client` (heloguard's own): no opinion of its own, but the next permanent (5xx)
    /// refusal of this evaluation puts the client into the penalty box. Usable in the list and
    /// in an access-table result, e.g. `spam.example  penalize_client, reject` in a
    /// `check_helo_access` table. A refusal under `warn_if_reject`, a 4xx refusal (including
    /// a 5xx turned into 4xx by `soft_bounce` or `defer_if_reject`) and a refusal by
    /// `reject_penalized_client` box nothing.
    func penalizeClient() -> CheckStatus {
        penalizeNext = true
        return .dunno
    }

    /// Called with every refusal `refuse` makes: when `penalize_client` came before and the
    /// refusal is final and permanent, the verdict asks for the client to be boxed.
    func notePenalty(for status: CheckStatus, warnOnly: Bool) {
        guard penalizeNext, !warnOnly, penaltyRequest == nil, case .reject(let reply) = status, reply.isPermanent else { return }
        penalizeNext = false
        let restriction = currentTopRestriction.map { String($0.prefix { $0 != " " }) } ?? "penalize_client"
        penaltyRequest = PenaltyRequest(reason: "HELO <\(heloName ?? "")> refused by \(restriction)", restriction: restriction)
    }
}
