import Foundation
import Testing
import HeloPolicy
@testable import HeloDNS

/// A server that was silent for half a minute and then answers again must be used again at
/// once. With libunbound's defaults it is not: after it gave up on the server, every lookup
/// fails at once ("all the configured stub or forward servers failed") for minutes. This is
/// what `infra-host-ttl: 2` and `infra-keep-probing: yes` are for.
///
/// It takes about 40 seconds, so it only runs with HELODNS_SLOW_TESTS=1 in the environment.
@Suite("UnboundResolver after a server outage")
struct ServerRecoveryTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HELODNS_SLOW_TESTS"] == "1"))
    func serverBackAfterOutage() throws {
        let outage = 30.0
        let start = Date()
        let server = try ScriptedDNSServer { _ in
            Date().timeIntervalSince(start) < outage
                ? .silence
                : .answer(records: [DNSWire.Record(type: DNSWire.RRType.a, data: DNSWire.a("192.0.2.1"))])
        }
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 1000)
        defer { resolver.shutdown() }
        // A new name every 200 ms, each on its own thread, as the milter's threads would ask.
        let count = Int((outage + 10) / 0.2)
        let asked = runConcurrently(count) { index -> (at: Double, answer: DNSAnswer) in
            Thread.sleep(forTimeInterval: Double(index) * 0.2)
            let at = Date().timeIntervalSince(start)
            return (at, resolver.lookup("n\(index).outage.example", type: .a))
        }
        let late = asked.filter { $0.at > outage + 2 }
        #expect(!late.isEmpty)
        for lookup in late {
            #expect(lookup.answer == .records(["192.0.2.1"]), "asked at \(lookup.at) s: \(lookup.answer)")
        }
    }
}
