import Foundation
import Testing
@testable import HeloPolicy

/// Postfix's values as a reader gives them, without running postconf (the real one is tested
/// in HeloGuardTests); records which directory and names were asked.
final class FixedPostfix: PostfixConfigurationReader, @unchecked Sendable {
    let values: [String: String]
    let failure: String?
    private let lock = NSLock()
    private var asked: [String] = []

    init(_ values: [String: String], failure: String? = nil) {
        self.values = values
        self.failure = failure
    }

    func values(of names: [String], configDirectory: String) throws(PostfixReadError) -> [String: String] {
        lock.withLock { asked.append(configDirectory) }
        if let failure { throw PostfixReadError(failure) }
        return values.filter { names.contains($0.key) }
    }

    var directories: [String] { lock.withLock { asked } }
}

/// Who "we" are: heloguard's own parameters, Postfix's (impersonation_postfix_config) and DNS
/// at load (impersonation_check_dns), each entry with its source.
struct IdentitySourcesTests {
    static let base = """
        impersonation_hostnames =
        impersonation_domains =
        impersonation_addresses = 203.0.113.250
        impersonation_postfix_config = /etc/postfix-test
        smtpd_helo_restrictions = reject_impersonating_helo

        """

    static let interfaces = [
        InterfaceAddress(address: IPAddress("192.0.2.7")!, netmask: IPAddress("255.255.255.0")),
        InterfaceAddress(address: IPAddress("127.0.0.1")!, netmask: IPAddress("255.0.0.0")),
        InterfaceAddress(address: IPAddress("2001:db8::7")!, netmask: nil),
    ]

    static func load(_ postfix: FixedPostfix, extra: String = "", resolver: (any HeloResolver)? = nil,
                     budget: Int = 30_000) throws -> LoadedConfiguration {
        var environment = LoadEnvironment(interfaces: interfaces, postfix: postfix, identityDNSBudgetMilliseconds: budget)
        if let resolver {
            environment.makeIdentityResolver = { @Sendable _ in resolver }
        }
        return try ConfigurationLoader.load(text: base + extra, file: "heloguard.conf", environment: environment)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let values: [String: String]
        let expected: [String]
        var testDescription: String { values.map { "\($0.key) = \($0.value)" }.sorted().joined(separator: "; ") }
    }

    static let cases: [Case] = [
        Case(values: ["myhostname": "mx.example.com"], expected: ["hostname mx.example.com (postfix myhostname)"]),
        Case(values: ["mydomain": "example.com"], expected: ["domain example.com (postfix mydomain)"]),
        Case(values: ["mydestination": "mx.example.com, mail.example.com, localhost.localdomain, , localhost"],
             expected: ["domain mx.example.com (postfix mydestination)", "domain mail.example.com (postfix mydestination)"]),
        Case(values: ["virtual_alias_domains": "alias.example.net .sub.example.net"],
             expected: ["domain alias.example.net (postfix virtual_alias_domains)",
                        "domain .sub.example.net (postfix virtual_alias_domains)"]),
        Case(values: ["virtual_mailbox_domains": "inline:{ box.example.org=x, Box2.Example.ORG=y }"],
             expected: ["domain box.example.org (postfix virtual_mailbox_domains inline:{ box.example.org=x, Box2.Example.ORG=y })",
                        "domain box2.example.org (postfix virtual_mailbox_domains inline:{ box.example.org=x, Box2.Example.ORG=y })"]),
        Case(values: ["relay_domains": "relay.example.info"], expected: ["domain relay.example.info (postfix relay_domains)"]),
        Case(values: ["inet_interfaces": "192.0.2.25, 127.0.0.1, 0.0.0.0, [2001:db8::25], ::1"],
             expected: ["address 192.0.2.25 (postfix inet_interfaces)", "address 2001:db8::25 (postfix inet_interfaces)"]),
        Case(values: ["inet_interfaces": "all"],
             expected: ["address 192.0.2.7 (postfix inet_interfaces = all (interface of this machine))",
                        "address 2001:db8::7 (postfix inet_interfaces = all (interface of this machine))"]),
        Case(values: ["inet_interfaces": "all", "inet_protocols": "ipv4"],
             expected: ["address 192.0.2.7 (postfix inet_interfaces = all (interface of this machine))"]),
        Case(values: ["inet_interfaces": "loopback-only"], expected: []),
        Case(values: ["inet_interfaces": "mail.example.com"], expected: ["hostname mail.example.com (postfix inet_interfaces)"]),
        Case(values: ["proxy_interfaces": "198.51.100.9"], expected: ["address 198.51.100.9 (postfix proxy_interfaces)"]),
        Case(values: ["mynetworks": "10.0.0.0/8 198.51.100.0/24"], expected: []),
    ]

    @Test("each Postfix parameter contributes its names or addresses", arguments: cases)
    func eachParameter(_ testCase: Case) throws {
        let postfix = FixedPostfix(testCase.values)
        let loaded = try Self.load(postfix)
        let fromPostfix = loaded.identity.filter { $0.source.hasPrefix("postfix ") }.map(\.description)
        #expect(fromPostfix == testCase.expected)
        #expect(postfix.directories == ["/etc/postfix-test"])
        // heloguard's own entry is kept, and the rule compares what the entries say.
        #expect(loaded.identity.first == IdentityEntry(.address, "203.0.113.250", source: "impersonation_addresses"))
        for entry in loaded.identity where entry.kind != .address {
            #expect(ImpersonationCheck.claimsToBeUs(entry.value, identity: loaded.policy.impersonation))
        }
        for entry in loaded.identity where entry.kind == .address {
            #expect(ImpersonationCheck.claimsToBeUs("[\(entry.value)]", identity: loaded.policy.impersonation))
        }
    }

    @Test("a hash: domain list is read from its postmap source, with lines; a /file list item is read")
    func tableAndFileLists() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("identity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "box1.example.org  OK\n# a comment\nBOX2.example.org\tanything\n".write(
            to: directory.appendingPathComponent("vdomains"), atomically: true, encoding: .utf8)
        try "listed.example.org # ours\nlisted2.example.org\n".write(
            to: directory.appendingPathComponent("relay-list"), atomically: true, encoding: .utf8)
        let vdomains = directory.appendingPathComponent("vdomains").path
        let list = directory.appendingPathComponent("relay-list").path
        let loaded = try Self.load(FixedPostfix([
            "virtual_mailbox_domains": "hash:\(vdomains)",
            "relay_domains": "\(list), proxy:hash:\(vdomains).db",
        ]))
        #expect(loaded.identity.filter { $0.source.hasPrefix("postfix ") }.map(\.description) == [
            "domain box1.example.org (postfix virtual_mailbox_domains hash:\(vdomains) line 1)",
            "domain box2.example.org (postfix virtual_mailbox_domains hash:\(vdomains) line 3)",
            "domain listed.example.org (postfix relay_domains \(list))",
            "domain listed2.example.org (postfix relay_domains \(list))",
        ])
        #expect(loaded.diagnostics.isEmpty)
    }

    @Test("a table whose keys cannot be listed, or cannot be read, is a warning naming the parameter", arguments: [
        ("relay_domains", "regexp:/etc/postfix/relay.re", "relay_domains: cannot open regexp:/etc/postfix/relay.re"),
        ("virtual_alias_domains", "ldap:/etc/postfix/ldap-domains.cf", "virtual_alias_domains: unsupported lookup table type \"ldap\""),
        ("mydestination", "static:example.com", "mydestination: the keys of static:example.com cannot be listed"),
        ("mydestination", "!bad.example.com", "mydestination: negated item \"!bad.example.com\" ignored"),
    ])
    func unreadableTables(_ parameter: String, _ value: String, _ message: String) throws {
        let loaded = try Self.load(FixedPostfix([parameter: value, "myhostname": "mx.example.com"]))
        let warnings = loaded.diagnostics.filter { $0.severity == .warning }
        #expect(warnings.count == 1)
        #expect(warnings.first?.message.hasPrefix("impersonation_postfix_config: " + message) == true,
                "\(warnings.map(\.message))")
        #expect(warnings.first?.location == SourceLocation(file: "heloguard.conf", line: 4))
        // The rest is kept.
        #expect(loaded.identity.map(\.description).contains("hostname mx.example.com (postfix myhostname)"))
    }

    @Test("Postfix's configuration that cannot be read is a warning; heloguard's own identity stays")
    func unreadablePostfix() throws {
        let loaded = try Self.load(FixedPostfix([:], failure: "postconf: fatal: open /etc/postfix-test/main.cf: No such file or directory"))
        #expect(loaded.identity.map(\.description) == ["address 203.0.113.250 (impersonation_addresses)"])
        #expect(loaded.diagnostics.map(\.description) == [
            "heloguard.conf:4: warning: impersonation_postfix_config = /etc/postfix-test: cannot read Postfix's configuration (postconf: fatal: open /etc/postfix-test/main.cf: No such file or directory); Postfix's names and addresses are not part of the identity",
        ])
    }

    @Test("impersonation_postfix_config must be absolute; without a reader it is a warning, and off by default")
    func parameterChecks() throws {
        #expect(throws: ConfigError.self) {
            try ConfigurationLoader.load(text: "impersonation_postfix_config = etc/postfix\n", file: "h.conf",
                                         environment: LoadEnvironment(interfaces: [], postfix: FixedPostfix([:])))
        }
        let withoutReader = try ConfigurationLoader.load(text: "impersonation_postfix_config = /etc/postfix\n", file: "h.conf", interfaces: [])
        #expect(withoutReader.diagnostics.map(\.message) == [
            "impersonation_postfix_config is not read by this tool; Postfix's names and addresses are left out here",
        ])
        let postfix = FixedPostfix(["myhostname": "mx.example.com"])
        let off = try ConfigurationLoader.load(text: "", file: "h.conf", environment: LoadEnvironment(interfaces: [], postfix: postfix))
        #expect(postfix.directories.isEmpty)
        #expect(!off.identity.contains { $0.source.hasPrefix("postfix") })
    }

    // MARK: DNS at load

    static let zone = ScriptedResolver([
        "mx.example.com": [.a: .records(["192.0.2.25"]), .aaaa: .records(["2001:db8::25"])],
        "example.com": [.mx: .records(["mx.example.com", "mx2.example.com"]), .a: .records(["192.0.2.80"])],
        "mx2.example.com": [.a: .records(["192.0.2.26"])],
        "nullmx.example.org": [.mx: .nullMX],
        "broken.example.org": ScriptedResolver.every(.temporaryFailure("SERVFAIL")),
    ])

    @Test("with impersonation_check_dns: A/AAAA of host names, MX hosts of domains and their addresses")
    func dnsAtLoad() throws {
        let loaded = try Self.load(FixedPostfix(["myhostname": "mx.example.com", "mydomain": "example.com",
                                                 "mydestination": "nullmx.example.org"]),
                                   extra: "impersonation_check_dns = yes\n", resolver: Self.zone)
        #expect(loaded.identity.map(\.description) == [
            "address 203.0.113.250 (impersonation_addresses)",
            "hostname mx.example.com (postfix myhostname)",
            "domain example.com (postfix mydomain)",
            "domain nullmx.example.org (postfix mydestination)",
            "address 192.0.2.25 (DNS A of mx.example.com)",
            "address 2001:db8::25 (DNS AAAA of mx.example.com)",
            "hostname mx2.example.com (DNS MX of example.com)",
            "address 192.0.2.26 (DNS A of mx2.example.com (MX of example.com))",
        ])
        #expect(loaded.diagnostics.isEmpty)
        #expect(ImpersonationCheck.claimsToBeUs("[192.0.2.26]", identity: loaded.policy.impersonation))
        #expect(ImpersonationCheck.claimsToBeUs("mx2.example.com", identity: loaded.policy.impersonation))
        // The domain's own A record (a web server) is not ours.
        #expect(!ImpersonationCheck.claimsToBeUs("[192.0.2.80]", identity: loaded.policy.impersonation))
    }

    @Test("a DNS failure at load is a warning and keeps the rest")
    func dnsFailure() throws {
        let loaded = try Self.load(FixedPostfix(["myhostname": "mx.example.com", "mydomain": "broken.example.org"]),
                                   extra: "impersonation_check_dns = yes\n", resolver: Self.zone)
        #expect(loaded.identity.map(\.description).contains("address 192.0.2.25 (DNS A of mx.example.com)"))
        #expect(loaded.identity.map(\.description).contains("domain broken.example.org (postfix mydomain)"))
        #expect(loaded.diagnostics.map(\.description) == [
            "heloguard.conf:6: warning: impersonation_check_dns: cannot look up MX broken.example.org: SERVFAIL; left out of the identity, the rest is kept",
        ])
    }

    @Test("DNS lookups at load stop at the budget, with a warning")
    func dnsBudget() throws {
        let loaded = try Self.load(FixedPostfix(["myhostname": "mx.example.com"]),
                                   extra: "impersonation_check_dns = yes\n", resolver: Self.zone, budget: 0)
        #expect(!loaded.identity.contains { $0.source.hasPrefix("DNS") })
        #expect(loaded.diagnostics.map(\.message) == [
            "impersonation_check_dns: 2 lookup(s) not made: all of them together may take 0 s; those names' addresses are left out",
        ])
    }

    @Test("without impersonation_check_dns nothing is asked at load")
    func noDNSWhenOff() throws {
        let resolver = ScriptedResolver([:])
        _ = try Self.load(FixedPostfix(["myhostname": "mx.example.com"]), resolver: resolver)
        #expect(resolver.questions.isEmpty)
    }
}
