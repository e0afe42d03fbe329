import Foundation
import Synchronization
import Testing
import HeloGuard
import HeloPolicy
@testable import HeloState
@testable import HeloStatePostgres

/// Log lines kept in memory, for counting what the service said.
final class CollectingLog: MailLog {
    private let lines = Mutex<[(LogPriority, String)]>([])

    func log(_ priority: LogPriority, _ message: String) {
        lines.withLock { $0.append((priority, message)) }
    }

    func lines(_ priority: LogPriority? = nil) -> [String] {
        lines.withLock { $0.filter { priority == nil || $0.0 == priority }.map(\.1) }
    }
}

/// Waits until `condition` holds, at most `timeout`; returns whether it did.
func eventually(_ timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return try condition()
}

/// Two penalty services (two MX hosts) on one PostgreSQL database.
@Suite("PenaltyService on PostgreSQL")
struct SharedPenaltyServiceTests {
    static func settings(_ url: String) -> StateSettings {
        StateSettings(directory: "/nonexistent-heloguard-test", database: url, refreshInterval: 1)
    }

    static func record(_ client: String, _ helo: String) -> HeloLogRecord {
        HeloLogRecord(time: Date(), client: address(client), helo: helo, verdict: "reject",
                      restriction: "reject_impersonating_helo")
    }

    @Test("a client boxed by host A is refused by host B after B's refresh; the HELO log of both lands in the database")
    func boxSpreads() throws {
        try withCluster { cluster in
            let logA = CollectingLog(), logB = CollectingLog()
            let hostA = PenaltyService(settings: Self.settings(cluster.url()), log: logA)
            let hostB = PenaltyService(settings: Self.settings(cluster.url()), log: logB)
            defer { hostA.shutdown(); hostB.shutdown() }
            #expect(hostA.prepare() == nil && hostB.prepare() == nil)
            #expect(hostA.isPersistent && hostB.isPersistent)

            hostA.penalize(clientAddress: "192.0.2.10", reason: "reject_impersonating_helo: helo=<mx.example.com>")
            hostA.record(Self.record("192.0.2.10", "mx.example.com"))
            hostB.record(Self.record("192.0.2.11", "other.example"))
            #expect(hostA.penalty(for: "192.0.2.10") != nil)
            #expect(eventually { hostB.penalty(for: "192.0.2.10") != nil }, "host B never saw host A's penalty")
            #expect(hostB.penalty(for: "192.0.2.10")?.reason.contains("mx.example.com") == true)
            #expect(eventually { (try? cluster.psql("SELECT count(*) FROM helo_log", database: TestCluster.database)) == "2" })
            #expect(logA.lines(.warning).isEmpty && logA.lines(.error).isEmpty, "\(logA.lines())")
        }
    }

    @Test("the database down: the box works from memory, one warning; back up: the queued rows land and the box is intact")
    func outageAndRecovery() throws {
        try withCluster { cluster in
            let log = CollectingLog()
            let service = PenaltyService(settings: Self.settings(cluster.url()), log: log)
            defer { service.shutdown() }
            service.prepare()
            service.penalize(clientAddress: "192.0.2.1", reason: "before the outage")
            #expect(eventually { (try? cluster.psql("SELECT count(*) FROM penalty", database: TestCluster.database)) == "1" })

            try cluster.stop()
            var recorded = 0
            for index in 0..<20 {
                service.record(Self.record("198.51.100.\(index)", "during.example"))
                recorded += 1
            }
            service.penalize(clientAddress: "192.0.2.2", reason: "during the outage")
            #expect(service.penalty(for: "192.0.2.2") != nil)
            #expect(eventually { service.storeIsFailing })
            // Several refresh rounds and writer retries fail while the server is down.
            Thread.sleep(forTimeInterval: 3)
            #expect(service.penalty(for: "192.0.2.1") != nil, "the box lost an entry it had loaded")
            #expect(service.penalty(for: "192.0.2.2") != nil, "the box lost this host's own penalty")
            let warnings = log.lines(.warning)
            #expect(warnings.count == 1, "\(warnings)")
            #expect(warnings.first?.contains("127.0.0.1:\(cluster.port)/heloguard") == true)
            #expect(warnings.first?.contains(TestCluster.password) == false)
            #expect(log.lines(.error).isEmpty, "\(log.lines(.error))")

            try cluster.start()
            #expect(eventually(.seconds(15)) {
                (try? cluster.psql("SELECT count(*) FROM helo_log", database: TestCluster.database)) == "\(recorded)"
            }, "the HELO log records queued during the outage did not all land")
            #expect(eventually(.seconds(10)) {
                (try? cluster.psql("SELECT string_agg(key, ',' ORDER BY key) FROM penalty", database: TestCluster.database))
                    == "192.0.2.1,192.0.2.2"
            })
            #expect(eventually { !service.storeIsFailing })
            // A refresh after the recovery keeps both entries.
            service.refresh()
            #expect(service.penalty(for: "192.0.2.1") != nil && service.penalty(for: "192.0.2.2") != nil)
            #expect(log.lines(.warning).count == 1, "\(log.lines(.warning))")
            #expect(log.lines(.info).filter { $0.contains("works again") }.count == 1, "\(log.lines(.info))")
            #expect(service.writerStatistics?.dropped == 0)
        }
    }

    @Test("an unreachable database at start: the service starts, penalizes from memory, warns once")
    func unreachableAtStart() throws {
        let port = try TestCluster.freePort()
        let log = CollectingLog()
        let url = "postgresql://heloguard:\(TestCluster.password)@127.0.0.1:\(port)/heloguard?sslmode=disable"
        let service = PenaltyService(settings: Self.settings(url), log: log)
        defer { service.shutdown(timeout: .milliseconds(200)) }
        let started = ContinuousClock.now
        #expect(service.prepare() == nil)
        service.penalize(clientAddress: "192.0.2.5", reason: "boxed anyway")
        service.record(Self.record("192.0.2.5", "x.example"))
        #expect(ContinuousClock.now - started < .milliseconds(500), "the mail path waited for the database")
        #expect(service.penalty(for: "192.0.2.5") != nil)
        #expect(eventually { service.storeIsFailing })
        Thread.sleep(forTimeInterval: 2.5)
        #expect(log.lines(.warning).count == 1, "\(log.lines())")
        #expect(log.lines(.warning).first?.contains("127.0.0.1:\(port)") == true)
    }

    @Test("a wrong password: one error, mail flows, changes wait; fixed while running: they land")
    func misconfiguredThenFixed() throws {
        try withCluster { cluster in
            try cluster.psql("ALTER ROLE \(TestCluster.user) PASSWORD 'something-else-42'")
            let log = CollectingLog()
            let service = PenaltyService(settings: Self.settings(cluster.url()), log: log)
            defer { service.shutdown() }
            service.prepare()
            service.penalize(clientAddress: "192.0.2.9", reason: "while misconfigured")
            #expect(eventually { service.storeIsFailing })
            Thread.sleep(forTimeInterval: 2.5)
            #expect(log.lines(.error).count == 1, "\(log.lines())")
            #expect(log.lines(.error).first?.contains("refused the login") == true)
            #expect(log.lines().allSatisfy { !$0.contains(TestCluster.password) })
            #expect(service.penalty(for: "192.0.2.9") != nil)

            try cluster.psql("ALTER ROLE \(TestCluster.user) PASSWORD '\(TestCluster.password)'")
            #expect(eventually(.seconds(10)) {
                (try? cluster.psql("SELECT count(*) FROM penalty", database: TestCluster.database)) == "1"
            })
            #expect(log.lines(.error).count == 1, "\(log.lines())")
        }
    }
}
