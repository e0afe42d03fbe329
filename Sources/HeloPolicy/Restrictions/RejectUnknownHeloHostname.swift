extension Evaluation {
    /// `reject_unknown_helo_hostname`: the HELO name must have an A, AAAA or MX record
    /// (Postfix's `reject_unknown_hostname()`). Literals get the address-literal check.
    ///
    /// The unmodified name is asked for A, then AAAA, then MX, stopping at the first type with
    /// records. Bare addresses, invalid names and names with a trailing dot are "not found"
    /// without a query (``dnsLookup(_:_:)``). Otherwise the outcome is the highest-ranked
    /// status over the types asked, ranked as Postfix's `dns_lookup_rl()` ranks them
    /// (postfix-helo-semantics §2.6): temporary failure > malformed reply > failure > null MX
    /// > not found. (Postfix's top rank, "reply filter dropped everything", cannot occur:
    /// heloguard has no `smtpd_dns_reply_filter`.)
    ///
    /// - records or null MX: DUNNO (mail servers may publish a null MX);
    /// - temporary failure: `unknown_helo_hostname_tempfail_action`: remember
    ///   `450 4.7.1 <h>: Helo command rejected: Host not found` (defer_if_permit) or reply with
    ///   it now (defer). The code is 450 whatever `unknown_hostname_reject_code` says, as in Postfix;
    /// - malformed reply: `<code> 4.7.1 <h>: Helo command rejected: Malformed DNS server reply`;
    /// - failure or not found: `<code> 4.7.1 <h>: Helo command rejected: Host not found`.
    ///
    /// Postfix logs no warning of its own in any of these cases (it has one only for the
    /// reply-filter case), so neither does heloguard; the answers are in the trace.
    func rejectUnknownHeloHostname() -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        if helo.hasPrefix("[") { return rejectInvalidAddressLiteral(helo) }
        switch existenceAnswer(helo) {
        case .records, .nullMX:
            return .dunno
        case .temporaryFailure:
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

    /// A, then AAAA, then MX, stopping at the first that has records; otherwise the
    /// highest-ranked status seen.
    private func existenceAnswer(_ name: String) -> DNSAnswer {
        var best = DNSAnswer.notFound
        for type in [DNSRecordType.a, .aaaa, .mx] {
            let answer = dnsLookup(name, type)
            if case .records = answer { return answer }
            if Self.rank(answer) >= Self.rank(best) { best = answer }
        }
        return best
    }

    /// Postfix's status order (`DNS_RETRY` > `DNS_INVAL` > `DNS_FAIL` > `DNS_NULLMX` >
    /// `DNS_NOTFOUND`, src/dns/dns.h).
    private static func rank(_ answer: DNSAnswer) -> Int {
        switch answer {
        case .records: return 5
        case .temporaryFailure: return 4
        case .malformed: return 3
        case .failed: return 2
        case .nullMX: return 1
        case .notFound: return 0
        }
    }
}
