import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import HeloPolicy

/// An in-memory table for tests: fixed-string or pattern-like, optionally failing.
private struct FakeTable: AccessTable {
    let spec: String
    let matchesFixedStrings: Bool
    let entries: [String: String]
    var fails = false

    var resultTexts: [TableResultText] {
        fails ? [] : entries.values.map { TableResultText(text: $0, line: nil) }
    }

    func lookup(_ key: String) -> TableLookup {
        if fails { return .failed(reason: "broken") }
        return entries[key].map { .found(value: $0, line: nil) } ?? .notFound
    }
}

private func opener(_ spec: String, _ location: HeloPolicy.SourceLocation?) throws(ConfigError) -> any AccessTable {
    switch spec {
    case "hash:/etc/postfix/trusted":
        return FakeTable(spec: spec, matchesFixedStrings: true,
                         entries: ["example.com": "OK", "192.0.2.77": "x"])
    case "regexp:/etc/postfix/trusted":
        return FakeTable(spec: spec, matchesFixedStrings: false, entries: ["example.com": "OK"])
    case "hash:/etc/postfix/broken":
        return FakeTable(spec: spec, matchesFixedStrings: true, entries: [:], fails: true)
    default:
        throw ConfigError(location, "unsupported table \(spec)")
    }
}

struct MyNetworksTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let list: String
        var parent = true
        let clientName: String?
        let address: String
        let expected: NetworkMatch
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "IPv4 address", list: "192.0.2.1", clientName: nil, address: "192.0.2.1", expected: .matched),
        Case(name: "IPv4 address, other client", list: "192.0.2.1", clientName: nil, address: "192.0.2.2", expected: .notMatched),
        Case(name: "IPv4 network", list: "10.0.0.0/8, 192.0.2.0/24", clientName: nil, address: "192.0.2.200", expected: .matched),
        Case(name: "IPv4 network miss", list: "192.0.2.0/25", clientName: nil, address: "192.0.2.200", expected: .notMatched),
        Case(name: "bracketed IPv4", list: "[192.0.2.9]", clientName: nil, address: "192.0.2.9", expected: .matched),
        Case(name: "IPv6 loopback network", list: "127.0.0.0/8 [::1]/128", clientName: nil, address: "::1", expected: .matched),
        Case(name: "IPv6 address in brackets, other spelling", list: "[2001:DB8:0::5]", clientName: nil, address: "2001:db8::5", expected: .matched),
        Case(name: "IPv6 network", list: "[2001:db8::]/32", clientName: nil, address: "2001:db8:1::1", expected: .matched),
        Case(name: "IPv6 network, length inside brackets", list: "[2001:db8::/32]", clientName: nil, address: "2001:db8:1::1", expected: .matched),
        Case(name: "IPv6 client never matches IPv4 network", list: "0.0.0.0/0", clientName: nil, address: "2001:db8::1", expected: .notMatched),
        Case(name: "IPv4-mapped client matches IPv4 network", list: "192.0.2.0/24", clientName: nil, address: "::ffff:192.0.2.5", expected: .matched),
        Case(name: "exclusion first wins", list: "!192.0.2.5 192.0.2.0/24", clientName: nil, address: "192.0.2.5", expected: .notMatched),
        Case(name: "exclusion does not stop others", list: "!192.0.2.5 192.0.2.0/24", clientName: nil, address: "192.0.2.6", expected: .matched),
        Case(name: "double negation", list: "!!192.0.2.5", clientName: nil, address: "192.0.2.5", expected: .matched),
        Case(name: "exact host name, any case", list: "Mail.Example.COM", clientName: "mail.example.com", address: "198.51.100.1", expected: .matched),
        Case(name: "domain matches subdomains (parent style)", list: "example.com", clientName: "a.b.EXAMPLE.com", address: "198.51.100.1", expected: .matched),
        Case(name: "domain does not match a longer label", list: "example.com", clientName: "badexample.com", address: "198.51.100.1", expected: .notMatched),
        Case(name: "domain without parent style matches itself only", list: "example.com", parent: false, clientName: "a.example.com", address: "198.51.100.1", expected: .notMatched),
        Case(name: ".domain without parent style matches subdomains", list: ".example.com", parent: false, clientName: "a.example.com", address: "198.51.100.1", expected: .matched),
        Case(name: ".domain without parent style not the domain", list: ".example.com", parent: false, clientName: "example.com", address: "198.51.100.1", expected: .notMatched),
        Case(name: "no client name is 'unknown'", list: "unknown", clientName: nil, address: "198.51.100.1", expected: .matched),
        Case(name: "comma and space separated", list: " a.example,,b.example\t192.0.2.0/24 ", clientName: "b.example", address: "198.51.100.1", expected: .matched),
        Case(name: "hash table: parent of the client name", list: "hash:/etc/postfix/trusted", clientName: "x.example.com", address: "198.51.100.1", expected: .matched),
        Case(name: "hash table: client address", list: "hash:/etc/postfix/trusted", clientName: nil, address: "192.0.2.77", expected: .matched),
        Case(name: "regexp table: no parent lookups", list: "regexp:/etc/postfix/trusted", clientName: "x.example.com", address: "198.51.100.1", expected: .notMatched),
        Case(name: "negated table", list: "!hash:/etc/postfix/trusted 0.0.0.0/0", clientName: "example.com", address: "198.51.100.1", expected: .notMatched),
        Case(name: "table failure", list: "hash:/etc/postfix/broken", clientName: "x.example", address: "198.51.100.1",
             expected: .failed(reason: "mynetworks: hash:/etc/postfix/broken: table lookup problem")),
        Case(name: "host bits set fail at match time for the same family", list: "192.0.2.1/24", clientName: nil, address: "192.0.2.1",
             expected: .failed(reason: "mynetworks: non-null host address bits in \"192.0.2.1/24\", perhaps you should use \"192.0.2.0/24\" instead")),
        Case(name: "broken IPv4 network is skipped for IPv6 clients", list: "192.0.2.1/24 [::1]", clientName: nil, address: "::1", expected: .matched),
    ]

    @Test(arguments: cases)
    func matching(_ c: Case) {
        let (list, _) = NetworkList.parse(c.list, location: nil, parentMatchesSubdomains: c.parent, openTable: opener)
        #expect(list.matches(clientName: c.clientName, clientAddress: IPAddress(c.address)!) == c.expected)
    }

    struct ProblemCase: Sendable, CustomTestStringConvertible {
        let name: String
        let list: String
        let expected: [String]
        var testDescription: String { name }
    }

    static let problemCases: [ProblemCase] = [
        ProblemCase(name: "prefix too long", list: "127.0.0.0/8 1.2.3.4/33",
                    expected: ["main.cf:7: error: mynetworks: bad mask length in \"1.2.3.4/33\""]),
        ProblemCase(name: "host bits set", list: "[2001:db8::1]/32",
                    expected: ["main.cf:7: error: mynetworks: non-null host address bits in \"2001:db8::1/32\", perhaps you should use \"2001:db8::/32\" instead"]),
        ProblemCase(name: "bad mask value", list: "10.0.0.0/8a",
                    expected: ["main.cf:7: error: mynetworks: bad mask value in \"10.0.0.0/8a\""]),
        ProblemCase(name: "network Postfix never parses", list: "10.0.0.0/x8",
                    expected: ["main.cf:7: error: mynetworks: \"10.0.0.0/x8\" is not a valid address or network (Postfix accepts it, but it never matches)"]),
        ProblemCase(name: "unbracketed IPv6", list: "2001:db8::/32",
                    expected: ["main.cf:7: error: mynetworks: IPv6 address \"2001:db8::/32\" must be written in brackets, e.g. \"[2001:db8::]/32\""]),
        ProblemCase(name: "missing bracket", list: "[::1/128",
                    expected: ["main.cf:7: error: mynetworks: missing ']' character after \"[::1/128\""]),
        ProblemCase(name: "garbage after bracket", list: "[::1]:",
                    expected: ["main.cf:7: error: mynetworks: garbage after \"[::1]\""]),
        ProblemCase(name: "bracketed name", list: "[mail.example]",
                    expected: ["main.cf:7: error: mynetworks: \"[mail.example]\" is not a valid address or network (Postfix accepts it, but it never matches)"]),
        ProblemCase(name: "nothing after !", list: "192.0.2.1 !",
                    expected: ["main.cf:7: error: mynetworks: no pattern after '!'"]),
        ProblemCase(name: "unknown table type", list: "nosuch:/x",
                    expected: ["main.cf:7: error: unsupported table nosuch:/x"]),
        ProblemCase(name: "comment in the list", list: "192.0.2.1 #trusted 10.0.0.0/8",
                    expected: ["main.cf:7: warning: mynetworks: #comment after other text is not allowed: #trusted ... (the rest of the list is ignored)"]),
        ProblemCase(name: "bad dotted quad", list: "192.0.2.256",
                    expected: ["main.cf:7: warning: mynetworks: \"192.0.2.256\" is not a valid IPv4 address; it can only match a host of that name"]),
        ProblemCase(name: "missing file", list: "/nonexistent/heloguard/networks",
                    expected: ["main.cf:7: error: mynetworks: cannot open /nonexistent/heloguard/networks: No such file or directory"]),
        ProblemCase(name: "good list", list: "127.0.0.0/8 [::1]/128 [fe80::]/64 [192.0.2.1] example.com .example.net hash:/etc/postfix/trusted",
                    expected: []),
    ]

    @Test(arguments: problemCases)
    func problems(_ c: ProblemCase) {
        let (_, diagnostics) = NetworkList.parse(c.list, location: HeloPolicy.SourceLocation(file: "main.cf", line: 7),
                                                 parentMatchesSubdomains: true, openTable: opener)
        #expect(diagnostics.map(\.description) == c.expected)
    }

    @Test func commentIgnoresTheRest() {
        let (list, _) = NetworkList.parse("192.0.2.1 #x 10.0.0.0/8", location: nil, parentMatchesSubdomains: true, openTable: opener)
        #expect(list.matches(clientName: nil, clientAddress: IPAddress("10.1.1.1")!) == .notMatched)
        #expect(list.matches(clientName: nil, clientAddress: IPAddress("192.0.2.1")!) == .matched)
    }

    @Test func missingFileFailsAtRunTimeLikePostfix() {
        let (list, _) = NetworkList.parse("/nonexistent/heloguard/networks", location: nil, parentMatchesSubdomains: true, openTable: opener)
        guard case .failed = list.matches(clientName: nil, clientAddress: IPAddress("192.0.2.1")!) else {
            Issue.record("expected a failure")
            return
        }
    }

    @Test func fileContentsAreInlined() throws {
        let path = "/tmp/heloguard-mynetworks-\(getpid())"
        let stream = fopen(path, "w")!
        fputs("# trusted networks\n192.0.2.0/24,\n  [2001:db8::]/32\n!198.51.100.9\n198.51.100.0/24\n1.2.3.4/33\n", stream)
        fclose(stream)
        defer { unlink(path) }
        let (list, diagnostics) = NetworkList.parse("!/\(path.dropFirst()) 0.0.0.0/0", location: HeloPolicy.SourceLocation(file: "main.cf", line: 3),
                                                    parentMatchesSubdomains: true, openTable: opener)
        #expect(diagnostics.map(\.description) == ["\(path):6: error: mynetworks: bad mask length in \"1.2.3.4/33\""])
        // Every item from a !/file is negated; a negated negation matches again.
        #expect(list.matches(clientName: nil, clientAddress: IPAddress("192.0.2.3")!) == .notMatched)
        #expect(list.matches(clientName: nil, clientAddress: IPAddress("2001:db8::3")!) == .notMatched)
        #expect(list.matches(clientName: nil, clientAddress: IPAddress("198.51.100.9")!) == .matched)
        // The bad entry fails the lookup of any IPv4 client that reaches it, as in Postfix.
        #expect(list.matches(clientName: nil, clientAddress: IPAddress("203.0.113.1")!)
                == .failed(reason: "mynetworks: bad mask length in \"1.2.3.4/33\""))

        let (plain, _) = NetworkList.parse(path, location: nil, parentMatchesSubdomains: true, openTable: opener)
        #expect(plain.matches(clientName: nil, clientAddress: IPAddress("2001:db8:5::1")!) == .matched)
        #expect(plain.matches(clientName: nil, clientAddress: IPAddress("198.51.100.9")!) == .notMatched)
    }

    struct StyleCase: Sendable, CustomTestStringConvertible {
        let style: String
        let expected: String?
        var testDescription: String { style }
    }

    static let interfaces = [
        InterfaceAddress(address: IPAddress("127.0.0.1")!, netmask: IPAddress("255.0.0.0")!),
        InterfaceAddress(address: IPAddress("172.16.5.9")!, netmask: IPAddress("255.255.255.0")!),
        InterfaceAddress(address: IPAddress("::1")!, netmask: IPAddress("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")!),
        InterfaceAddress(address: IPAddress("fe80::1:2")!, netmask: IPAddress("ffff:ffff:ffff:ffff::")!),
        InterfaceAddress(address: IPAddress("127.0.0.2")!, netmask: IPAddress("255.0.0.0")!),
    ]

    static let styleCases: [StyleCase] = [
        StyleCase(style: "host", expected: "127.0.0.1/32 172.16.5.9/32 [::1]/128 [fe80::1:2]/128 127.0.0.2/32"),
        StyleCase(style: "subnet", expected: "127.0.0.0/8 172.16.5.0/24 [::1]/128 [fe80::]/64"),
        StyleCase(style: "class", expected: "127.0.0.0/8 172.16.0.0/16 [::1]/128 [fe80::]/64"),
        StyleCase(style: "nonsense", expected: nil),
    ]

    @Test(arguments: styleCases)
    func defaultFromStyle(_ c: StyleCase) {
        #expect(NetworkList.defaultValue(style: c.style, interfaces: Self.interfaces) == c.expected)
    }

    @Test func localInterfacesIncludeLoopback() {
        let addresses = NetworkList.localInterfaces().map(\.address.description)
        #expect(addresses.contains("127.0.0.1"))
    }

    @Test func defaultMynetworksIsParseable() {
        let p = KnownParameters.parameters(from: MainCf(), systemHostname: "mx.example.org")
        let (list, diagnostics) = NetworkList.parse(p.value("mynetworks"), location: nil, parentMatchesSubdomains: true, openTable: opener)
        #expect(diagnostics.isEmpty)
        #expect(list.matches(clientName: nil, clientAddress: IPAddress("127.0.0.1")!) == .matched)
    }
}
