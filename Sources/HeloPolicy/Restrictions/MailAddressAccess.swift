extension Evaluation {
    /// Looks up an envelope address the way Postfix's `check_mail_access()` does with its
    /// default lookup strategy: the whole address (every table), then the domain and its parent
    /// domains, then `localpart@` (fixed-string tables only). An address without a domain gets
    /// `@$myorigin`, as Postfix's address rewriting would give it.
    func lookupMailAddress(_ table: TableReference, _ address: String, replyClass: ReplyClass) throws(EvaluationAbort) -> CheckStatus {
        var resolved = address
        if resolved.lastIndex(of: "@") == nil { resolved += "@" + config.myOrigin }
        let at = resolved.lastIndex(of: "@")!
        let localPart = String(resolved[..<at])
        let domain = String(resolved[resolved.index(after: at)...])
        func attempt(_ key: String, _ scope: LookupScope) throws(EvaluationAbort) -> CheckStatus? {
            try resultOfLookup(table, key: key, datum: resolved, answer: find(table, key, scope),
                               replyName: address, replyClass: replyClass)
        }
        if let status = try attempt(resolved, .full) { return status }
        if !domain.isEmpty {
            var rest = Substring(domain)
            while true {
                if let status = try attempt(String(rest), .partial) { return status }
                guard let dot = rest.dropFirst().firstIndex(of: ".") else { break }
                rest = config.accessMapsMatchParentDomains ? rest[rest.index(after: dot)...] : rest[dot...]
            }
        }
        if let status = try attempt(localPart + "@", .partial) { return status }
        return .dunno
    }
}
