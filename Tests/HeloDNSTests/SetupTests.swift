import Foundation
import Testing
import HeloPolicy
@testable import HeloDNS

/// Building a resolver: settings libunbound or this resolver refuse, and the resolv.conf path.
/// None of these tests sends a question.
@Suite("UnboundResolver setup")
struct SetupTests {
    struct Refused: Sendable, CustomTestStringConvertible {
        let label: String
        let settings: DNSSettings
        let error: DNSSetupError
        var testDescription: String { label }
    }

    static let loopback = IPAddress("127.0.0.1")!

    static let refused: [Refused] = [
        Refused(label: "empty server list", settings: DNSSettings(servers: []), error: .noServers),
        Refused(label: "port 0",
                settings: DNSSettings(servers: [DNSServerAddress(address: loopback, port: 0)]),
                error: .badServer("127.0.0.1@0", reason: "the port must be 1 to 65535")),
        Refused(label: "port 70000",
                settings: DNSSettings(servers: [DNSServerAddress(address: loopback, port: 70000)]),
                error: .badServer("127.0.0.1@70000", reason: "the port must be 1 to 65535")),
        Refused(label: "zero timeout",
                settings: DNSSettings(servers: [DNSServerAddress(address: loopback)], timeoutMilliseconds: 0),
                error: .badTimeout(0)),
        Refused(label: "timeout over an hour",
                settings: DNSSettings(servers: [DNSServerAddress(address: loopback)], timeoutMilliseconds: 3_600_001),
                error: .badTimeout(3_600_001)),
    ]

    @Test("refused settings", arguments: refused)
    func refusedSettings(_ testCase: Refused) {
        #expect(throws: testCase.error) {
            try UnboundResolver(settings: testCase.settings)
        }
        #expect(!testCase.error.description.isEmpty)
    }

    @Test("IPv4 and IPv6 servers with ports are accepted")
    func serverForms() throws {
        let resolver = try UnboundResolver(settings: DNSSettings(servers: [
            DNSServerAddress(address: Self.loopback, port: 5353),
            DNSServerAddress(address: IPAddress("::1")!, port: 53),
        ]))
        resolver.shutdown()
        resolver.shutdown()
    }

    @Test("a resolv.conf that cannot be read is an error")
    func missingResolvConf() {
        let path = "/nonexistent/heloguard/resolv.conf"
        #expect(throws: DNSSetupError.resolvConf(path: path, reason: "the file cannot be read")) {
            try UnboundResolver(settings: DNSSettings(), resolvConfPath: path)
        }
    }

    @Test("resolv.conf files, with and without nameserver lines", arguments: [
        "nameserver 127.0.0.1 (options ignored)": "nameserver 127.0.0.1\noptions timeout:1\n",
        "no nameserver line": "search example.test\n",
    ])
    func resolvConf(_ label: String, _ text: String) throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("heloguard-resolv-\(UUID().uuidString).conf").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let resolver = try UnboundResolver(settings: DNSSettings(), resolvConfPath: path)
        resolver.shutdown()
    }
}
