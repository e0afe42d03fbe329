import Foundation
import HeloGuard
import HeloPolicy
import MilterKit
import MilterTesting
import Testing

/// A private Postfix configuration directory for `postconf -c DIR`: main.cf from parameters
/// (a fixed, machine-independent base plus the case's), master.cf as given. Removed by
/// ``remove()``.
struct PostfixDirectory {
    let path: String

    static let baseMainCf: [(String, String)] = [
        ("compatibility_level", "3.6"),
        ("myhostname", "mx.example.com"),
        ("mydomain", "example.com"),
        ("mydestination", ""),
        ("inet_interfaces", "loopback-only"),
        ("inet_protocols", "all"),
    ]

    /// `main` entries replace the base's of the same name; `nil` master.cf writes none.
    init(main: [(String, String)], master: String? = nil) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("heloguard-postfix-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var lines: [String] = []
        let overridden = Set(main.map(\.0))
        for (name, value) in Self.baseMainCf where !overridden.contains(name) { lines.append("\(name) = \(value)") }
        for (name, value) in main { lines.append("\(name) = \(value.replacingOccurrences(of: "DIR", with: path))") }
        try write("main.cf", lines.joined(separator: "\n") + "\n")
        if let master {
            try write("master.cf", master)
        }
    }

    /// Writes a file dated a minute back: Postfix waits (up to about 1.5 s) for a table or
    /// main.cf changed within the current second to settle before it reads it.
    func write(_ name: String, _ text: String) throws {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: file)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// `impersonation_postfix_config` with the real `postconf -c DIR -x`: each parameter, `$name`
/// expansion as Postfix does it, a `hash:` domain table, and sessions that are refused for a
/// HELO of one of Postfix's domains or addresses.
@Suite("Identity from Postfix (postconf)")
struct PostfixIdentityTests {
    static let interfaces = [InterfaceAddress(address: IPAddress("192.0.2.7")!, netmask: IPAddress("255.255.255.0"))]

    static func load(_ directory: PostfixDirectory, extra: String = "") throws -> LoadedConfiguration {
        let text = """
            impersonation_hostnames =
            impersonation_domains =
            impersonation_addresses = 203.0.113.250
            impersonation_postfix_config = \(directory.path)
            smtpd_helo_restrictions = reject_impersonating_helo

            """ + extra
        return try ConfigurationLoader.load(text: text, file: "heloguard.conf",
                                            environment: LoadEnvironment(interfaces: interfaces, postfix: Postconf()))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let main: [(String, String)]
        let expected: [String]
        var testDescription: String { main.map { "\($0.0) = \($0.1)" }.joined(separator: "; ") }
    }

    static let cases: [Case] = [
        Case(main: [], expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)"]),
        Case(main: [("myhostname", "smtp.example.org"), ("mydomain", "example.org")],
             expected: ["hostname smtp.example.org (postfix myhostname)", "domain example.org (postfix mydomain)"]),
        Case(main: [("mydestination", "$myhostname, mail.$mydomain, localhost.$mydomain, localhost")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)",
                        "domain mail.example.com (postfix mydestination)", "domain localhost.example.com (postfix mydestination)"]),
        Case(main: [("virtual_alias_domains", "alias.example.net")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)",
                        "domain alias.example.net (postfix virtual_alias_domains)"]),
        Case(main: [("virtual_mailbox_domains", "hash:DIR/vdomains")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)",
                        "domain box1.example.org (postfix virtual_mailbox_domains hash:DIR/vdomains line 1)",
                        "domain box2.example.org (postfix virtual_mailbox_domains hash:DIR/vdomains line 3)"]),
        Case(main: [("relay_domains", "relay.example.info")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)",
                        "domain relay.example.info (postfix relay_domains)"]),
        // compatibility_level < 2: relay_domains defaults to $mydestination.
        Case(main: [("compatibility_level", "0"), ("mydestination", "dest.example.com")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)",
                        "domain dest.example.com (postfix mydestination)"]),
        // postconf refuses an inet_interfaces address this machine does not have: LOCAL is one it has.
        Case(main: [("inet_interfaces", "LOCAL, 127.0.0.1")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)",
                        "address LOCAL (postfix inet_interfaces)"]),
        Case(main: [("inet_interfaces", "all")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)",
                        "address 192.0.2.7 (postfix inet_interfaces = all (interface of this machine))"]),
        Case(main: [("proxy_interfaces", "198.51.100.9")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)",
                        "address 198.51.100.9 (postfix proxy_interfaces)"]),
        Case(main: [("mynetworks", "10.0.0.0/8, 198.51.100.0/24")],
             expected: ["hostname mx.example.com (postfix myhostname)", "domain example.com (postfix mydomain)"]),
    ]

    @Test("each Postfix parameter contributes, read with postconf -x", arguments: cases)
    func eachParameter(_ testCase: Case) throws {
        let local = try #require(NetworkList.localInterfaces().map(\.address.description)
            .first { $0.contains(".") && !$0.hasPrefix("127.") }, "this machine has no IPv4 address besides loopback")
        let main = testCase.main.map { ($0.0, $0.1.replacingOccurrences(of: "LOCAL", with: local)) }
        let directory = try PostfixDirectory(main: main)
        defer { directory.remove() }
        try directory.write("vdomains", "box1.example.org  OK\n# comment\nBox2.Example.ORG  OK\n")
        let loaded = try Self.load(directory)
        let fromPostfix = loaded.identity.filter { $0.source.hasPrefix("postfix ") }.map(\.description)
        #expect(fromPostfix == testCase.expected.map {
            $0.replacingOccurrences(of: "DIR", with: directory.path).replacingOccurrences(of: "LOCAL", with: local)
        })
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
    }

    @Test("a missing Postfix configuration directory is a warning naming it")
    func missingDirectory() throws {
        let directory = try PostfixDirectory(main: [])
        directory.remove()
        let loaded = try Self.load(directory)
        #expect(loaded.identity.map(\.description) == ["address 203.0.113.250 (impersonation_addresses)"])
        #expect(loaded.diagnostics.count == 1)
        #expect(loaded.diagnostics.first?.message.contains("cannot read Postfix's configuration (") == true)
        #expect(loaded.diagnostics.first?.message.contains(directory.path + "/main.cf") == true)
    }

    @Test("a HELO of one of mydestination's domains or of the proxy_interfaces address is refused at RCPT",
          arguments: [("mail.example.com", true), ("MAIL.example.com.", true), ("[198.51.100.9]", true),
                      ("198.51.100.9", true), ("mx.example.com", true), ("honest.example.net", false)])
    func session(_ helo: String, _ refused: Bool) throws {
        let directory = try PostfixDirectory(main: [("mydestination", "$myhostname, mail.$mydomain"),
                                                    ("proxy_interfaces", "198.51.100.9")])
        defer { directory.remove() }
        let loaded = try Self.load(directory)
        let s = SessionHarness(loaded: loaded)
        s.connect()
        s.helo(helo)
        s.mail("<a@example.org>")
        let expected = refused ? "550 5.7.1 <\(helo)>: Helo command rejected: Host impersonates this server" : "continue"
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == expected)
    }

    @Test("a reload re-reads Postfix's configuration")
    func reload() throws {
        let directory = try PostfixDirectory(main: [])
        defer { directory.remove() }
        let config = directory.path + "/heloguard.conf"
        try directory.write("heloguard.conf", "impersonation_addresses = 203.0.113.250\nimpersonation_postfix_config = \(directory.path)\n")
        let store = try ConfigurationStore(path: config, loader: { path throws(ConfigError) in
            try ConfigurationLoader.load(path: path, environment: LoadEnvironment(interfaces: Self.interfaces, postfix: Postconf()))
        })
        #expect(!ImpersonationCheck.claimsToBeUs("new.example.net", identity: store.current.policy.impersonation))
        try directory.write("main.cf", try String(contentsOfFile: directory.path + "/main.cf", encoding: .utf8)
                            + "virtual_alias_domains = new.example.net\n")
        let next = try store.reload()
        #expect(ImpersonationCheck.claimsToBeUs("new.example.net", identity: next.policy.impersonation))
    }
}

extension SessionHarness {
    /// A session on an already loaded configuration.
    init(loaded: LoadedConfiguration) {
        session = HeloGuardSession(configuration: RuntimeConfiguration(path: "test.conf", loaded: loaded, generation: 1,
                                                                       resolver: UnavailableResolver()),
                                   log: log)
    }
}
