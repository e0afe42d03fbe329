extension Evaluation {
    /// `reject_unknown_helo_hostname`: the HELO name must have an A, AAAA or MX record. Bare
    /// addresses, invalid names and names with a trailing dot are refused without a query, as
    /// Postfix's resolver front end refuses them; literals get the address-literal check.
    func rejectUnknownHeloHostname() -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        if helo.hasPrefix("[") { return rejectInvalidAddressLiteral(helo) }
        let queryable = !HostnameSyntax.isValidHostAddress(helo)
            && (helo == "." || HostnameSyntax.isValidHostname(helo, allowWildcard: true))
            && helo.utf8.count <= 253
        var outcome = DNSAnswer.notFound
        if queryable {
            outcome = existenceAnswer(helo)
            if case .records = outcome { return .dunno }
        }
        switch outcome {
        case .records, .nullMX:
            return .dunno
        case .temporaryFailure(let why):
            events.append(PolicyLogEvent(.warning, "\(helo): address or MX lookup failed temporarily: \(why)"))
            let text = rejectionText(helo, .helo, "Host not found")
            if config.unknownHeloTempfailAction == .deferIfPermit {
                return rememberDeferIfPermit(.policy, code: 450, dsn: "4.7.1", text: text)
            }
            return refuse(.policy, code: 450, dsn: "4.7.1", text: text)
        case .malformed:
            return refuse(.policy, code: config.codes.unknownHostname, dsn: "4.7.1",
                          text: rejectionText(helo, .helo, "Malformed DNS server reply"))
        case .notFound, .failed:
            return refuse(.policy, code: config.codes.unknownHostname, dsn: "4.7.1",
                          text: rejectionText(helo, .helo, "Host not found"))
        }
    }

    /// A, then AAAA, then MX, stopping at the first that has records; otherwise the worst
    /// status seen, ranked as Postfix ranks them (temporary failure > malformed > failure >
    /// null MX > not found).
    private func existenceAnswer(_ name: String) -> DNSAnswer {
        var worst = DNSAnswer.notFound
        func rank(_ answer: DNSAnswer) -> Int {
            switch answer {
            case .temporaryFailure: return 4
            case .malformed: return 3
            case .failed: return 2
            case .nullMX: return 1
            case .notFound, .records: return 0
            }
        }
        for type in [DNSRecordType.a, .aaaa, .mx] {
            let answer = resolver.lookup(name, type: type)
            if case .records = answer { return answer }
            if rank(answer) > rank(worst) { worst = answer }
        }
        return worst
    }
}
