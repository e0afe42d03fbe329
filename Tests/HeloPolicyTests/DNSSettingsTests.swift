import Testing
@testable import HeloPolicy

/// heloguard's own DNS parameters as they reach the policy snapshot: `dns_servers`,
/// `dns_timeout`, `dns_rr_list_limit`; and `smtpd_expansion_filter` decoding.
struct DNSSettingsTests {
    struct ServersCase: Sendable, CustomTestStringConvertible {
        let value: String
        /// `address@port` per server; nil: the system's resolv.conf.
        let expected: [String]?
        var testDescription: String { value.isEmpty ? "(empty)" : value }
    }

    static let serverCases: [ServersCase] = [
        ServersCase(value: "", expected: nil),
        ServersCase(value: "127.0.0.1", expected: ["127.0.0.1@53"]),
        ServersCase(value: "127.0.0.1:5353", expected: ["127.0.0.1@5353"]),
        ServersCase(value: "::1", expected: ["::1@53"]),
        ServersCase(value: "2001:db8::53", expected: ["2001:db8::53@53"]),
        ServersCase(value: "[::1]", expected: ["::1@53"]),
        ServersCase(value: "[::1]:5353", expected: ["::1@5353"]),
        ServersCase(value: "[192.0.2.53]:5300", expected: ["192.0.2.53@5300"]),
        ServersCase(value: "192.0.2.1, 192.0.2.2\t[2001:db8:0::53]:54 ,::1", expected: ["192.0.2.1@53", "192.0.2.2@53", "2001:db8::53@54", "::1@53"]),
    ]

    @Test(arguments: serverCases)
    func dnsServers(_ c: ServersCase) throws {
        let fixture = try PolicyFixture("dns_servers = \(c.value)")
        #expect(fixture.engine.config.dns.servers?.map(\.description) == c.expected)
    }

    struct TimeoutCase: Sendable, CustomTestStringConvertible {
        let value: String?
        let milliseconds: Int
        var testDescription: String { value ?? "(default)" }
    }

    static let timeoutCases: [TimeoutCase] = [
        TimeoutCase(value: nil, milliseconds: 10_000),
        TimeoutCase(value: "3", milliseconds: 3_000),
        TimeoutCase(value: "3s", milliseconds: 3_000),
        TimeoutCase(value: "20s", milliseconds: 20_000),
    ]

    @Test(arguments: timeoutCases)
    func dnsTimeout(_ c: TimeoutCase) throws {
        let fixture = try PolicyFixture(c.value.map { "dns_timeout = \($0)" } ?? "")
        #expect(fixture.engine.config.dns.timeoutMilliseconds == c.milliseconds)
    }

    @Test func rrListLimit() throws {
        #expect(try PolicyFixture("").engine.config.dnsRRListLimit == 100)
        #expect(try PolicyFixture("dns_rr_list_limit = 7").engine.config.dnsRRListLimit == 7)
    }

    @Test func rblSettingsReachThePolicy() throws {
        let fixture = try PolicyFixture("""
            myhostname = mx.example.net
            default_rbl_reply = $rbl_code listed
            rbl_reply_maps = inline:{a.example=554 x}, static:{554 y}
            """)
        let config = fixture.engine.config
        #expect(config.myHostname == "mx.example.net")
        #expect(config.rbl.defaultTemplate == "$rbl_code listed")
        #expect(config.rbl.replyMaps.map(\.spec) == ["inline:{a.example=554 x}", "static:{554 y}"])
    }

    struct FilterCase: Sendable, CustomTestStringConvertible {
        let filter: String
        let input: String
        let output: String
        var testDescription: String { "\(filter) on \(input)" }
    }

    static let filterCases: [FilterCase] = [
        FilterCase(filter: KnownParameters.defaultExpansionFilter, input: "a b\tc\\d\"e", output: "a b\tc\\d\"e"),
        FilterCase(filter: KnownParameters.defaultExpansionFilter, input: "x\ny\u{7F}z", output: "x_y_z"),
        FilterCase(filter: KnownParameters.defaultExpansionFilter, input: "é", output: "__"),
        FilterCase(filter: #"abc\101\n"#, input: "abcA\nB", output: "abcA\n_"),
        FilterCase(filter: #"\\x"#, input: "\\x/", output: "\\x_"),
        FilterCase(filter: #"ab\0cd"#, input: "abcd", output: "ab__"),
    ]

    @Test(arguments: filterCases)
    func expansionFilter(_ c: FilterCase) {
        let filter = ExpansionFilter(postfixText: c.filter)
        #expect(String(decoding: filter.apply(c.input.utf8), as: UTF8.self) == c.output)
    }
}
