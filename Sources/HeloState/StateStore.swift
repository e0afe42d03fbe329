import Foundation
import HeloPolicy

/// One connection's HELO as the HELO log keeps it, for `heloguard stats`: when, from which client
/// address (the real address, not the penalty-box key) and reverse name, the HELO name, the
/// verdict and the restriction that decided it.
public struct HeloLogRecord: Sendable, Hashable {
    public var time: Date
    public var client: IPAddress
    public var helo: String
    /// The outcome as logged: one of ``HeloLogVerdict``'s words.
    public var verdict: String
    /// The restriction that decided, e.g. `reject_impersonating_helo`; nil when none did.
    public var restriction: String?
    /// The client's reverse name as the MTA reported it: the verified name, else the unverified
    /// PTR name; nil when it has none. Lets `heloguard stats` see a HELO that claims a provider's
    /// name from an address whose reverse name is elsewhere.
    public var clientName: String?

    public init(time: Date, client: IPAddress, helo: String, verdict: String, restriction: String? = nil,
                clientName: String? = nil) {
        self.time = time
        self.client = client
        self.helo = helo
        self.verdict = verdict
        self.restriction = restriction
        self.clientName = clientName
    }
}

/// The words the HELO log's `verdict` column holds.
public enum HeloLogVerdict {
    public static let accept = "accept"
    public static let reject = "reject"
    public static let deferred = "defer"
    /// `dry_run = yes`: the restrictions refused (5xx), heloguard accepted and logged a warning.
    public static let wouldReject = "would-reject"
    /// `dry_run = yes`: the restrictions deferred (4xx), heloguard accepted and logged a warning.
    public static let wouldDefer = "would-defer"
    /// No recipient was decided (the client left before RCPT TO).
    public static let none = "none"
}

/// One write for a store; a ``StateWriter`` hands them over in batches, each batch in one transaction.
public enum StateChange: Sendable, Hashable {
    case upsertPenalty(PenaltyEntry)
    case removePenalty(PenaltyKey)
    case heloLog(HeloLogRecord)
}

/// How much a store keeps; see ``StateStore/prune(_:at:)``.
public struct RetentionLimits: Sendable, Hashable {
    /// HELO log records older than this go (`helo_log_retention`, default 30 days).
    public var heloLogRetention: TimeInterval
    /// At most this many HELO log records are kept, the newest (default 2,000,000: a few hundred
    /// megabytes with the indices).
    public var heloLogMaxRecords: Int
    /// Penalty entries that expired longer ago than this are forgotten (``PenaltyPolicy/memory``).
    public var penaltyMemory: TimeInterval
    /// At most this many penalty entries are kept, those that expire last
    /// (``PenaltyPolicy/maxEntries``).
    public var penaltyMaxEntries: Int

    public init(
        heloLogRetention: TimeInterval = 30 * PenaltyPolicy.day,
        heloLogMaxRecords: Int = 2_000_000,
        penaltyMemory: TimeInterval = PenaltyPolicy().memory,
        penaltyMaxEntries: Int = PenaltyPolicy().maxEntries
    ) {
        self.heloLogRetention = heloLogRetention
        self.heloLogMaxRecords = max(0, heloLogMaxRecords)
        self.penaltyMemory = penaltyMemory
        self.penaltyMaxEntries = max(0, penaltyMaxEntries)
    }

    /// The limits that go with a penalty policy, with the HELO log's given separately.
    public init(policy: PenaltyPolicy, heloLogRetention: TimeInterval = 30 * PenaltyPolicy.day,
                heloLogMaxRecords: Int = 2_000_000) {
        self.init(heloLogRetention: heloLogRetention, heloLogMaxRecords: heloLogMaxRecords,
                  penaltyMemory: policy.memory, penaltyMaxEntries: policy.maxEntries)
    }
}

/// What ``StateStore/prune(_:at:)`` removed.
public struct PruneResult: Sendable, Hashable {
    public var penaltiesRemoved: Int
    public var heloLogRecordsRemoved: Int

    public init(penaltiesRemoved: Int = 0, heloLogRecordsRemoved: Int = 0) {
        self.penaltiesRemoved = penaltiesRemoved
        self.heloLogRecordsRemoved = heloLogRecordsRemoved
    }
}

/// An error a store reports. ``isTransient`` tells a ``StateWriter`` whether to keep the records
/// and try again later (a full disk, an I/O error, a lock, a lost connection) or to give them up
/// (the store refused them and always will).
public protocol StateStoreFailure: Error, CustomStringConvertible {
    var isTransient: Bool { get }
    /// True when no call can succeed until an administrator changes something (a login, a
    /// missing database, a grant): retrying at once is pointless, though it may be fixed while
    /// heloguard runs. False by default.
    var isConfigurationProblem: Bool { get }
}

extension StateStoreFailure {
    public var isConfigurationProblem: Bool { false }
}

/// Where the penalty box and the HELO log live between restarts, and are shared between hosts.
///
/// Two implementations are meant to sit behind it: ``SQLiteStateStore`` (one embedded file, the
/// default) and a PostgreSQL one for a fleet of MX hosts. Nothing in the protocol is specific to
/// either; times are `Date`s, clients are `IPAddress`es and ``PenaltyKey``s.
///
/// Calls may block on I/O: never call a store on the per-connection path. Reads happen at start
/// and on refresh; writes go through a ``StateWriter``. Errors conform to ``StateStoreFailure``.
public protocol StateStore: Sendable {
    /// Every penalty entry that expires at or after `cutoff` (pass ``PenaltyPolicy/forgetCutoff(at:)``
    /// to get the boxed clients and the expired ones still remembered for the backoff).
    func loadPenalties(rememberedSince cutoff: Date) throws -> [PenaltyEntry]

    /// False only when the store knows that nobody but itself has changed it since the previous
    /// call (no `heloguard penalty` command, no other host): the penalty box in memory, which
    /// already holds this host's own entries, is then current and need not be reloaded. True at
    /// the first call, and always from a store that cannot tell (the default).
    func mayHaveChangedElsewhere() throws -> Bool

    /// Applies `changes` in order, all or nothing.
    func apply(_ changes: [StateChange]) throws

    /// Removes what the limits no longer allow; returns how much went.
    @discardableResult
    func prune(_ limits: RetentionLimits, at now: Date) throws -> PruneResult

    /// Releases the store; later calls fail. Calling it twice is harmless.
    func close()
}

extension StateStore {
    public func mayHaveChangedElsewhere() throws -> Bool { true }

    public func upsertPenalty(_ entry: PenaltyEntry) throws { try apply([.upsertPenalty(entry)]) }
    public func removePenalty(_ key: PenaltyKey) throws { try apply([.removePenalty(key)]) }
    public func appendHeloLog(_ records: [HeloLogRecord]) throws { try apply(records.map { .heloLog($0) }) }
}
