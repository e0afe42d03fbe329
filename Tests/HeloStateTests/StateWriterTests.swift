import Foundation
import Synchronization
import Testing
import HeloPolicy
@testable import HeloState

/// A store that records what it is given and can be held (to stand for a slow disk) or made to
/// fail.
final class ScriptedStore: StateStore {
    struct Refusal: StateStoreFailure {
        var isTransient: Bool
        var description: String { isTransient ? "simulated outage" : "simulated refusal" }
    }

    private struct State {
        var applied: [StateChange] = []
        var failure: Refusal?
        var calls = 0
    }

    private let state = Mutex(State())
    /// While closed, `apply` waits at the gate (after telling `entered`).
    let gate = NSCondition()
    private let gateOpen = Mutex(true)
    let entered = DispatchSemaphore(value: 0)

    var applied: [StateChange] { state.withLock { $0.applied } }
    var calls: Int { state.withLock { $0.calls } }

    func fail(with refusal: Refusal?) { state.withLock { $0.failure = refusal } }

    func hold() { gateOpen.withLock { $0 = false } }

    func release() {
        gate.lock()
        gateOpen.withLock { $0 = true }
        gate.broadcast()
        gate.unlock()
    }

    func loadPenalties(rememberedSince cutoff: Date) throws -> [PenaltyEntry] { [] }

    func apply(_ changes: [StateChange]) throws {
        entered.signal()
        gate.lock()
        while !gateOpen.withLock({ $0 }) { gate.wait() }
        gate.unlock()
        let failure: Refusal? = state.withLock { state in
            state.calls += 1
            if let failure = state.failure { return failure }
            state.applied += changes
            return nil
        }
        if let failure { throw failure }
    }

    func prune(_ limits: RetentionLimits, at now: Date) throws -> PruneResult { PruneResult() }

    func close() {}
}

/// Collects the writer's log lines.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    var sink: @Sendable (String) -> Void { { line in self.lines.withLock { $0.append(line) } } }
}

func record(_ index: Int, helo: String? = nil) -> StateChange {
    .heloLog(HeloLogRecord(time: at(TimeInterval(index)), client: address("192.0.2.\(index % 250 + 1)"),
                           helo: helo ?? "host\(index).example", verdict: "accept"))
}

@Suite("StateWriter")
struct StateWriterTests {
    @Test("changes reach the SQLite store in batches; flush waits for them")
    func writesThrough() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let store = try SQLiteStateStore(path: temp.file("s.sqlite"))
        defer { store.close() }
        let log = LogLines()
        let writer = StateWriter(store: store, batchSize: 100, log: log.sink)
        let penalty = PenaltyBox().penalize(address("192.0.2.7"), reason: "reject_impersonating_helo", at: at(0))
        writer.submit(.upsertPenalty(penalty))
        for index in 0..<1000 { writer.submit(record(index)) }
        #expect(writer.flush())
        #expect(try SQLiteStateStoreTests.logCount(store) == 1000)
        #expect(try store.loadPenalties(rememberedSince: at(0)) == [penalty])
        let stats = writer.statistics
        #expect(stats.submitted == 1001 && stats.written == 1001 && stats.dropped == 0 && stats.queued == 0)
        #expect(writer.shutdown())
        #expect(log.all.isEmpty)
        // After shutdown nothing is queued any more.
        writer.submit(record(1))
        #expect(writer.statistics.dropped == 1)
    }

    @Test("changes that arrive one by one gather for the linger interval and go in one transaction")
    func lingerGathersChanges() throws {
        let store = ScriptedStore()
        let writer = StateWriter(store: store, batchSize: 100, linger: .milliseconds(500), log: { _ in })
        // Ten connections closing a few milliseconds apart, as on a busy milter.
        for index in 0..<10 {
            writer.submit(record(index))
            Thread.sleep(forTimeInterval: 0.005)
        }
        // Well within the linger interval nothing is written yet...
        #expect(store.calls == 0)
        // ...and once it has passed, all ten went in one call.
        let deadline = Date().addingTimeInterval(5)
        while store.applied.count < 10 && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(store.calls == 1)
        #expect(store.applied == (0..<10).map { record($0) })
        // A flush does not wait for the interval.
        writer.submit(record(10))
        let started = Date()
        #expect(writer.flush(timeout: .seconds(5)))
        #expect(Date().timeIntervalSince(started) < 0.4)
        #expect(store.calls == 2)
        writer.shutdown()
    }

    struct Overflowing: Sendable, CustomTestStringConvertible {
        let label: String
        let overflow: StateWriter.Overflow
        /// The indices of the queued records that reach the store.
        let kept: [Int]
        var testDescription: String { label }
    }

    static let overflows: [Overflowing] = [
        Overflowing(label: "drop oldest keeps the newest", overflow: .dropOldest, kept: Array(5..<15)),
        Overflowing(label: "drop newest keeps the first", overflow: .dropNewest, kept: Array(0..<10)),
    ]

    @Test("a blocked writer does not block callers; overflow is counted", arguments: overflows)
    func blockedWriter(_ testCase: Overflowing) throws {
        let store = ScriptedStore()
        let writer = StateWriter(store: store, capacity: 10, batchSize: 1, overflow: testCase.overflow,
                                 log: LogLines().sink)
        store.hold()
        writer.submit(record(-1))
        // The writer thread has taken the first change and is stuck in the store.
        #expect(store.entered.wait(timeout: .now() + 5) == .success)
        let started = Date()
        for index in 0..<15 { writer.submit(record(index)) }
        #expect(Date().timeIntervalSince(started) < 1)
        var stats = writer.statistics
        #expect(stats.dropped == 5)
        #expect(stats.queued == 10)
        #expect(!writer.flush(timeout: .milliseconds(50)))
        store.release()
        #expect(writer.flush())
        stats = writer.statistics
        #expect(stats.written == 11 && stats.dropped == 5 && stats.submitted == 16)
        #expect(store.applied == [record(-1)] + testCase.kept.map { record($0) })
        writer.shutdown()
    }

    @Test("a batch the store refuses for good is dropped and logged; later batches go on")
    func permanentRefusal() {
        let store = ScriptedStore()
        let log = LogLines()
        let writer = StateWriter(store: store, batchSize: 100, log: log.sink)
        store.fail(with: ScriptedStore.Refusal(isTransient: false))
        writer.submit(record(0))
        #expect(writer.flush())
        store.fail(with: nil)
        writer.submit(record(1))
        #expect(writer.flush())
        #expect(store.applied == [record(1)])
        #expect(writer.statistics.dropped == 1)
        #expect(log.all.count == 1)
        #expect(log.all.first?.contains("simulated refusal") == true)
        writer.shutdown()
    }

    @Test("reportsOutages: the writer's outage lines are left out or kept; a batch given up is logged either way",
          arguments: [true, false])
    func outageLines(_ reportsOutages: Bool) {
        let store = ScriptedStore()
        let log = LogLines()
        let writer = StateWriter(store: store, batchSize: 100, retryInterval: .milliseconds(20),
                                 reportsOutages: reportsOutages, log: log.sink)
        store.fail(with: ScriptedStore.Refusal(isTransient: true))
        writer.submit(record(0))
        #expect(!writer.flush(timeout: .milliseconds(200)))
        #expect(writer.statistics.outages == 1)
        store.fail(with: nil)
        #expect(writer.flush(timeout: .seconds(5)))
        store.fail(with: ScriptedStore.Refusal(isTransient: false))
        writer.submit(record(1))
        #expect(writer.flush(timeout: .seconds(5)))
        let outage = ["state store: cannot write: simulated outage", "state store: writes succeed again"]
        let refusal = "state store: gave up 1 change(s) the store refused: simulated refusal"
        let expected = (reportsOutages ? outage : []) + [refusal]
        // The writer logs after it wakes the flush: give the last line a moment to arrive.
        let deadline = Date().addingTimeInterval(5)
        while log.all.count < expected.count && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        Thread.sleep(forTimeInterval: 0.05)
        #expect(log.all.count == expected.count)
        #expect(zip(log.all, expected).allSatisfy { $0.hasPrefix($1) }, "\(log.all)")
        #expect(store.applied == [record(0)])
        writer.shutdown()
    }

    @Test("a full disk is logged once, callers are unaffected, and nothing is lost once space returns")
    func fullDisk() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let store = try SQLiteStateStore(path: temp.file("s.sqlite"))
        defer { store.close() }
        // No page beyond those the file has now: the next insert that needs one fails with SQLITE_FULL.
        try store.withConnection("test") { db throws(SQLiteFailure) in
            let pages = try db.integer("PRAGMA page_count")
            try db.execute("PRAGMA max_page_count = \(pages)")
        }
        let log = LogLines()
        let writer = StateWriter(store: store, capacity: 5000, batchSize: 200,
                                 retryInterval: .milliseconds(20), log: log.sink)
        let padding = String(repeating: "x", count: 200)
        let started = Date()
        for index in 0..<2000 { writer.submit(record(index, helo: "host\(index).\(padding)")) }
        #expect(Date().timeIntervalSince(started) < 1)
        #expect(!writer.flush(timeout: .milliseconds(300)))
        var stats = writer.statistics
        #expect(stats.outages == 1)
        #expect(stats.failedBatches > 2)
        #expect(stats.dropped == 0)
        #expect(log.all.count == 1)
        #expect(log.all.first?.contains("the disk is full") == true)
        #expect(log.all.first?.contains(store.path) == true)

        try store.withConnection("test") { db throws(SQLiteFailure) in
            try db.execute("PRAGMA max_page_count = 1073741823")
        }
        #expect(writer.flush(timeout: .seconds(5)))
        stats = writer.statistics
        #expect(stats.written == 2000 && stats.dropped == 0 && stats.outages == 1)
        #expect(try SQLiteStateStoreTests.logCount(store) == 2000)
        #expect(log.all.count == 2)
        #expect(log.all.last?.contains("succeed again") == true)
        writer.shutdown()
    }
}
