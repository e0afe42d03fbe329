import Foundation
@testable import HeloGuard
import HeloPolicy
import HeloState
import Synchronization
import Testing

/// A store whose writes fail while `writesFail` is set (a full disk: reads still work) and
/// whose reads fail while `readsFail` is set (a server that is down fails both).
private final class FlakyStore: StateStore {
    private let failing = Mutex<(writes: Bool, reads: Bool)>((false, false))

    func set(writes: Bool, reads: Bool) { failing.withLock { $0 = (writes, reads) } }

    private static let full = SQLiteStoreError.diskFull(path: "/state/heloguard.sqlite", message: "database or disk is full")
    private static let down = SQLiteStoreError.ioError(path: "/state/heloguard.sqlite", message: "disk I/O error")

    func loadPenalties(rememberedSince cutoff: Date) throws -> [PenaltyEntry] {
        if failing.withLock({ $0.reads }) { throw Self.down }
        return []
    }

    func apply(_ changes: [StateChange]) throws {
        if failing.withLock({ $0.writes }) { throw Self.full }
    }

    func prune(_ limits: RetentionLimits, at now: Date) throws -> PruneResult { PruneResult() }

    func close() {}
}

/// ``StoreHealth`` speaks once per outage, whatever mix of calls fails or succeeds meanwhile.
@Suite("StoreHealth")
struct StoreHealthTests {
    /// One step of a scenario: which calls fail, then which call is made.
    struct Step: Sendable {
        let writesFail: Bool
        let readsFail: Bool
        let call: Call
    }

    /// `changeCheck`: the refresh thread's question whether anyone else changed the store (this
    /// store cannot tell, so it answers without I/O, as PostgreSQL's does).
    enum Call: String, Sendable { case read, write, changeCheck }

    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        let steps: [Step]
        let warnings: Int
        let recoveries: Int
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "full disk: reads that still work do not end the outage", steps: [
            Step(writesFail: true, readsFail: false, call: .write),
            Step(writesFail: true, readsFail: false, call: .read),
            Step(writesFail: true, readsFail: false, call: .write),
            Step(writesFail: true, readsFail: false, call: .read),
            Step(writesFail: true, readsFail: false, call: .write),
        ], warnings: 1, recoveries: 0),
        Scenario(name: "full disk, then space returns: the first good write ends it", steps: [
            Step(writesFail: true, readsFail: false, call: .write),
            Step(writesFail: true, readsFail: false, call: .read),
            Step(writesFail: false, readsFail: false, call: .write),
            Step(writesFail: false, readsFail: false, call: .write),
        ], warnings: 1, recoveries: 1),
        Scenario(name: "store down, back: a read that works ends an outage a read began", steps: [
            Step(writesFail: true, readsFail: true, call: .read),
            Step(writesFail: true, readsFail: true, call: .write),
            Step(writesFail: false, readsFail: false, call: .read),
            Step(writesFail: false, readsFail: false, call: .write),
        ], warnings: 1, recoveries: 1),
        Scenario(name: "store down: the refresh's change check is no sign of recovery", steps: [
            Step(writesFail: true, readsFail: true, call: .read),
            Step(writesFail: true, readsFail: true, call: .changeCheck),
            Step(writesFail: true, readsFail: true, call: .write),
            Step(writesFail: true, readsFail: true, call: .changeCheck),
            Step(writesFail: true, readsFail: true, call: .read),
        ], warnings: 1, recoveries: 0),
        Scenario(name: "two separate outages are two warnings", steps: [
            Step(writesFail: true, readsFail: false, call: .write),
            Step(writesFail: false, readsFail: false, call: .write),
            Step(writesFail: true, readsFail: false, call: .write),
        ], warnings: 2, recoveries: 1),
    ]

    @Test(arguments: scenarios)
    func speaksOncePerOutage(_ scenario: Scenario) {
        let store = FlakyStore()
        let log = RecordingLog()
        let health = StoreHealth(store, name: "the test store", probeInterval: 60, log: log)
        for step in scenario.steps {
            store.set(writes: step.writesFail, reads: step.readsFail)
            switch step.call {
            case .read: _ = try? health.loadPenalties(rememberedSince: .distantPast)
            case .write: try? health.apply([])
            case .changeCheck: _ = try? health.mayHaveChangedElsewhere()
            }
        }
        let warnings = log.lines.filter { $0.contains("state store: cannot ") }
        let recoveries = log.lines.filter { $0.contains("state store: writes succeed again") }
        #expect(warnings.count == scenario.warnings, "\(log.lines)")
        #expect(recoveries.count == scenario.recoveries, "\(log.lines)")
        #expect(log.lines.count == scenario.warnings + scenario.recoveries, "\(log.lines)")
    }

    /// A store of any kind whose failure says it is a configuration problem: held back between
    /// probes (no call reaches the store), logged once as an error, fixed at the next probe.
    @Test("a configuration problem is recognised through StateStoreFailure, whatever the store")
    func configurationProblemOfAnyStore() throws {
        let store = MisconfiguredStore()
        let log = RecordingLog()
        let health = StoreHealth(store, name: "the test store", probeInterval: 0.2, log: log)
        for _ in 0..<3 { #expect(throws: StoreHealthError.self) { try health.apply([]) } }
        #expect(store.calls == 1)
        #expect(log.lines.count == 1)
        #expect(log.lines.first?.hasPrefix("error: state store: needs an administrator; the penalty box works from memory") == true, "\(log.lines)")
        #expect(health.isFailing)
        store.fixed.withLock { $0 = true }
        Thread.sleep(forTimeInterval: 0.3)
        try health.apply([])
        #expect(store.calls == 2)
        #expect(!health.isFailing)
        #expect(log.lines.count == 2)
        #expect(log.lines.last?.hasPrefix("state store: writes succeed again after") == true, "\(log.lines)")
    }
}

/// A store that fails with a configuration problem until `fixed` is set.
private final class MisconfiguredStore: StateStore {
    struct Problem: StateStoreFailure {
        var isTransient: Bool { false }
        var isConfigurationProblem: Bool { true }
        var description: String { "needs an administrator" }
    }

    let fixed = Mutex(false)
    private let count = Mutex(0)
    var calls: Int { count.withLock { $0 } }

    func loadPenalties(rememberedSince cutoff: Date) throws -> [PenaltyEntry] { [] }

    func apply(_ changes: [StateChange]) throws {
        count.withLock { $0 += 1 }
        if !fixed.withLock({ $0 }) { throw Problem() }
    }

    func prune(_ limits: RetentionLimits, at now: Date) throws -> PruneResult { PruneResult() }

    func close() {}
}
