import Foundation
import HeloState
import Locking

/// Stands between the penalty service's threads (the state writer, the refresh thread) and the
/// real store, and is the one voice that reports the store's health: one warning when the
/// store becomes unusable (`state store: cannot write: …`, or `read`, `prune`), one info line
/// when it works again (`state store: writes succeed again after …; N change(s) dropped in all
/// so far`) — never a line per connection or per retry, however many calls fail in between.
/// (The state writer's own lines about an outage would repeat these; the service drops them.)
///
/// **An outage** (a transient failure: the server is down, unreachable, too slow, the disk is
/// full) lets every call through: the writer retries each second and the refresh thread at its
/// interval. A successful write ends any outage; a read or prune ends only an outage that began
/// with the same kind of call, since reads still work on a full disk.
///
/// **A configuration problem** (``StateStoreFailure/isConfigurationProblem``, e.g. a wrong
/// password, a missing database or grant) is logged as an error, and from then on calls fail at
/// once with a transient ``StoreHealthError/waiting(_:)`` — so the writer keeps its queue rather
/// than giving the changes up — except one call per `probeInterval`, which tries the server
/// again: a database fixed while heloguard runs is used from the next probe on.
final class StoreHealth: StateStore {
    let base: any StateStore
    /// How often a store with a configuration problem is tried again.
    let probeInterval: TimeInterval
    private let log: any MailLog
    private let name: String
    private let state = Locked<Health>(.healthy)
    /// How many changes the writer has given up so far, for the recovery line (set once the
    /// writer exists).
    private let droppedChanges = Locked<(@Sendable () -> Int)?>(nil)

    private enum Health {
        case healthy
        case outage(since: Date, reason: String, verb: String)
        case misconfigured(since: Date, reason: String, lastProbe: Date)
    }

    /// - Parameter name: how messages call the store (its location; never a password).
    init(_ base: any StateStore, name: String, probeInterval: TimeInterval, log: any MailLog) {
        self.base = base
        self.name = name
        self.probeInterval = probeInterval
        self.log = log
    }

    /// Lets the recovery line say how many changes the writer gave up.
    func countDroppedChanges(with counter: @escaping @Sendable () -> Int) {
        droppedChanges.withLock { $0 = counter }
    }

    /// True while the store fails (an outage or a configuration problem).
    var isFailing: Bool {
        state.withLock { if case .healthy = $0 { return false } else { return true } }
    }

    // MARK: StateStore

    func loadPenalties(rememberedSince cutoff: Date) throws -> [PenaltyEntry] {
        try guarded("read") { try base.loadPenalties(rememberedSince: cutoff) }
    }

    func apply(_ changes: [StateChange]) throws {
        try guarded("write") { try base.apply(changes) }
    }

    /// Not a health signal either way: a store that cannot tell answers without asking its
    /// server, which must not end an outage, and a failure here is found again by the load
    /// that follows it (`PenaltyService.refresh` reloads whenever this throws).
    func mayHaveChangedElsewhere() throws -> Bool {
        try base.mayHaveChangedElsewhere()
    }

    @discardableResult
    func prune(_ limits: RetentionLimits, at now: Date) throws -> PruneResult {
        try guarded("prune") { try base.prune(limits, at: now) }
    }

    func close() {
        base.close()
    }

    // MARK: Health

    /// Runs `call` (a `verb` for the log) unless a misconfigured store is not due for a probe.
    private func guarded<T>(_ verb: String, _ call: () throws -> T) throws -> T {
        let now = Date()
        let held: String? = state.withLock { health in
            guard case let .misconfigured(since, reason, lastProbe) = health else { return nil }
            if now.timeIntervalSince(lastProbe) < probeInterval { return reason }
            health = .misconfigured(since: since, reason: reason, lastProbe: now)
            return nil
        }
        if let held { throw StoreHealthError.waiting(held) }
        do {
            let value = try call()
            noteSuccess(verb)
            return value
        } catch {
            HeloGuardMetrics.current?.stateStoreErrors.increment()
            if let failure = error as? any StateStoreFailure, failure.isConfigurationProblem {
                noteMisconfigured("\(failure)")
                throw StoreHealthError.waiting("\(failure)")
            }
            if (error as? any StateStoreFailure)?.isTransient == true { noteOutage(verb, "\(error)") }
            throw error
        }
    }

    private func noteSuccess(_ verb: String) {
        let ended: (since: Date, problem: Bool)? = state.withLock { health in
            switch health {
            case .healthy:
                return nil
            case let .outage(since, _, failedVerb):
                guard verb == failedVerb || verb == "write" else { return nil }
                health = .healthy
                return (since, false)
            case let .misconfigured(since, _, _):
                health = .healthy
                return (since, true)
            }
        }
        guard let ended else { return }
        let seconds = Int(Date().timeIntervalSince(ended.since).rounded())
        let dropped = droppedChanges.withLock { $0 }?() ?? 0
        log.info("state store: writes succeed again after \(seconds) s (\(name) works again"
                 + "\(ended.problem ? ", the problem was fixed" : "")); \(dropped) change(s) dropped in all so far")
    }

    private func noteOutage(_ verb: String, _ reason: String) {
        let starts: Bool = state.withLock { health in
            guard case .healthy = health else { return false }
            health = .outage(since: Date(), reason: reason, verb: verb)
            return true
        }
        if starts {
            log.warning("state store: cannot \(verb): \(reason); the penalty box keeps working from memory, "
                        + "changes are queued and retried (logged once until writes succeed again)")
        }
    }

    private func noteMisconfigured(_ reason: String) {
        let report: Bool = state.withLock { health in
            let now = Date()
            switch health {
            case let .misconfigured(since, previous, _):
                health = .misconfigured(since: since, reason: reason, lastProbe: now)
                return previous != reason
            case let .outage(since, _, _):
                health = .misconfigured(since: since, reason: reason, lastProbe: now)
                return true
            case .healthy:
                health = .misconfigured(since: now, reason: reason, lastProbe: now)
                return true
            }
        }
        if report {
            log.error("state store: \(reason); the penalty box works from memory and changes are queued until "
                      + "this is fixed (tried again every \(Int(probeInterval)) s, logged once)")
        }
    }
}

/// What ``StoreHealth`` throws while it holds calls back from a misconfigured store.
enum StoreHealthError: StateStoreFailure {
    /// The store is misconfigured (the reason); the call was not tried. Transient: a state
    /// writer keeps the changes for when the problem is fixed.
    case waiting(String)

    var isTransient: Bool { true }

    var description: String {
        switch self {
        case let .waiting(reason): return "waiting for the state database to be fixed: \(reason)"
        }
    }
}
