extension Evaluation {
    /// `permit_mynetworks`: permit when the client (its address, or its verified name) is in
    /// `mynetworks`. A table failure there is a temporary lookup failure for the whole check.
    func permitMynetworks(replyName: String) throws(EvaluationAbort) -> CheckStatus {
        guard let networks = config.myNetworks else { return .dunno }
        switch networks.matchesClient(name: facts.clientName, address: facts.clientIP) {
        case .found: return .permit
        case .notFound: return .dunno
        case .failed(let reason):
            throw temporaryLookupFailure(replyName, "mynetworks lookup for \(facts.clientNameAndAddress) failed: \(reason)")
        }
    }
}
