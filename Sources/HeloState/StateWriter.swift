import Foundation

/// Writes ``StateChange``s to a ``StateStore`` off the caller's path.
///
/// ``submit(_:)`` only appends to a bounded in-memory queue and returns: it never waits for the
/// store, so a slow or full disk (or a PostgreSQL server far away) never delays an SMTP reply. One
/// writer thread drains the queue in batches of up to ``batchSize`` changes, each batch in one
/// transaction.
///
/// **A full queue** drops a change — the oldest queued one or the new one, as ``Overflow`` says —
/// and counts it in ``Statistics/dropped``; it never blocks the caller.
///
/// **A failing store** (disk full, I/O error, a lock held too long: an error whose
/// ``StateStoreFailure/isTransient`` is true) is an outage: the batch goes back to the head of the
/// queue and the thread tries again every ``retryInterval``, while new changes keep queueing up to
/// the bound (when the queue filled up meanwhile, the oldest changes of the batch are the ones
/// given up). The outage is logged once when it starts and once when writes succeed again, never
/// per record. A batch the store refuses for good (a non-transient error) is dropped, counted and
/// logged.
public final class StateWriter: Sendable {
    /// Which change a full queue gives up.
    public enum Overflow: Sendable, Hashable {
        /// The oldest queued change makes room for the new one (the default: recent data matters most).
        case dropOldest
        /// The new change is not queued.
        case dropNewest
    }

    /// Counters since the writer started.
    public struct Statistics: Sendable, Hashable {
        /// Changes handed to ``submit(_:)``.
        public var submitted = 0
        /// Changes the store accepted.
        public var written = 0
        /// Changes given up: queue overflow, store refusal, or still queued at shutdown.
        public var dropped = 0
        /// Batches the store failed (each retry of a batch counts).
        public var failedBatches = 0
        /// Outages that began (a failure after a success, or the first failure).
        public var outages = 0
        /// Changes waiting in the queue now.
        public var queued = 0
    }

    /// The most changes the queue holds.
    public let capacity: Int
    /// The most changes written in one transaction.
    public let batchSize: Int
    public let overflow: Overflow
    /// How long the writer waits before retrying after a transient failure.
    public let retryInterval: Duration
    /// How long the writer lets changes gather after the first one arrives, so that a busy
    /// milter writes one transaction per interval rather than one per connection (a flush, a
    /// full batch or a stop cuts it short).
    public let linger: Duration

    private let shared: Shared
    private let store: any StateStore

    /// Starts the writer thread.
    ///
    /// - Parameters:
    ///   - reportsOutages: false when something in front of the store reports its outages
    ///     already (the application's store health check): the writer then leaves out its own
    ///     outage lines and logs only the batches it gives up.
    ///   - log: receives one line when an outage begins, one when it ends (both only with
    ///     `reportsOutages`), and one per batch the store refused for good. Called on the writer thread.
    public init(
        store: any StateStore,
        capacity: Int = 10_000,
        batchSize: Int = 500,
        overflow: Overflow = .dropOldest,
        retryInterval: Duration = .seconds(1),
        linger: Duration = .milliseconds(200),
        reportsOutages: Bool = true,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.store = store
        self.capacity = max(1, capacity)
        self.batchSize = max(1, batchSize)
        self.overflow = overflow
        self.retryInterval = retryInterval
        self.linger = linger
        let shared = Shared()
        self.shared = shared
        let capacity = self.capacity, batchSize = self.batchSize
        let thread = Thread {
            Self.run(shared: shared, store: store, capacity: capacity, batchSize: batchSize,
                     retryInterval: retryInterval, linger: linger, log: log,
                     outageLog: reportsOutages ? log : { _ in })
        }
        thread.name = "heloguard-state-writer"
        thread.start()
    }

    deinit {
        shared.condition.lock()
        shared.stopping = true
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// Queues `change` for the store. Never blocks on I/O; see ``Overflow`` for a full queue.
    /// Changes submitted after ``shutdown(timeout:)`` are dropped.
    public func submit(_ change: StateChange) {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        shared.statistics.submitted += 1
        if shared.stopping {
            shared.statistics.dropped += 1
            return
        }
        if shared.queue.count >= capacity {
            shared.statistics.dropped += 1
            switch overflow {
            case .dropNewest: return
            case .dropOldest: shared.queue.removeFirst()
            }
        }
        shared.queue.append(change)
        // Wake the writer when it waits for a first change, or when a batch is full; while it
        // lingers, the changes in between need no wake-up.
        if shared.queue.count == 1 || shared.queue.count >= batchSize { shared.condition.broadcast() }
    }

    /// Waits until everything submitted so far is written, at most `timeout`. Returns false when
    /// changes are still queued at the deadline (an outage, or a slow store).
    @discardableResult
    public func flush(timeout: Duration = .seconds(10)) -> Bool {
        let deadline = Date().addingTimeInterval(timeout.timeInterval)
        shared.condition.lock()
        shared.flushRequests += 1
        shared.condition.broadcast()
        defer {
            shared.flushRequests -= 1
            shared.condition.unlock()
        }
        while !shared.queue.isEmpty || shared.writing {
            if shared.finished { return false }
            if !shared.condition.wait(until: deadline) {
                return shared.queue.isEmpty && !shared.writing
            }
        }
        return true
    }

    /// Flushes (at most `timeout`), then stops the writer thread. Whatever is still queued is
    /// dropped and counted. Does not close the store.
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(5)) -> Bool {
        let drained = flush(timeout: timeout)
        shared.condition.lock()
        shared.stopping = true
        shared.condition.broadcast()
        let deadline = Date().addingTimeInterval(timeout.timeInterval)
        while !shared.finished {
            if !shared.condition.wait(until: deadline) { break }
        }
        shared.condition.unlock()
        return drained
    }

    public var statistics: Statistics {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        var copy = shared.statistics
        copy.queued = shared.queue.count
        return copy
    }

    /// The queue and counters, shared between callers and the writer thread. Every stored
    /// property is read and written only while `condition` is locked, which is what makes the
    /// `@unchecked Sendable` sound.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var queue = ChangeQueue()
        var statistics = Statistics()
        /// A batch is out of the queue and in the store's hands.
        var writing = false
        /// Callers waiting in flush(): the writer does not linger for them.
        var flushRequests = 0
        var stopping = false
        var finished = false
    }

    private static func run(
        shared: Shared, store: any StateStore, capacity: Int, batchSize: Int,
        retryInterval: Duration, linger: Duration, log: @Sendable (String) -> Void,
        outageLog: @Sendable (String) -> Void
    ) {
        var inOutage = false
        var failuresThisOutage = 0
        let condition = shared.condition
        condition.lock()
        while true {
            while shared.queue.isEmpty && !shared.stopping { condition.wait() }
            if !inOutage && linger > .zero {
                let until = Date().addingTimeInterval(linger.timeInterval)
                while !shared.stopping && shared.flushRequests == 0 && shared.queue.count < batchSize
                        && condition.wait(until: until) {}
            }
            if shared.queue.isEmpty || (shared.stopping && inOutage) { break }
            let batch = shared.queue.removeFirst(upTo: batchSize)
            shared.writing = true
            condition.unlock()

            var message: String?
            var outageMessage: String?
            var failure: (any Error)?
            do {
                try store.apply(batch)
            } catch {
                failure = error
            }

            condition.lock()
            shared.writing = false
            if let failure {
                shared.statistics.failedBatches += 1
                let transient = (failure as? any StateStoreFailure)?.isTransient ?? false
                if transient {
                    failuresThisOutage += 1
                    if !inOutage {
                        inOutage = true
                        shared.statistics.outages += 1
                        outageMessage = "state store: cannot write: \(failure); keeping up to \(capacity) changes "
                            + "in memory and retrying every \(retryInterval.timeInterval) s "
                            + "(logged once until writes succeed again)"
                    }
                    let room = capacity - shared.queue.count
                    let kept = batch.suffix(max(0, room))
                    shared.statistics.dropped += batch.count - kept.count
                    shared.queue.prepend(Array(kept))
                } else {
                    shared.statistics.dropped += batch.count
                    message = "state store: gave up \(batch.count) change(s) the store refused: \(failure)"
                }
            } else {
                shared.statistics.written += batch.count
                if inOutage {
                    outageMessage = "state store: writes succeed again after \(failuresThisOutage) failed attempt(s); "
                        + "\(shared.statistics.dropped) change(s) dropped in all so far"
                    inOutage = false
                    failuresThisOutage = 0
                }
            }
            condition.broadcast()
            if message != nil || outageMessage != nil {
                condition.unlock()
                if let message { log(message) }
                if let outageMessage { outageLog(outageMessage) }
                condition.lock()
            }
            if inOutage && !shared.stopping {
                let wake = Date().addingTimeInterval(retryInterval.timeInterval)
                while !shared.stopping && condition.wait(until: wake) {}
            }
        }
        shared.statistics.dropped += shared.queue.count
        shared.queue = ChangeQueue()
        shared.finished = true
        condition.broadcast()
        condition.unlock()
    }
}

/// A FIFO of changes with O(1) removal at the head (an array and a moving start index).
struct ChangeQueue {
    private var items: [StateChange] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ change: StateChange) { items.append(change) }

    mutating func removeFirst() {
        head += 1
        compact()
    }

    mutating func removeFirst(upTo limit: Int) -> [StateChange] {
        let end = min(items.count, head + limit)
        let taken = Array(items[head..<end])
        head = end
        compact()
        return taken
    }

    /// Puts `changes` back in front of what is queued, in their order.
    mutating func prepend(_ changes: [StateChange]) {
        items = changes + items[head...]
        head = 0
    }

    private mutating func compact() {
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}

extension Duration {
    /// The duration in seconds, as Foundation and Dispatch count time.
    public var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
