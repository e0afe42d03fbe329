import Testing
@testable import HeloPolicy

/// `reject_unknown_helo_hostname` beyond the §8.1 table: the DNS rows of §8.3 and Postfix's
/// ranking of lookup statuses (postfix-helo-semantics §2.6, `dns_lookup_rl()`).
struct UnknownHeloHostnameTests {
    static let ok = "250 2.1.5 Ok"
    static let hostNotFound = "450 4.7.1 <tempfail.example.test>: Helo command rejected: Host not found"

    struct Flow: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        let script: SessionScript
        /// The reply to each HELO (nil: accepted), then the reply to each recipient.
        let helo: [String?]
        let rcpt: [String]
        var testDescription: String { name }
    }

    /// §8.3, the rows that need DNS (test zone of §8.1).
    static let flows: [Flow] = [
        Flow(name: "delay on, SERVFAIL: HELO and MAIL pass, RCPT gets the deferral",
             config: "smtpd_helo_restrictions = reject_unknown_helo_hostname",
             script: SessionScript(helos: ["tempfail.example.test"], sender: "<a@example.org>", recipients: ["b@mx.example.test"]),
             helo: [nil], rcpt: [hostNotFound]),
        Flow(name: "delay on, check_helo_access REJECT first (the verified k=tempfail-hard row)",
             config: "smtpd_helo_restrictions = check_helo_access inline:{ { tempfail.example.test = REJECT k=tempfail-hard } }, reject_unknown_helo_hostname",
             script: SessionScript(helos: ["tempfail.example.test"], recipients: ["b@mx.example.test"]),
             helo: [nil], rcpt: ["554 5.7.1 <tempfail.example.test>: Helo command rejected: k=tempfail-hard"]),
        Flow(name: "delay on, SERVFAIL, a later table REJECT wins over the deferral",
             config: "smtpd_helo_restrictions = reject_unknown_helo_hostname, check_helo_access inline:{ { tempfail.example.test = REJECT k=tempfail-hard } }",
             script: SessionScript(helos: ["tempfail.example.test"], recipients: ["b@mx.example.test"]),
             helo: [nil], rcpt: ["554 5.7.1 <tempfail.example.test>: Helo command rejected: k=tempfail-hard"]),
        Flow(name: "delay off, tempfail action defer: 450 at HELO",
             config: "smtpd_delay_reject = no\nunknown_helo_hostname_tempfail_action = defer\nsmtpd_helo_restrictions = reject_unknown_helo_hostname",
             script: SessionScript(helos: ["tempfail.example.test"], recipients: ["b@mx.example.test"]),
             helo: [hostNotFound], rcpt: [ok]),
        Flow(name: "delay on, tempfail action defer: 450 at RCPT",
             config: "unknown_helo_hostname_tempfail_action = defer\nsmtpd_helo_restrictions = reject_unknown_helo_hostname",
             script: SessionScript(helos: ["tempfail.example.test"], recipients: ["b@mx.example.test"]),
             helo: [nil], rcpt: [hostNotFound]),
        Flow(name: "delay off, SERVFAIL: HELO accepted, every RCPT deferred",
             config: "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_unknown_helo_hostname",
             script: SessionScript(helos: ["tempfail.example.test"], recipients: ["b@mx.example.test", "c@mx.example.test"]),
             helo: [nil], rcpt: [hostNotFound, hostNotFound]),
        Flow(name: "delay off, helo_required no: NXDOMAIN refused at HELO, MAIL and RCPT pass",
             config: "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_unknown_helo_hostname",
             script: SessionScript(helos: ["nx.example.test"], recipients: ["b@mx.example.test"]),
             helo: ["450 4.7.1 <nx.example.test>: Helo command rejected: Host not found"], rcpt: [ok]),
        Flow(name: "delay off, helo_required yes: NXDOMAIN refused at HELO, then 503 at MAIL",
             config: "smtpd_delay_reject = no\nsmtpd_helo_required = yes\nsmtpd_helo_restrictions = reject_unknown_helo_hostname",
             script: SessionScript(helos: ["nx.example.test"], recipients: ["b@mx.example.test"]),
             helo: ["450 4.7.1 <nx.example.test>: Helo command rejected: Host not found"],
             rcpt: ["503 5.5.1 Error: send HELO/EHLO first"]),
        Flow(name: "warn_if_reject: the deferral is only logged",
             config: "smtpd_helo_restrictions = warn_if_reject, reject_unknown_helo_hostname",
             script: SessionScript(helos: ["tempfail.example.test"], recipients: ["b@mx.example.test"]),
             helo: [nil], rcpt: [ok]),
        Flow(name: "unknown_hostname_reject_code changes NXDOMAIN refusals, not the tempfail code",
             config: "unknown_hostname_reject_code = 550\nsmtpd_helo_restrictions = reject_unknown_helo_hostname",
             script: SessionScript(helos: ["tempfail.example.test"], recipients: ["b@mx.example.test"]),
             helo: [nil], rcpt: [hostNotFound]),
        Flow(name: "unknown_hostname_reject_code = 550 for NXDOMAIN",
             config: "unknown_hostname_reject_code = 550\nsmtpd_helo_restrictions = reject_unknown_helo_hostname",
             script: SessionScript(helos: ["nx.example.test"], recipients: ["b@mx.example.test"]),
             helo: [nil], rcpt: ["550 5.7.1 <nx.example.test>: Helo command rejected: Host not found"]),
        Flow(name: "permit_mynetworks first: no DNS trouble for our own clients",
             config: "mynetworks = 127.0.0.0/8\nsmtpd_helo_restrictions = permit_mynetworks, reject_unknown_helo_hostname",
             script: SessionScript(helos: ["tempfail.example.test"], recipients: ["b@mx.example.test"]),
             helo: [nil], rcpt: [ok]),
    ]

    @Test(arguments: flows)
    func sessionFlow(_ flow: Flow) throws {
        let fixture = try PolicyFixture(flow.config, resolver: ScriptedResolver.section81Zone())
        let outcome = fixture.engine.play(flow.script)
        #expect(outcome.helos.map { $0.refusal?.line } == flow.helo)
        #expect(outcome.recipients.map { $0.decision.verdict.reply?.line ?? Self.ok } == flow.rcpt)
    }

    @Test func warnIfRejectLogsTheDeferralAsRejectWarning() throws {
        let fixture = try PolicyFixture("smtpd_helo_restrictions = warn_if_reject, reject_unknown_helo_hostname",
                                        resolver: ScriptedResolver.section81Zone())
        let decision = fixture.decision(helo: "tempfail.example.test")
        #expect(decision.verdict == .accept)
        #expect(decision.events == [PolicyLogEvent(.rejectWarning, Self.hostNotFound)])
    }

    struct RankingCase: Sendable, CustomTestStringConvertible {
        let name: String
        let answers: [DNSRecordType: DNSAnswer]
        /// The RCPT reply (delay on), or `250 2.1.5 Ok`.
        let expected: String
        /// The record types asked, in order.
        let asked: [DNSRecordType]
        var testDescription: String { name }
    }

    static let tempfail = DNSAnswer.temporaryFailure("SERVFAIL")
    static let malformed = DNSAnswer.malformed("bad packet")
    static let failed = DNSAnswer.failed("REFUSED")
    static func reply(_ reason: String) -> String {
        "450 4.7.1 <h.example.test>: Helo command rejected: \(reason)"
    }

    /// POLICY > RETRY > INVAL > FAIL > NULLMX > NOTFOUND; the first type with records ends it.
    static let ranking: [RankingCase] = [
        RankingCase(name: "A found: stop after A", answers: [.a: .records(["192.0.2.1"]), .aaaa: tempfail],
                    expected: ok, asked: [.a]),
        RankingCase(name: "A tempfail, AAAA found: pass", answers: [.a: tempfail, .aaaa: .records(["2001:db8::1"])],
                    expected: ok, asked: [.a, .aaaa]),
        RankingCase(name: "A malformed, MX found: pass", answers: [.a: malformed, .mx: .records(["mx.example.test"])],
                    expected: ok, asked: [.a, .aaaa, .mx]),
        RankingCase(name: "null MX only: pass", answers: [.mx: .nullMX], expected: ok, asked: [.a, .aaaa, .mx]),
        RankingCase(name: "tempfail on A only: deferral", answers: [.a: tempfail],
                    expected: reply("Host not found"), asked: [.a, .aaaa, .mx]),
        RankingCase(name: "tempfail on MX only: deferral", answers: [.mx: tempfail],
                    expected: reply("Host not found"), asked: [.a, .aaaa, .mx]),
        RankingCase(name: "malformed only: Malformed DNS server reply", answers: [.aaaa: malformed],
                    expected: reply("Malformed DNS server reply"), asked: [.a, .aaaa, .mx]),
        RankingCase(name: "tempfail beats malformed", answers: [.a: malformed, .mx: tempfail],
                    expected: reply("Host not found"), asked: [.a, .aaaa, .mx]),
        RankingCase(name: "malformed beats failed", answers: [.a: failed, .mx: malformed],
                    expected: reply("Malformed DNS server reply"), asked: [.a, .aaaa, .mx]),
        RankingCase(name: "failed gives Host not found", answers: [.a: failed, .aaaa: failed, .mx: failed],
                    expected: reply("Host not found"), asked: [.a, .aaaa, .mx]),
        RankingCase(name: "failed beats null MX", answers: [.a: failed, .mx: .nullMX],
                    expected: reply("Host not found"), asked: [.a, .aaaa, .mx]),
        RankingCase(name: "null MX beats not found", answers: [.a: .notFound, .mx: .nullMX],
                    expected: ok, asked: [.a, .aaaa, .mx]),
        RankingCase(name: "nothing anywhere: Host not found", answers: [:],
                    expected: reply("Host not found"), asked: [.a, .aaaa, .mx]),
    ]

    @Test(arguments: ranking)
    func statusRanking(_ c: RankingCase) throws {
        let resolver = ScriptedResolver(["h.example.test": c.answers])
        let fixture = try PolicyFixture("smtpd_helo_restrictions = reject_unknown_helo_hostname", resolver: resolver)
        let decision = fixture.decision(helo: "h.example.test")
        #expect((decision.verdict.reply?.line ?? Self.ok) == c.expected)
        #expect(resolver.questions == c.asked.map { ScriptedResolver.Question(name: "h.example.test", type: $0) })
        #expect(decision.events.allSatisfy { $0.kind != .warning }, "Postfix logs no warning of its own here")
    }

    @Test func malformedUsesTheConfiguredCode() throws {
        let resolver = ScriptedResolver(["h.example.test": [.a: Self.malformed]])
        let fixture = try PolicyFixture("unknown_hostname_reject_code = 550\nsmtpd_helo_restrictions = reject_unknown_helo_hostname",
                                        resolver: resolver)
        #expect(fixture.reply(helo: "h.example.test") == "550 5.7.1 <h.example.test>: Helo command rejected: Malformed DNS server reply")
    }

    @Test func namesLongerThan253CharactersAreNeverAsked() throws {
        // 4 labels of 63 = 255 characters: a valid host name that no DNS query can carry.
        let name = Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")
        let resolver = ScriptedResolver([:])
        let fixture = try PolicyFixture("smtpd_helo_restrictions = reject_unknown_helo_hostname", resolver: resolver)
        #expect(fixture.reply(helo: name) == "450 4.7.1 <\(name)>: Helo command rejected: Host not found")
        #expect(resolver.questions.isEmpty)
    }
}
