import Testing
import HeloPolicy
@testable import HeloState

/// Which key a client address is boxed under, and reading keys as administrators write them.
@Suite("PenaltyKey")
struct PenaltyKeyTests {
    struct Aggregation: Sendable, CustomTestStringConvertible {
        let label: String
        let address: String
        let prefix: Int
        let key: String
        var testDescription: String { label }
    }

    static let aggregations: [Aggregation] = [
        Aggregation(label: "IPv4 is its own /32", address: "192.0.2.1", prefix: 64, key: "192.0.2.1"),
        Aggregation(label: "IPv6 default /64", address: "2001:db8:1:2:aaaa:bbbb:cccc:dddd", prefix: 64,
                    key: "2001:db8:1:2::/64"),
        Aggregation(label: "IPv6 /48", address: "2001:db8:1:2::9", prefix: 48, key: "2001:db8:1::/48"),
        Aggregation(label: "IPv6 /56 cuts inside a byte group", address: "2001:db8:1:2ff::9", prefix: 56,
                    key: "2001:db8:1:200::/56"),
        Aggregation(label: "IPv6 /128 is one address", address: "2001:db8::9", prefix: 128, key: "2001:db8::9/128"),
        Aggregation(label: "IPv4-mapped IPv6 is IPv4", address: "::ffff:198.51.100.7", prefix: 64,
                    key: "198.51.100.7"),
        Aggregation(label: "a prefix below /32 is clamped to /32", address: "2001:db8:1:2::9", prefix: 8,
                    key: "2001:db8::/32"),
    ]

    @Test("client address to key", arguments: aggregations)
    func aggregation(_ testCase: Aggregation) throws {
        let key = PenaltyKey(address: address(testCase.address), ipv6PrefixLength: testCase.prefix)
        #expect(key.description == testCase.key)
        #expect(key.contains(address(testCase.address)))
        // The text form reads back as the same key.
        #expect(try PenaltyKey(parsing: key.description) == key)
    }

    @Test("two addresses of one /64 share a key; the next /64 does not")
    func sameNetwork() {
        let policy = PenaltyPolicy()
        let a = policy.key(for: address("2001:db8:1:2::1"))
        let b = policy.key(for: address("2001:db8:1:2:ffff::1"))
        let c = policy.key(for: address("2001:db8:1:3::1"))
        #expect(a == b)
        #expect(a != c)
        #expect(policy.key(for: address("::ffff:192.0.2.1")) == policy.key(for: address("192.0.2.1")))
    }

    struct Parsed: Sendable, CustomTestStringConvertible {
        let label: String
        let text: String
        let key: String
        var testDescription: String { label }
    }

    static let parsed: [Parsed] = [
        Parsed(label: "bare IPv4", text: "192.0.2.1", key: "192.0.2.1"),
        Parsed(label: "IPv4 /32", text: "192.0.2.1/32", key: "192.0.2.1"),
        Parsed(label: "spaces around", text: "  192.0.2.1\t", key: "192.0.2.1"),
        Parsed(label: "bare IPv6 takes the default /64", text: "2001:db8:1:2::77", key: "2001:db8:1:2::/64"),
        Parsed(label: "IPv6 network", text: "2001:db8:1::/48", key: "2001:db8:1::/48"),
        Parsed(label: "mapped IPv4", text: "::ffff:192.0.2.1", key: "192.0.2.1"),
    ]

    @Test("text to key", arguments: parsed)
    func parsing(_ testCase: Parsed) throws {
        #expect(try PenaltyKey(parsing: testCase.text).description == testCase.key)
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        let label: String
        let text: String
        let error: PenaltyKeyError
        let mentions: String
        var testDescription: String { label }
    }

    static let malformed: [Malformed] = [
        Malformed(label: "empty", text: " ", error: .empty, mentions: "empty"),
        Malformed(label: "a host name", text: "mail.example.com", error: .badAddress("mail.example.com"),
                  mentions: "not an IPv4 or IPv6 address"),
        Malformed(label: "IPv4 octet out of range", text: "192.0.2.256", error: .badAddress("192.0.2.256"),
                  mentions: "192.0.2.256"),
        Malformed(label: "brackets", text: "[2001:db8::1]", error: .badAddress("[2001:db8::1]"),
                  mentions: "[2001:db8::1]"),
        Malformed(label: "prefix not a number", text: "2001:db8::/x", error: .badPrefixLength("2001:db8::/x"),
                  mentions: "must be a number"),
        Malformed(label: "empty prefix", text: "192.0.2.1/", error: .badPrefixLength("192.0.2.1/"),
                  mentions: "must be a number"),
        Malformed(label: "IPv4 network", text: "192.0.2.0/24", error: .ipv4PrefixNot32("192.0.2.0/24"),
                  mentions: "/32"),
        Malformed(label: "IPv6 prefix too short", text: "2001:db8::/16",
                  error: .ipv6PrefixOutOfRange("2001:db8::/16"), mentions: "/32 to /128"),
        Malformed(label: "IPv6 prefix too long", text: "2001:db8::/129",
                  error: .ipv6PrefixOutOfRange("2001:db8::/129"), mentions: "/32 to /128"),
        Malformed(label: "host bits beyond the prefix", text: "2001:db8:1:2::1/64",
                  error: .hostBitsSet("2001:db8:1:2::1/64", suggestion: "2001:db8:1:2::/64"),
                  mentions: "did you mean 2001:db8:1:2::/64"),
    ]

    @Test("malformed text is refused with a clear error", arguments: malformed)
    func malformedText(_ testCase: Malformed) {
        #expect(throws: testCase.error) { try PenaltyKey(parsing: testCase.text) }
        #expect(testCase.error.description.contains(testCase.mentions))
    }
}
