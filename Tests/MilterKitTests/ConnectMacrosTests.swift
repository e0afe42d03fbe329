import MilterKit
import Testing

/// heloguard skips the connect event (`SMFIP_NOCONNECT`) and reads the client from the connect
/// macros: the client made from them must be the one the event would have carried for the same
/// MTA state (Postfix's `milter8_conn_event` sends `[address]` for its `unknown` name, and no
/// address for a client that is not on IPv4 or IPv6).
struct ConnectMacrosTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let macros: (name: String?, address: String?, port: String?)
        let client: MilterClient
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "verified name, IPv4", macros: ("mail.example.org", "192.0.2.1", "25"),
             client: MilterClient(hostname: "mail.example.org", address: "192.0.2.1", port: 25, family: .inet4)),
        Case(name: "Postfix's unknown name: [address], as the event says", macros: ("unknown", "192.0.2.1", "54321"),
             client: MilterClient(hostname: "[192.0.2.1]", address: "192.0.2.1", port: 54321, family: .inet4)),
        Case(name: "IPv6 in Postfix's and Sendmail's form IPv6:...", macros: ("unknown", "IPv6:2001:db8::1", "1025"),
             client: MilterClient(hostname: "[2001:db8::1]", address: "2001:db8::1", port: 1025, family: .inet6)),
        Case(name: "the IPv6: tag in any case; the address as the MTA wrote it", macros: ("h.example", "ipv6:2001:DB8::1", "1"),
             client: MilterClient(hostname: "h.example", address: "2001:DB8::1", port: 1, family: .inet6)),
        Case(name: "IPv6 without the tag", macros: ("h.example", "::1", "2"),
             client: MilterClient(hostname: "h.example", address: "::1", port: 2, family: .inet6)),
        Case(name: "Sendmail's unverified name: [address], kept", macros: ("[192.0.2.1]", "192.0.2.1", "25"),
             client: MilterClient(hostname: "[192.0.2.1]", address: "192.0.2.1", port: 25, family: .inet4)),
        Case(name: "unknown address: no address, no port, the name as sent", macros: ("unknown", "unknown", "0"),
             client: MilterClient(hostname: "unknown", address: "", port: 0, family: .unknown)),
        Case(name: "no macros at all", macros: (nil, nil, nil),
             client: MilterClient(hostname: "", address: "", port: 0, family: .unknown)),
        Case(name: "a port that is not one", macros: ("h.example", "192.0.2.1", "70000"),
             client: MilterClient(hostname: "h.example", address: "192.0.2.1", port: 0, family: .inet4)),
        Case(name: "a control byte where the tag's colon would be is no tag", macros: ("h.example", "IPv6\u{1A}::1", "25"),
             client: MilterClient(hostname: "h.example", address: "", port: 0, family: .unknown)),
        Case(name: "just the tag", macros: ("h.example", "IPv6:", "25"),
             client: MilterClient(hostname: "h.example", address: "", port: 0, family: .unknown)),
        Case(name: "not an address: nothing made of it", macros: ("h.example", "192.0.2.256", "25"),
             client: MilterClient(hostname: "h.example", address: "", port: 0, family: .unknown)),
    ]

    @Test(arguments: cases)
    func clientFromMacros(_ c: Case) {
        #expect(MilterClient(connectMacros: c.macros.name, address: c.macros.address, port: c.macros.port) == c.client)
    }
}
