import Foundation
import HeloPolicy
import Testing
@testable import HeloDNS

/// `impersonation_check_dns = yes` at load through the real resolver: our host names' A/AAAA
/// records and our domains' MX hosts come from a loopback test DNS; a DNS server that does not
/// answer leaves those entries out with warnings and keeps the rest.
@Suite("Identity from DNS at load")
struct IdentityDNSTests {
    /// MX lines in reverse order (dnsmasq serves them last-first).
    static let zone = """
        local=/test/
        host-record=mx.ours.test,192.0.2.25,2001:db8::25
        host-record=backup.ours.test,192.0.2.26
        mx-host=ours.test,backup.ours.test,20
        mx-host=ours.test,mx.ours.test,10
        """

    static func config(servers: String, timeout: String) -> String {
        """
        impersonation_hostnames = mx.ours.test
        impersonation_domains = ours.test
        impersonation_addresses = 203.0.113.250
        impersonation_check_dns = yes
        dns_servers = \(servers)
        dns_timeout = \(timeout)
        smtpd_helo_restrictions = reject_impersonating_helo

        """
    }

    static let environment = LoadEnvironment(interfaces: [], makeIdentityResolver: { settings in
        try! UnboundResolver(settings: settings)
    })

    @Test("host names' addresses and domains' MX hosts come from DNS")
    func throughDnsmasq() throws {
        try withDnsmasq(Self.zone) { server in
            let loaded = try ConfigurationLoader.load(
                text: Self.config(servers: "127.0.0.1:\(server.port)", timeout: "5s"), file: "h.conf",
                environment: Self.environment)
            #expect(loaded.identity.map(\.description) == [
                "hostname mx.ours.test (impersonation_hostnames)",
                "domain ours.test (impersonation_domains)",
                "address 203.0.113.250 (impersonation_addresses)",
                "address 192.0.2.25 (DNS A of mx.ours.test)",
                "address 2001:db8::25 (DNS AAAA of mx.ours.test)",
                "hostname backup.ours.test (DNS MX of ours.test)",
                "address 192.0.2.26 (DNS A of backup.ours.test (MX of ours.test))",
            ])
            #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
            #expect(ImpersonationCheck.claimsToBeUs("[192.0.2.26]", identity: loaded.policy.impersonation))
        }
    }

    @Test("a DNS server that does not answer: warnings, the rest of the identity kept")
    func deadServer() throws {
        // A port nobody listens on: libunbound gets no answer and each lookup runs into its deadline.
        let port = try Dnsmasq.freePort()
        let started = Date()
        let loaded = try ConfigurationLoader.load(
            text: Self.config(servers: "127.0.0.1:\(port)", timeout: "1s"), file: "h.conf", environment: Self.environment)
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(loaded.identity.map(\.description) == [
            "hostname mx.ours.test (impersonation_hostnames)",
            "domain ours.test (impersonation_domains)",
            "address 203.0.113.250 (impersonation_addresses)",
        ])
        let expected = [
            "impersonation_check_dns: cannot look up A mx.ours.test: ",
            "impersonation_check_dns: cannot look up AAAA mx.ours.test: ",
            "impersonation_check_dns: cannot look up MX ours.test: ",
        ]
        #expect(loaded.diagnostics.count == expected.count, "\(loaded.diagnostics)")
        for (diagnostic, start) in zip(loaded.diagnostics, expected) {
            #expect(diagnostic.message.hasPrefix(start), "\(diagnostic.message)")
        }
        #expect(loaded.diagnostics.allSatisfy { $0.severity == .warning && $0.location == SourceLocation(file: "h.conf", line: 4) })
    }
}
