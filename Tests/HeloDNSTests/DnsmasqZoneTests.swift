import Testing
import HeloPolicy
@testable import HeloDNS

/// Lookups against dnsmasq serving the test zone: every record type, the not-found kinds,
/// null MX, CNAMEs, the cache, and names libunbound would otherwise answer itself.
@Suite("UnboundResolver against dnsmasq")
struct DnsmasqZoneTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let type: DNSRecordType
        let expected: Expected
        var testDescription: String { "\(name) \(type.rawValue) → \(expected)" }

        init(_ name: String, _ type: DNSRecordType, _ expected: Expected) {
            self.name = name
            self.type = type
            self.expected = expected
        }
    }

    static let zoneCases: [Case] = [
        Case("good.example.test", .a, .records("192.0.2.1")),
        Case("good.example.test", .aaaa, .notFound),
        Case("good.example.test", .mx, .notFound),
        Case("GOOD.Example.TEST", .a, .records("192.0.2.1")),
        Case("v6only.example.test", .aaaa, .records("2001:db8::1")),
        Case("v6only.example.test", .a, .notFound),
        Case("mxonly.example.test", .mx, .records("mx2.example.test", "mx3.example.test", "mx1.example.test")),
        Case("mxonly.example.test", .a, .notFound),
        Case("mxonly.example.test", .aaaa, .notFound),
        Case("nullmx.example.test", .mx, .nullMX),
        Case("nullmx.example.test", .a, .notFound),
        Case("nodata.example.test", .a, .notFound),
        Case("nodata.example.test", .mx, .notFound),
        Case("nodata.example.test", .txt, .records("only text here")),
        Case("nxdomain.example.test", .a, .notFound),
        Case("nxdomain.example.test", .mx, .notFound),
        Case("cname.example.test", .a, .records("192.0.2.1")),
        Case("cname.example.test", .aaaa, .notFound),
        Case("chain.example.test", .a, .records("192.0.2.1")),
        Case("multi.example.test", .a, .records("192.0.2.13", "192.0.2.11", "192.0.2.12")),
        Case("multitxt.example.test", .txt, .records("part one")),
        Case("twotxt.example.test", .txt, .records("first record", "second record")),
        Case("nswalk.example.test", .ns, .records("ns1.nswalk.example.test", "ns2.nswalk.example.test")),
        Case("sub.nswalk.example.test", .ns, .notFound),
        Case("good.example.test", .ns, .notFound),
    ]

    @Test("each record type and each kind of 'not found'", arguments: zoneCases)
    func zoneAnswer(_ testCase: Case) throws {
        try withDnsmasq(TestZone.config) { server in
            let resolver = try makeResolver([server.address])
            defer { resolver.shutdown() }
            let answer = resolver.lookup(testCase.name, type: testCase.type)
            #expect(testCase.expected.matches(answer), "got \(answer)")
        }
    }

    /// Names in zones that libunbound answers itself unless told not to (RFC 6761 special
    /// names, private reverse zones). Each must reach the server and get the server's answer.
    static let builtInZoneCases: [Case] = [
        Case("localhost", .a, .notFound),
        Case("LOCALHOST", .aaaa, .notFound),
        Case("x.test", .a, .records("192.0.2.99")),
        Case("host.invalid", .a, .records("192.0.2.98")),
        Case("host.onion", .a, .records("192.0.2.97")),
        Case("host.home.arpa", .a, .records("192.0.2.96")),
        Case("4.3.2.10.in-addr.arpa", .a, .records("192.0.2.95")),
        Case("1.0.0.127.in-addr.arpa", .a, .records("192.0.2.94")),
        Case("9.2.0.192.in-addr.arpa", .txt, .records("test-net reverse")),
    ]

    @Test("names of libunbound's built-in zones are asked of the server", arguments: builtInZoneCases)
    func builtInZoneGoesToServer(_ testCase: Case) throws {
        try withDnsmasq(TestZone.config) { server in
            let resolver = try makeResolver([server.address])
            defer { resolver.shutdown() }
            let answer = resolver.lookup(testCase.name, type: testCase.type)
            #expect(testCase.expected.matches(answer), "got \(answer)")
            let logged = server.waitForQueries(testCase.name.lowercased(), type: testCase.type.rawValue)
            #expect(logged >= 1, "dnsmasq never saw the question: \(server.loggedQueries())")
        }
    }

    @Test("the same question twice within the TTL is asked once")
    func cacheAnswersRepeats() throws {
        try withDnsmasq(TestZone.config) { server in
            let resolver = try makeResolver([server.address])
            defer { resolver.shutdown() }
            #expect(resolver.lookup("cached.example.test", type: .a) == .records(["192.0.2.50"]))
            #expect(resolver.lookup("cached.example.test", type: .a) == .records(["192.0.2.50"]))
            #expect(resolver.lookup("Cached.Example.Test", type: .a) == .records(["192.0.2.50"]))
            #expect(server.waitForQueries("cached.example.test", type: "A") == 1)
            // Negative answers are cached too.
            #expect(resolver.lookup("gone.example.test", type: .mx) == .notFound)
            #expect(resolver.lookup("gone.example.test", type: .mx) == .notFound)
            #expect(server.waitForQueries("gone.example.test", type: "MX") == 1)
            #expect(resolver.statistics == .init(lookups: 5, timeouts: 0))
        }
    }

    @Test("a name outside dnsmasq's local domains is REFUSED: a permanent failure")
    func refusedByDnsmasq() throws {
        try withDnsmasq(TestZone.config) { server in
            let resolver = try makeResolver([server.address])
            defer { resolver.shutdown() }
            let answer = resolver.lookup("mail.example.com", type: .a)
            #expect(Expected.failed("REFUSED").matches(answer), "got \(answer)")
        }
    }
}
