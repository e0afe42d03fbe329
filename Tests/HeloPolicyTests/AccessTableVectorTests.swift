import Testing
@testable import HeloPolicy

/// §8.2: `check_helo_access hash:` lookups, in both parent-domain styles, through a
/// configuration file and the engine.
struct AccessTableVectorTests {
    static let table = """
        host.sub.example.net  REJECT k=full
        sub.example.net       REJECT k=parent-sub
        example.net           REJECT k=parent
        .example.org          REJECT k=dot-org
        example.org           REJECT k=org-nodot
        com                   REJECT k=tld-com
        1.2.3.4               REJECT k=ip
        1.2.3                 REJECT k=ipnet
        ::1                   REJECT k=ip6
        [5.6.7.8]             REJECT k=literal
        6.7.8]                REJECT k=weird-literal-parent
        [IPv6:::2]            REJECT k=literal6
        MiXeD.example.info    REJECT k=mixedcase
        dunno.example.net     DUNNO
        ok.example.net        OK
        relay.example.net     RELAY
        numeric.example.net   12345
        4xx.example.net       450 4.7.1 custom defer text
        5xx.example.net       551 5.1.1 custom five
        plain.example.net     550 plain text no dsn
        mismatch.example.net  550 4.7.1 mismatched dsn class
        two.example.net       299 not a reject
        defer.example.net     DEFER please wait
        deferplain.example.net DEFER
        reject.example.net    REJECT
        dsn.example.net       REJECT 5.7.9 with dsn
        dsn4.example.net      REJECT 4.7.9 4dsn in reject
        addr.example.net      REJECT 5.1.1 x
        bye.example.net       421 4.7.0 go away
        restr.example.net     reject_non_fqdn_helo_hostname, reject
        dip.example.net       DEFER_IF_PERMIT maybe later
        dir.example.net       DEFER_IF_REJECT hmm
        bare550.example       550
        """

    struct Case: Sendable, CustomTestStringConvertible {
        let helo: String
        let expected: String
        var testDescription: String { helo }
    }

    static func rejected(_ helo: String, _ key: String) -> String {
        "554 5.7.1 <\(helo)>: Helo command rejected: k=\(key)"
    }

    static let pass = "250 2.1.5 Ok"

    static let defaultStyle: [Case] = [
        Case(helo: "host.sub.example.net", expected: rejected("host.sub.example.net", "full")),
        Case(helo: "x.host.sub.example.net", expected: rejected("x.host.sub.example.net", "full")),
        Case(helo: "other.sub.example.net", expected: rejected("other.sub.example.net", "parent-sub")),
        Case(helo: "example.net", expected: rejected("example.net", "parent")),
        Case(helo: "y.example.net", expected: rejected("y.example.net", "parent")),
        Case(helo: "a.example.org", expected: rejected("a.example.org", "org-nodot")),
        Case(helo: "example.org", expected: rejected("example.org", "org-nodot")),
        Case(helo: "foo.com", expected: rejected("foo.com", "tld-com")),
        Case(helo: "com", expected: rejected("com", "tld-com")),
        Case(helo: "1.2.3.4", expected: rejected("1.2.3.4", "ip")),
        Case(helo: "1.2.3.5", expected: pass),
        Case(helo: "1.2.3.4.", expected: pass),
        Case(helo: "[1.2.3.4]", expected: pass),
        Case(helo: "[5.6.7.8]", expected: rejected("[5.6.7.8]", "literal")),
        Case(helo: "[9.6.7.8]", expected: rejected("[9.6.7.8]", "weird-literal-parent")),
        Case(helo: "::1", expected: rejected("::1", "ip6")),
        Case(helo: "[IPv6:::2]", expected: rejected("[IPv6:::2]", "literal6")),
        Case(helo: "[IPv6:::1]", expected: pass),
        Case(helo: "MIXED.EXAMPLE.INFO", expected: rejected("MIXED.EXAMPLE.INFO", "mixedcase")),
        Case(helo: "dunno.example.net", expected: pass),
        Case(helo: "sub.dunno.example.net", expected: pass),
        Case(helo: "ok.example.net", expected: pass),
        Case(helo: "relay.example.net", expected: pass),
        Case(helo: "numeric.example.net", expected: pass),
        Case(helo: "host.sub.example.net.", expected: pass),
        Case(helo: "example.net.", expected: pass),
        // Action vectors.
        Case(helo: "4xx.example.net", expected: "450 4.7.1 <4xx.example.net>: Helo command rejected: custom defer text"),
        Case(helo: "5xx.example.net", expected: "551 5.0.0 <5xx.example.net>: Helo command rejected: custom five"),
        Case(helo: "plain.example.net", expected: "550 5.7.1 <plain.example.net>: Helo command rejected: plain text no dsn"),
        Case(helo: "mismatch.example.net", expected: "550 5.7.1 <mismatch.example.net>: Helo command rejected: mismatched dsn class"),
        Case(helo: "two.example.net", expected: "451 4.3.5 Server configuration error"),
        Case(helo: "defer.example.net", expected: "450 4.7.1 <defer.example.net>: Helo command rejected: please wait"),
        Case(helo: "deferplain.example.net", expected: "450 4.7.1 <deferplain.example.net>: Helo command rejected: Access denied"),
        Case(helo: "reject.example.net", expected: "554 5.7.1 <reject.example.net>: Helo command rejected: Access denied"),
        Case(helo: "dsn.example.net", expected: "554 5.7.9 <dsn.example.net>: Helo command rejected: with dsn"),
        Case(helo: "dsn4.example.net", expected: "554 5.7.9 <dsn4.example.net>: Helo command rejected: 4dsn in reject"),
        Case(helo: "addr.example.net", expected: "554 5.0.0 <addr.example.net>: Helo command rejected: x"),
        Case(helo: "bye.example.net", expected: "421 4.7.0 <bye.example.net>: Helo command rejected: go away"),
        Case(helo: "restr.example.net", expected: "554 5.7.1 <restr.example.net>: Helo command rejected: Access denied"),
        Case(helo: "dip.example.net", expected: "450 4.7.1 <dip.example.net>: Helo command rejected: maybe later"),
        Case(helo: "dir.example.net", expected: pass),
        Case(helo: "bare550.example", expected: pass),
    ]

    static let dotStyle: [Case] = [
        Case(helo: "host.sub.example.net", expected: rejected("host.sub.example.net", "full")),
        Case(helo: "x.host.sub.example.net", expected: pass),
        Case(helo: "other.sub.example.net", expected: pass),
        Case(helo: "y.example.net", expected: pass),
        Case(helo: "a.example.org", expected: rejected("a.example.org", "dot-org")),
        Case(helo: "b.a.example.org", expected: rejected("b.a.example.org", "dot-org")),
        Case(helo: "example.org", expected: rejected("example.org", "org-nodot")),
        Case(helo: "foo.com", expected: pass),
        Case(helo: "[9.6.7.8]", expected: pass),
        Case(helo: "sub.dunno.example.net", expected: pass),
    ]

    static let defaultFixture = Result { try PolicyFixture("""
        smtpd_helo_restrictions = check_helo_access hash:@DIR@/helo_access
        """, files: ["helo_access": table]) }

    static let dotFixture = Result { try PolicyFixture("""
        smtpd_helo_restrictions = check_helo_access hash:@DIR@/helo_access
        parent_domain_matches_subdomains = mynetworks
        """, files: ["helo_access": table]) }

    @Test("default parent style", arguments: defaultStyle)
    func defaultParentStyle(_ c: Case) throws {
        #expect(try Self.defaultFixture.get().reply(helo: c.helo) == c.expected)
    }

    @Test("smtpd_access_maps removed from parent_domain_matches_subdomains", arguments: dotStyle)
    func dotParentStyle(_ c: Case) throws {
        #expect(try Self.dotFixture.get().reply(helo: c.helo) == c.expected)
    }

    @Test func deferIfRejectTurnsALaterRejectIntoItsDeferral() throws {
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = check_helo_access hash:@DIR@/helo_access, reject
            """, files: ["helo_access": Self.table])
        #expect(fixture.reply(helo: "dir.example.net") == "450 4.7.1 <dir.example.net>: Helo command rejected: hmm")
    }

    @Test func addressStatusInTableTextIsMappedAndLogged() throws {
        let decision = try Self.defaultFixture.get().engine.play(
            SessionScript(helos: ["5xx.example.net"], recipients: ["b@example.com"])).recipients[0].decision
        #expect(decision.events.contains(PolicyLogEvent(.note, "mapping DSN status 5.1.1 into Helo command status 5.0.0")))
    }
}
