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

    @Test func theMTAsOwnNamesCountToo() {
        let identity = ImpersonationIdentity()
        let facts = SessionFacts(serverAddresses: ["203.0.113.5"], serverHostnames: ["smtp.example.org"])
        #expect(ImpersonationCheck.claimsToBeUs("[203.0.113.5]", identity: identity, facts: facts))
        #expect(ImpersonationCheck.claimsToBeUs("SMTP.example.org", identity: identity, facts: facts))
        #expect(!ImpersonationCheck.claimsToBeUs("smtp2.example.org", identity: identity, facts: facts))
    }
}
