import Testing
@testable import HeloPolicy

/// `reject_impersonating_helo`: a client that greets us with our own name, domain or address.
struct ImpersonationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let helo: String
        let impersonates: Bool
        var testDescription: String { "\(helo) → \(impersonates ? "impersonation" : "fine")" }
    }

    static let config = """
        myhostname = mx.example.com
        mydomain = example.com
        impersonation_domains = $mydomain, .example.net
        impersonation_addresses = 192.0.2.25 [2001:db8::25]
        smtpd_helo_restrictions = permit_sasl_authenticated, reject_impersonating_helo
        """

    static let cases: [Case] = [
        Case(helo: "mx.example.com", impersonates: true),
        Case(helo: "MX.Example.COM", impersonates: true),
        Case(helo: "mx.example.com.", impersonates: true),
        Case(helo: "example.com", impersonates: true),
        Case(helo: "EXAMPLE.COM.", impersonates: true),
        Case(helo: "other.example.com", impersonates: false),
        Case(helo: "example.net", impersonates: true),
        Case(helo: "deep.sub.example.net", impersonates: true),
        Case(helo: "notexample.net", impersonates: false),
        Case(helo: "192.0.2.25", impersonates: true),
        Case(helo: "[192.0.2.25]", impersonates: true),
        Case(helo: "192.0.2.26", impersonates: false),
        Case(helo: "[IPv6:2001:db8::25]", impersonates: true),
        Case(helo: "[IPv6:2001:DB8:0:0:0:0:0:25]", impersonates: true),
        Case(helo: "2001:db8::25", impersonates: true),
        Case(helo: "[IPv6:::ffff:192.0.2.25]", impersonates: true),
        Case(helo: "[IPv6:2001:db8::26]", impersonates: false),
        Case(helo: "mx.example.com.evil.test", impersonates: false),
    ]

    static let fixture = Result { try PolicyFixture(config) }

    @Test(arguments: cases)
    func impersonation(_ c: Case) throws {
        let reply = try Self.fixture.get().reply(helo: c.helo)
        let expected = c.impersonates
            ? "550 5.7.1 <\(c.helo)>: Helo command rejected: Host impersonates this server" : "250 2.1.5 Ok"
        #expect(reply == expected)
    }

    @Test func authenticatedClientsAreNotHit() throws {
        #expect(try Self.fixture.get().reply(helo: "mx.example.com", sasl: "alice") == "250 2.1.5 Ok")
    }

    @Test func codeAndTextAreConfigurable() throws {
        let fixture = try PolicyFixture(Self.config + "\nimpersonation_reject_code = 554\nimpersonation_reply_text = You are not me")
        #expect(fixture.reply(helo: "mx.example.com") == "554 5.7.1 <mx.example.com>: Helo command rejected: You are not me")
    }

    @Test func defaultAddressesAreTheInterfacesWithoutLoopback() throws {
        let interfaces = [InterfaceAddress(address: IPAddress("127.0.0.1")!, netmask: nil),
                          InterfaceAddress(address: IPAddress("198.51.100.7")!, netmask: nil)]
        let fixture = try PolicyFixture("smtpd_helo_restrictions = reject_impersonating_helo", interfaces: interfaces)
        #expect(fixture.reply(helo: "[198.51.100.7]") == "550 5.7.1 <[198.51.100.7]>: Helo command rejected: Host impersonates this server")
        #expect(fixture.reply(helo: "[127.0.0.1]") == "250 2.1.5 Ok")
    }

    // MARK: impersonation_check_dns

    static let dnsZone: ScriptedResolver.Zone = [
        "alias.evil.test": [.a: .records(["192.0.2.25"]), .aaaa: .records(["2001:db8::99"])],
        "v6alias.evil.test": [.aaaa: .records(["2001:db8:0:0:0:0:0:25"])],
        "mapped.evil.test": [.aaaa: .records(["::ffff:192.0.2.25"])],
        "other.evil.test": [.a: .records(["198.51.100.1"]), .aaaa: .records(["2001:db8::1"])],
        "mta.evil.test": [.a: .records(["203.0.113.5"])],
        "tempfail.evil.test": ScriptedResolver.every(.temporaryFailure("SERVFAIL")),
        "failed.evil.test": ScriptedResolver.every(.failed("REFUSED")),
        "garbled.evil.test": ScriptedResolver.every(.malformed("bad packet")),
        "halfbad.evil.test": [.a: .temporaryFailure("SERVFAIL"), .aaaa: .records(["2001:db8::25"])],
        "mx.example.com": [.a: .records(["192.0.2.25"])],
    ]

    struct DNSCase: Sendable, CustomTestStringConvertible {
        let helo: String
        let checkDNS: Bool
        let impersonates: Bool
        /// The DNS questions in order (`TYPE name`).
        let asked: [String]
        var warnings: [String] = []
        var testDescription: String { "\(helo), impersonation_check_dns = \(checkDNS ? "yes" : "no")" }
    }

    static let dnsCases: [DNSCase] = [
        DNSCase(helo: "alias.evil.test", checkDNS: true, impersonates: true, asked: ["A alias.evil.test"]),
        DNSCase(helo: "alias.evil.test", checkDNS: false, impersonates: false, asked: []),
        DNSCase(helo: "ALIAS.evil.test.", checkDNS: true, impersonates: true, asked: ["A ALIAS.evil.test"]),
        DNSCase(helo: "v6alias.evil.test", checkDNS: true, impersonates: true, asked: ["A v6alias.evil.test", "AAAA v6alias.evil.test"]),
        DNSCase(helo: "mapped.evil.test", checkDNS: true, impersonates: true, asked: ["A mapped.evil.test", "AAAA mapped.evil.test"]),
        DNSCase(helo: "other.evil.test", checkDNS: true, impersonates: false, asked: ["A other.evil.test", "AAAA other.evil.test"]),
        DNSCase(helo: "nx.evil.test", checkDNS: true, impersonates: false, asked: ["A nx.evil.test", "AAAA nx.evil.test"]),
        DNSCase(helo: "tempfail.evil.test", checkDNS: true, impersonates: false,
                asked: ["A tempfail.evil.test", "AAAA tempfail.evil.test"],
                warnings: ["reject_impersonating_helo: cannot look up A records of tempfail.evil.test (temporary failure (SERVFAIL)); not counted as impersonation",
                           "reject_impersonating_helo: cannot look up AAAA records of tempfail.evil.test (temporary failure (SERVFAIL)); not counted as impersonation"]),
        DNSCase(helo: "failed.evil.test", checkDNS: true, impersonates: false,
                asked: ["A failed.evil.test", "AAAA failed.evil.test"],
                warnings: ["reject_impersonating_helo: cannot look up A records of failed.evil.test (failed (REFUSED)); not counted as impersonation",
                           "reject_impersonating_helo: cannot look up AAAA records of failed.evil.test (failed (REFUSED)); not counted as impersonation"]),
        DNSCase(helo: "garbled.evil.test", checkDNS: true, impersonates: false,
                asked: ["A garbled.evil.test", "AAAA garbled.evil.test"],
                warnings: ["reject_impersonating_helo: cannot look up A records of garbled.evil.test (malformed reply (bad packet)); not counted as impersonation",
                           "reject_impersonating_helo: cannot look up AAAA records of garbled.evil.test (malformed reply (bad packet)); not counted as impersonation"]),
        DNSCase(helo: "halfbad.evil.test", checkDNS: true, impersonates: true,
                asked: ["A halfbad.evil.test", "AAAA halfbad.evil.test"],
                warnings: ["reject_impersonating_helo: cannot look up A records of halfbad.evil.test (temporary failure (SERVFAIL)); not counted as impersonation"]),
        // Name checks come first: no query when the name already matches.
        DNSCase(helo: "mx.example.com", checkDNS: true, impersonates: true, asked: []),
        // Literals and bare addresses are compared as addresses, never asked.
        DNSCase(helo: "[198.51.100.1]", checkDNS: true, impersonates: false, asked: []),
        DNSCase(helo: "[192.0.2.25]", checkDNS: true, impersonates: true, asked: []),
        DNSCase(helo: "198.51.100.1", checkDNS: true, impersonates: false, asked: []),
        DNSCase(helo: "2001:db8::1", checkDNS: true, impersonates: false, asked: []),
        // Not a valid host name: not asked.
        DNSCase(helo: "bad_name..evil.test", checkDNS: true, impersonates: false, asked: []),
        DNSCase(helo: "[alias.evil.test]", checkDNS: true, impersonates: false, asked: []),
    ]

    @Test(arguments: dnsCases)
    func impersonationThroughDNS(_ c: DNSCase) throws {
        let resolver = ScriptedResolver(Self.dnsZone)
        let fixture = try PolicyFixture(Self.config + "\nimpersonation_check_dns = \(c.checkDNS ? "yes" : "no")", resolver: resolver)
        let decision = fixture.decision(helo: c.helo)
        let stored = HeloName.stored(c.helo)
        let expected = c.impersonates ? "550 5.7.1 <\(stored)>: Helo command rejected: Host impersonates this server" : "250 2.1.5 Ok"
        #expect((decision.verdict.reply?.line ?? "250 2.1.5 Ok") == expected)
        #expect(resolver.questionTexts == c.asked)
        #expect(decision.events.filter { $0.kind == .warning }.map(\.text) == c.warnings)
    }

    @Test func theMTAsOwnAddressesCountForDNSToo() throws {
        let resolver = ScriptedResolver(Self.dnsZone)
        let fixture = try PolicyFixture("impersonation_check_dns = yes\nimpersonation_addresses = 192.0.2.25\nsmtpd_helo_restrictions = reject_impersonating_helo",
                                        resolver: resolver)
        let facts = SessionFacts(heloArgument: "mta.evil.test", sender: "a@example.org", serverAddresses: ["203.0.113.5"])
        #expect(fixture.engine.decide(recipient: "b@example.com", facts: facts).verdict.reply?.line
                == "550 5.7.1 <mta.evil.test>: Helo command rejected: Host impersonates this server")
        #expect(fixture.engine.decide(recipient: "b@example.com", facts: SessionFacts(heloArgument: "mta.evil.test")).verdict == .accept)
    }

    @Test func checkDNSIsOffByDefault() throws {
        #expect(try Self.fixture.get().engine.config.impersonation.checkDNS == false)
        #expect(try PolicyFixture("impersonation_check_dns = yes").engine.config.impersonation.checkDNS)
    }

    static let comparedNames = ["mx.example.com", "MX.Example.COM", "mx.example.com.", "MX.EXAMPLE.COM.", "mx.example.co",
                                "x", "X.", ".", "..", "a..", "Ünïcode.example", "ünïcode.example.", "ÜNÏCODE.EXAMPLE",
                                "mx\r\n.", "mx\r\n", "[mx]", "mx.example.com\u{0}", ""]

    @Test("the copy-free comparison agrees with lower-casing and dropping one dot", arguments: comparedNames)
    func copyFreeComparison(_ entry: String) {
        for other in Self.comparedNames {
            let name = ImpersonationCheck.normalisedName(other)
            #expect(ImpersonationCheck.normalises(entry, to: name) == (ImpersonationCheck.normalisedName(entry) == name),
                    "\(entry.debugDescription) against \(name.debugDescription)")
        }
    }

    @Test func theMTAsOwnNamesCountToo() {
        let identity = ImpersonationIdentity()
        let facts = SessionFacts(serverAddresses: ["203.0.113.5"], serverHostnames: ["smtp.example.org"])
        #expect(ImpersonationCheck.claimsToBeUs("[203.0.113.5]", identity: identity, facts: facts))
        #expect(ImpersonationCheck.claimsToBeUs("SMTP.example.org", identity: identity, facts: facts))
        #expect(!ImpersonationCheck.claimsToBeUs("smtp2.example.org", identity: identity, facts: facts))
    }
}
