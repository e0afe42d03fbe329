extension Evaluation {
    /// `check_client_access`: the client's name (and its parent domains), then its address
    /// (and its prefixes). Replies name the client as `<name[address]>: Client host rejected`.
    func checkClientAccess(_ table: TableReference) throws(EvaluationAbort) -> CheckStatus {
        let replyName = facts.clientNameAndAddress
        let (byName, foundName) = try lookupDomain(table, facts.clientName, replyName: replyName, replyClass: .client)
        if byName.isDecisive || foundName { return byName }
        let (byAddress, _) = try lookupAddress(table, facts.clientAddress, replyName: replyName, replyClass: .client)
        return byAddress
    }
}
