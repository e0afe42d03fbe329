import Testing
@testable import HeloPolicy

/// §8.3 (the rows a HELO milter decides; relay checks stay Postfix's) and the engine rules of
/// §1.4-§1.6: postmaster, no HELO, repeated HELO, helo_required, classes, warn_if_reject,
/// defer_if_permit/defer_if_reject, DISCARD, mynetworks, SASL, per-recipient exceptions.
struct SessionFlowTests {
    struct Flow: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        var files: [String: String] = [:]
        let script: SessionScript
        let expected: [String]
        var testDescription: String { name }
    }

    static let ok = "250 2.1.5 Ok"
    static let nonFQDN = "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname"

    static let flows: [Flow] = [
        Flow(name: "delay on: bad HELO refused at every RCPT, postmaster exempt, postmaster@domain not",
             config: nonFQDN,
             script: SessionScript(helos: ["foo"], sender: "<a@example.org>",
                                   recipients: ["<b@mx.example.test>", "<postmaster>", "postmaster@mx.example.test", "<POSTMASTER>", "<\"postmaster\">", "<@route.example:postmaster>"]),
             expected: ["504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname", ok,
                        "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname", ok, ok, ok]),
        Flow(name: "no HELO: no HELO restrictions", config: nonFQDN,
             script: SessionScript(helos: [], recipients: ["b@example.com"]), expected: [ok]),
        Flow(name: "the last HELO counts", config: nonFQDN,
             script: SessionScript(helos: ["-bad", "good.example.com"], recipients: ["b@example.com"]), expected: [ok]),
        Flow(name: "a bad HELO after a good one counts", config: nonFQDN,
             script: SessionScript(helos: ["good.example.com", "bad"], recipients: ["b@example.com"]),
             expected: ["504 5.5.2 <bad>: Helo command rejected: need fully-qualified hostname"]),
        Flow(name: "delay off: refused HELO keeps the earlier good name",
             config: nonFQDN + "\nsmtpd_delay_reject = no",
             script: SessionScript(helos: ["good.example.com", "bad"], recipients: ["b@example.com"]), expected: [ok]),
        Flow(name: "helo_required: no HELO gets 503 at MAIL for every recipient",
             config: "smtpd_helo_required = yes",
             script: SessionScript(helos: [], recipients: ["b@example.com", "<postmaster>"]),
             expected: ["503 5.5.1 Error: send HELO/EHLO first", "503 5.5.1 Error: send HELO/EHLO first"]),
        Flow(name: "helo_required with delay off: a refused first HELO leaves no HELO",
             config: nonFQDN + "\nsmtpd_delay_reject = no\nsmtpd_helo_required = yes",
             script: SessionScript(helos: ["foo"], recipients: ["b@example.com"]),
             expected: ["503 5.5.1 Error: send HELO/EHLO first"]),
        Flow(name: "permit_mynetworks first: own client passes",
             config: "mynetworks = 127.0.0.0/8\nsmtpd_helo_restrictions = permit_mynetworks, reject_non_fqdn_helo_hostname",
             script: SessionScript(clientAddress: "127.0.0.1", helos: ["foo"], recipients: ["b@example.com"]), expected: [ok]),
        Flow(name: "permit_mynetworks: other client still refused",
             config: "mynetworks = 127.0.0.0/8\nsmtpd_helo_restrictions = permit_mynetworks, reject_non_fqdn_helo_hostname",
             script: SessionScript(clientAddress: "192.0.2.9", helos: ["foo"], recipients: ["b@example.com"]),
             expected: ["504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"]),
        Flow(name: "permit_sasl_authenticated: logged-in MUA with a desktop name passes",
             config: "smtpd_helo_restrictions = permit_sasl_authenticated, reject_non_fqdn_helo_hostname",
             script: SessionScript(helos: ["DESKTOP-XYZ"], saslUsername: "alice", recipients: ["b@example.com"]), expected: [ok]),
        Flow(name: "check_client_access in the HELO list names the client",
             config: "smtpd_helo_restrictions = check_client_access inline:{127.0.0.1=REJECT}",
             script: SessionScript(helos: ["foo"], recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied"]),
        Flow(name: "reject / defer / defer_if_permit", config: "smtpd_helo_restrictions = reject",
             script: SessionScript(helos: ["h.example"], recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <h.example>: Helo command rejected: Access denied"]),
        Flow(name: "defer", config: "smtpd_helo_restrictions = defer",
             script: SessionScript(helos: ["h.example"], recipients: ["b@example.com"]),
             expected: ["450 4.3.2 <h.example>: Helo command rejected: Try again later"]),
        Flow(name: "defer_if_permit", config: "smtpd_helo_restrictions = defer_if_permit",
             script: SessionScript(helos: ["h.example"], recipients: ["b@example.com"]),
             expected: ["450 4.7.0 <h.example>: Helo command rejected: defer_if_permit requested"]),
        Flow(name: "defer_if_reject, reject", config: "smtpd_helo_restrictions = defer_if_reject, reject",
             script: SessionScript(helos: ["h.example"], recipients: ["b@example.com"]),
             expected: ["450 4.7.0 <h.example>: Helo command rejected: defer_if_reject requested"]),
        Flow(name: "warn_if_reject, reject only warns", config: "smtpd_helo_restrictions = warn_if_reject, reject",
             script: SessionScript(helos: ["h.example"], recipients: ["b@example.com"]), expected: [ok]),
        Flow(name: "warn_if_reject covers one restriction only",
             config: "smtpd_helo_restrictions = warn_if_reject, reject_non_fqdn_helo_hostname, reject",
             script: SessionScript(helos: ["foo"], recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <foo>: Helo command rejected: Access denied"]),
        Flow(name: "permit, reject: permit wins", config: "smtpd_helo_restrictions = permit, reject",
             script: SessionScript(helos: ["h.example"], recipients: ["b@example.com"]), expected: [ok]),
        Flow(name: "soft_bounce turns 5xx into 4xx", config: "soft_bounce = yes\n" + nonFQDN,
             script: SessionScript(helos: ["foo"], recipients: ["b@example.com"]),
             expected: ["404 4.5.2 <foo>: Helo command rejected: need fully-qualified hostname"]),
        Flow(name: "reply codes are configurable", config: "non_fqdn_reject_code = 550\n" + nonFQDN,
             script: SessionScript(helos: ["foo"], recipients: ["b@example.com"]),
             expected: ["550 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"]),
        Flow(name: "restriction class expands in place",
             config: "smtpd_restriction_classes = strict\nstrict = reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname\nsmtpd_helo_restrictions = strict",
             script: SessionScript(helos: ["foo"], recipients: ["b@example.com"]),
             expected: ["504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"]),
        Flow(name: "table result naming a class",
             config: "smtpd_restriction_classes = strict\nstrict = reject\nsmtpd_helo_restrictions = check_helo_access hash:@DIR@/t",
             files: ["t": "x.example strict\n"],
             script: SessionScript(helos: ["x.example"], recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <x.example>: Helo command rejected: Access denied"]),
        Flow(name: "per-recipient exception with check_recipient_access before the HELO checks",
             config: "smtpd_helo_restrictions = check_recipient_access hash:@DIR@/r, reject_non_fqdn_helo_hostname",
             files: ["r": "abuse@ OK\n"],
             script: SessionScript(helos: ["foo"], recipients: ["abuse@example.com", "b@example.com"]),
             expected: [ok, "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"]),
        Flow(name: "check_sender_access: null sender looked up as <>",
             config: "smtpd_helo_restrictions = check_sender_access inline:{ { <> = REJECT no bounces } }",
             script: SessionScript(helos: ["h.example"], sender: "<>", recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <>: Sender address rejected: no bounces"]),
        Flow(name: "check_sender_access: domain match",
             config: "smtpd_helo_restrictions = check_sender_access inline:{example.org=REJECT}",
             script: SessionScript(helos: ["h.example"], sender: "<a@sub.example.org>", recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <a@sub.example.org>: Sender address rejected: Access denied"]),
        Flow(name: "DISCARD accepts every recipient",
             config: "smtpd_helo_restrictions = check_helo_access hash:@DIR@/t, reject",
             files: ["t": "discard.example.net DISCARD\n"],
             script: SessionScript(helos: ["discard.example.net"], recipients: ["b@example.com", "c@elsewhere.example"]),
             expected: [ok, ok]),
        Flow(name: "unknown restriction in a table result is a server error",
             config: "smtpd_helo_restrictions = check_helo_access hash:@DIR@/t",
             files: ["t": "a.example REJECT_from_table\n"],
             script: SessionScript(helos: ["a.example"], recipients: ["b@example.com"]),
             expected: ["451 4.3.5 Server configuration error"]),
        Flow(name: "a table inside a table result is refused",
             config: "smtpd_helo_restrictions = check_helo_access hash:@DIR@/t",
             files: ["t": "a.example check_helo_access hash:/x\n"],
             script: SessionScript(helos: ["a.example"], recipients: ["b@example.com"]),
             expected: ["451 4.3.5 Server configuration error"]),
        Flow(name: "texthash with a duplicate key fails every HELO with 451",
             config: "smtpd_helo_restrictions = check_helo_access texthash:@DIR@/t",
             files: ["t": "a.example REJECT\na.example OK\n"],
             script: SessionScript(helos: ["z.example"], recipients: ["b@example.com"]),
             expected: ["451 4.3.5 <z.example>: Helo command rejected: Server configuration error"]),
        Flow(name: "inline value with spaces needs braces (pitfall kept)",
             config: "smtpd_helo_restrictions = check_helo_access inline:{inline.example=REJECT_from_inline}",
             script: SessionScript(helos: ["inline.example"], recipients: ["b@example.com"]),
             expected: ["451 4.3.5 Server configuration error"]),
        Flow(name: "inline braces form matches subdomains",
             config: "smtpd_helo_restrictions = check_helo_access inline:{ { spaced.example = REJECT spaced inline text } }",
             script: SessionScript(helos: ["sub.spaced.example"], recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <sub.spaced.example>: Helo command rejected: spaced inline text"]),
        Flow(name: "regexp substitution keeps the subject's case",
             config: "smtpd_helo_restrictions = check_helo_access regexp:@DIR@/re",
             files: ["re": "/^(.+)\\.dyn\\.example\\.com$/ REJECT dynamic host $1\n"],
             script: SessionScript(helos: ["HOST.DYN.EXAMPLE.COM"], recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <HOST.DYN.EXAMPLE.COM>: Helo command rejected: dynamic host HOST"]),
        Flow(name: "pcre case-sensitive flag",
             config: "smtpd_helo_restrictions = check_helo_access pcre:@DIR@/p",
             files: ["p": "/^CaSe\\.pcre$/i REJECT exact case\n"],
             script: SessionScript(helos: ["case.pcre", "CaSe.pcre"], recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <CaSe.pcre>: Helo command rejected: exact case"]),
        Flow(name: "cidr matches bare IP HELOs only",
             config: "smtpd_helo_restrictions = check_helo_access cidr:@DIR@/c",
             files: ["c": "1.2.3.0/24 REJECT net\n"],
             script: SessionScript(helos: ["[1.2.3.4]"], recipients: ["b@example.com"]), expected: [ok]),
        Flow(name: "a bare type:table is check_helo_access",
             config: "smtpd_helo_restrictions = cidr:@DIR@/c",
             files: ["c": "1.2.3.0/24 REJECT net\n"],
             script: SessionScript(helos: ["1.2.3.4"], recipients: ["b@example.com"]),
             expected: ["554 5.7.1 <1.2.3.4>: Helo command rejected: net"]),
        Flow(name: "HOLD accepts and asks for quarantine",
             config: "smtpd_helo_restrictions = check_helo_access inline:{ { hold.example.net = HOLD held by helo } }",
             script: SessionScript(helos: ["hold.example.net"], recipients: ["b@example.com"]), expected: [ok]),
    ]

    @Test(arguments: flows)
    func flow(_ flow: Flow) throws {
        let fixture = try PolicyFixture(flow.config, files: flow.files)
        #expect(fixture.replies(flow.script) == flow.expected)
    }

    /// §8.3 with delayed rejection off: the verdict is the reply to the HELO itself.
    @Test func delayOffAnswersTheHelo() throws {
        let fixture = try PolicyFixture(Self.nonFQDN + "\nsmtpd_delay_reject = no")
        let outcome = fixture.engine.play(SessionScript(helos: ["good.example.com", "bad"], recipients: ["c@elsewhere.example"]))
        #expect(outcome.helos.map { $0.refusal?.line } == [nil, "504 5.5.2 <bad>: Helo command rejected: need fully-qualified hostname"])
        #expect(outcome.recipients[0].decision.verdict == .accept)
    }

    /// §8.3: `OK` in the HELO table ends only the HELO list; Postfix's own relay check (which
    /// runs before the milter) still refuses off-site recipients, so heloguard accepts both.
    @Test func okInTheHeloTableAcceptsForTheHeloList() throws {
        let fixture = try PolicyFixture("smtpd_helo_restrictions = check_helo_access inline:{ok.example.net=OK}, reject")
        #expect(fixture.replies(SessionScript(helos: ["ok.example.net"], recipients: ["b@mx.example.test", "c@elsewhere.example"]))
                == [Self.ok, Self.ok])
        #expect(fixture.reply(helo: "other.example.net") == "554 5.7.1 <other.example.net>: Helo command rejected: Access denied")
    }

    @Test func warnIfRejectLogsAReject_warning() throws {
        let fixture = try PolicyFixture("smtpd_helo_restrictions = warn_if_reject, reject_non_fqdn_helo_hostname")
        let decision = fixture.engine.play(SessionScript(helos: ["localhost"], recipients: ["b@example.com"])).recipients[0].decision
        #expect(decision.verdict == .accept)
        #expect(decision.events == [PolicyLogEvent(.rejectWarning, "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname")])
    }

    @Test func actionsAreReportedAsValues() throws {
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = check_helo_access hash:@DIR@/t
            """, files: ["t": """
            hold.example.net HOLD held by helo
            discard.example.net DISCARD dropped by helo
            prepend.example.net PREPEND X-Helo-Check: suspicious
            redirect.example.net REDIRECT someone@example.org
            bcc.example.net BCC copy@example.org
            filter.example.net FILTER smtp:[127.0.0.1]:10025
            warn.example.net WARN suspicious helo
            """])
        func decision(_ helo: String) -> RecipientDecision {
            fixture.engine.play(SessionScript(helos: [helo], recipients: ["b@example.com"])).recipients[0].decision
        }
        #expect(decision("hold.example.net").actionName == "hold")
        #expect(decision("hold.example.net").events == [PolicyLogEvent(.hold, "<hold.example.net>: Helo command held by helo")])
        #expect(decision("discard.example.net").verdict == .discard)
        #expect(decision("discard.example.net").events == [PolicyLogEvent(.discard, "<discard.example.net>: Helo command dropped by helo")])
        #expect(decision("prepend.example.net").actions.prependHeaders == ["X-Helo-Check: suspicious"])
        #expect(decision("redirect.example.net").actions.redirect == "someone@example.org")
        #expect(decision("bcc.example.net").actions.bcc == ["copy@example.org"])
        #expect(decision("filter.example.net").events == [PolicyLogEvent(.filter, "<filter.example.net>: Helo command triggers FILTER smtp:[127.0.0.1]:10025")])
        #expect(decision("warn.example.net").events == [PolicyLogEvent(.warn, "suspicious helo")])
        #expect(decision("warn.example.net").verdict == .accept)
    }

    @Test func delayOffSkipsMessageActionsWithAWarning() throws {
        let fixture = try PolicyFixture("""
            smtpd_delay_reject = no
            smtpd_helo_restrictions = check_helo_access inline:{ { hold.example.net = HOLD x } }
            """)
        let outcome = fixture.engine.play(SessionScript(helos: ["hold.example.net"], recipients: ["b@example.com"]))
        #expect(outcome.helos[0].refusal == nil)
        #expect(outcome.recipients[0].decision.actionName == "accept")
    }

    @Test func deferIfPermitAtHeloWithDelayOffDefersEveryRecipient() throws {
        let fixture = try PolicyFixture("""
            smtpd_delay_reject = no
            smtpd_helo_restrictions = defer_if_permit
            """)
        #expect(fixture.replies(SessionScript(helos: ["h.example"], recipients: ["b@example.com", "c@example.com"]))
                == Array(repeating: "450 4.7.0 <h.example>: Helo command rejected: defer_if_permit requested", count: 2))
    }
}
