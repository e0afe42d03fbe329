import Foundation
import HeloPolicy
import HeloState
import HeloStatePostgres
import Locking
import Synchronization

/// The penalty box and the HELO log as the milter runs them: the in-memory ``PenaltyBox`` every
/// connection reads, the store that keeps it across restarts — the embedded file
/// (`heloguard.sqlite` under `state_directory`), or with `state_database` a PostgreSQL database
/// shared by several MX hosts — a ``StateWriter`` that writes off the mail path, and a refresh
/// thread that reloads the box from the store every ``refreshInterval``
/// (`penalty_box_refresh_interval`: so `heloguard penalty add` and `remove`, and with a shared
/// database every other host's penalties, take effect within that time).
///
/// **Started late.** Nothing touches the disk and no thread starts in `init`: the service
/// reads its configuration before it detaches (fork), and threads started before a fork do
/// not exist in the child. ``prepare()`` starts everything once detached; the first penalty or
/// HELO log record starts it otherwise.
///
/// **Never blocks mail.** Looking a client up reads memory only; boxing a client updates
/// memory and queues the write. When the embedded file cannot be opened (a damaged file, a
/// permission), the error is logged once and the box works in memory only: mail keeps
/// flowing, boxed clients are still refused until a restart, and nothing is written.
///
/// **A shared database that fails** (down, unreachable, a wrong password) never stops mail
/// either: the box keeps working from memory, the writer keeps the changes queued (bounded,
/// oldest dropped first) and retries, and ``StoreHealth`` logs one line when the trouble starts
/// and one when it ends. The PostgreSQL store is opened without connecting and the box is first
/// loaded by the refresh thread, so a dead server never delays the start either.
///
/// **A refresh never loses this host's penalties.** The box is replaced by what the store
/// holds, plus the entries this host made that the store may not have yet: those made since
/// the refresh began, and — when the writer could not write everything first (an outage) —
/// those made before it too.
///
/// Adapts the box to the rule core's ``PenaltyLookup`` for `reject_penalized_client`.
public final class PenaltyService: PenaltyLookup, Sendable {
    /// How often the refresh thread reloads the box from the store when neither the caller nor
    /// the settings say (`penalty_box_refresh_interval`'s default).
    public static let defaultRefreshInterval: Duration = .seconds(StateSettings().refreshInterval)
    /// The refresh thread prunes the store (HELO log retention, forgotten penalties) every this
    /// many refreshes (and at start).
    static let refreshesPerPrune = 20

    public let settings: StateSettings
    public let policy: PenaltyPolicy
    /// The in-memory box every connection reads.
    public let box: PenaltyBox
    public let refreshInterval: Duration
    private let persistent: Bool
    private let log: any MailLog
    private let state = Locked<Phase>(.idle)
    private let connections = Atomic<Int>(0)
    /// The entries this host made that a refresh must keep even if the store does not have them
    /// yet (see ``refresh(now:)``). Locked before the box whenever both are.
    private let unconfirmed = Locked<[PenaltyKey: PenaltyEntry]>([:])

    private enum Phase: Sendable {
        case idle
        case running(Running)
        case stopped
    }

    /// What runs once started. `store` and `writer` are nil when the box works in memory only.
    private struct Running: Sendable {
        let store: StoreHealth?
        let writer: StateWriter?
        let refresher: Refresher?
    }

    /// A service backed by the store the settings name: the PostgreSQL database of
    /// `state_database`, else the file under `state_directory` (created on first use).
    /// `refreshInterval` defaults to `penalty_box_refresh_interval`.
    public convenience init(settings: StateSettings, log: any MailLog, refreshInterval: Duration? = nil) {
        self.init(settings: settings, log: log, persistent: true,
                  refreshInterval: refreshInterval ?? .seconds(max(1, settings.refreshInterval)))
    }

    /// A service with no store: the box lives in memory only and the HELO log goes nowhere
    /// (tests and tools).
    public static func inMemory(settings: StateSettings = StateSettings(), log: any MailLog = StderrLog()) -> PenaltyService {
        PenaltyService(settings: settings, log: log, persistent: false, refreshInterval: defaultRefreshInterval)
    }

    private init(settings: StateSettings, log: any MailLog, persistent: Bool, refreshInterval: Duration) {
        self.settings = settings
        self.policy = Self.policy(settings)
        self.box = PenaltyBox(policy: policy)
        self.log = log
        self.persistent = persistent
        self.refreshInterval = refreshInterval
    }

    /// The box's policy under `settings`.
    public static func policy(_ settings: StateSettings) -> PenaltyPolicy {
        PenaltyPolicy(ttl: TimeInterval(settings.penaltyTTL), maxTTL: TimeInterval(settings.penaltyMaxTTL),
                      maxEntries: settings.penaltyMaxEntries, ipv6PrefixLength: settings.ipv6PrefixLength)
    }

    /// Opens the store, loads the box, starts the writer and the refresh thread, unless that
    /// already happened. Returns why the store cannot be used (already logged), or nil.
    @discardableResult
    public func prepare() -> String? {
        started().problem
    }

    /// True once started with a store (which may be failing right now; see ``storeIsFailing``).
    public var isPersistent: Bool {
        state.withLock { phase in
            if case .running(let running) = phase { return running.store != nil }
            return false
        }
    }

    /// True while the store is down or misconfigured (the box then works from memory).
    public var storeIsFailing: Bool {
        state.withLock { phase in
            if case .running(let running) = phase { return running.store?.isFailing ?? false }
            return false
        }
    }

    // MARK: PenaltyLookup

    public func penalty(for client: IPAddress) -> PenaltyNotice? {
        guard let entry = box.lookup(client, at: Date()) else { return nil }
        return PenaltyNotice(reason: entry.reason, expiresAt: Int64(entry.expires.timeIntervalSince1970.rounded(.down)))
    }

    // MARK: The mail path

    /// Boxes `clientAddress` (a new entry, or a longer one for a repeat offender) and queues
    /// the entry for the store. Returns the entry; nil when the address is not an IP address.
    @discardableResult
    public func penalize(clientAddress: String, reason: String, at now: Date = Date()) -> PenaltyEntry? {
        guard let address = IPAddress(clientAddress) else { return nil }
        let writer = started().running?.writer
        // Queued under the lock too: a refresh that takes the unconfirmed entries between the
        // two steps would flush the writer without this entry, load a store without it, and
        // drop it from the box until the next refresh (the load test under ThreadSanitizer
        // caught an impersonator missing from the box this way).
        let entry = unconfirmed.withLock { unconfirmed in
            let entry = box.penalize(address, reason: reason, at: now)
            if writer != nil && unconfirmed.count < policy.maxEntries { unconfirmed[entry.key] = entry }
            writer?.submit(.upsertPenalty(entry))
            return entry
        }
        HeloGuardMetrics.current?.penalized.increment()
        return entry
    }

    /// True for the connections the HELO log records: `helo_log = yes`, and one in
    /// `helo_log_sample` (counted over all connections of this service).
    public func sampleConnection() -> Bool {
        guard settings.heloLog else { return false }
        let n = connections.wrappingAdd(1, ordering: .relaxed).oldValue
        return settings.heloLogSample <= 1 || n % settings.heloLogSample == 0
    }

    /// Queues one HELO log record (the caller has sampled it with ``sampleConnection()``).
    public func record(_ record: HeloLogRecord) {
        started().running?.writer?.submit(.heloLog(record))
    }

    // MARK: Off the mail path

    /// Writes what is queued, then replaces the box with what the store holds (entries added or
    /// removed by `heloguard penalty`, or by other hosts on a shared database, included), keeping
    /// the entries this host made that the store may not have yet. Called by the refresh thread;
    /// does nothing in memory-only mode. A store that fails leaves the box as it is.
    ///
    /// Unless `always`, nothing is reloaded while the store says nobody else changed it: the box
    /// already holds every entry this host made (an embedded store with 10,000 entries costs
    /// about 70 ms of CPU to reload, every `penalty_box_refresh_interval`, for nothing).
    public func refresh(now: Date = Date(), always: Bool = true) {
        guard let running = started().running, let store = running.store else { return }
        // Asked before every load, so that the next question covers the time since this one.
        let changedElsewhere = try? store.mayHaveChangedElsewhere()
        if !always && changedElsewhere == false { return }
        // Entries made before this point are written by the flush below, unless it times out.
        let earlier = unconfirmed.withLock { unconfirmed in
            defer { unconfirmed = [:] }
            return unconfirmed
        }
        let drained = running.writer?.flush(timeout: .seconds(5)) ?? true
        let loaded: [PenaltyEntry]
        do {
            loaded = try store.loadPenalties(rememberedSince: policy.forgetCutoff(at: now))
        } catch {
            unconfirmed.withLock { Self.merge(earlier.values, into: &$0) }
            return
        }
        unconfirmed.withLock { unconfirmed in
            if !drained { Self.merge(earlier.values, into: &unconfirmed) }
            var merged: [PenaltyKey: PenaltyEntry] = [:]
            merged.reserveCapacity(loaded.count + unconfirmed.count)
            Self.merge(loaded, into: &merged)
            Self.merge(unconfirmed.values, into: &merged)
            box.replaceAll(with: Array(merged.values))
        }
    }

    /// Adds `entries` to `table`; where a key is there already, the entry that boxes longer
    /// stays (then the one with more offences).
    static func merge(_ entries: some Sequence<PenaltyEntry>, into table: inout [PenaltyKey: PenaltyEntry]) {
        for entry in entries {
            if let present = table[entry.key], (present.expires, present.offences) >= (entry.expires, entry.offences) {
                continue
            }
            table[entry.key] = entry
        }
    }

    /// Waits at most `timeout` for queued writes, then stops the threads and closes the store.
    /// Later penalties still work in memory; nothing more is written.
    @discardableResult
    public func shutdown(timeout: Duration = .seconds(5)) -> Bool {
        let running: Running? = state.withLock { phase in
            let current: Running?
            if case .running(let running) = phase { current = running } else { current = nil }
            phase = .stopped
            return current
        }
        guard let running else { return true }
        running.refresher?.stop()
        let drained = running.writer?.shutdown(timeout: timeout) ?? true
        running.store?.close()
        return drained
    }

    /// Counters of the writer (nil before start or in memory-only mode).
    public var writerStatistics: StateWriter.Statistics? {
        state.withLock { phase in
            if case .running(let running) = phase { return running.writer?.statistics }
            return nil
        }
    }

    // MARK: Start

    private func started() -> (running: Running?, problem: String?) {
        var problem: String?
        let running: Running? = state.withLock { phase in
            switch phase {
            case .running(let running):
                return running
            case .stopped:
                return nil
            case .idle:
                let (made, why) = start()
                problem = why
                phase = .running(made)
                return made
            }
        }
        if let problem, persistent { log.error(problem) }
        // Outside the lock: the thread's first round (a prune) may take a moment.
        running?.refresher?.startIfNeeded()
        return (running, problem)
    }

    /// Opens the store (the embedded one also loads the box). Runs once, under the state lock.
    private func start() -> (Running, String?) {
        guard persistent else { return (Running(store: nil, writer: nil, refresher: nil), nil) }
        let base: any StateStore
        let name: String
        let shared = settings.usesSharedDatabase
        if shared {
            guard let url = settings.sharedDatabaseURL else {
                return (Running(store: nil, writer: nil, refresher: nil),
                        "state_database is not a valid PostgreSQL URL; the penalty box works in memory only")
            }
            // No connection yet: the refresh thread's first round loads the box.
            base = PostgresStateStore(url: url)
            name = url.location
        } else {
            name = settings.databasePath
            do {
                base = try SQLiteStateStore(path: name)
            } catch {
                return (Running(store: nil, writer: nil, refresher: nil),
                        "\(error); the penalty box works in memory only (lost at restart) and the HELO log is not recorded")
            }
        }
        let log = self.log
        let store = StoreHealth(base, name: name, probeInterval: refreshInterval.timeInterval, log: log)
        if !shared {
            do {
                box.replaceAll(with: try store.loadPenalties(rememberedSince: policy.forgetCutoff(at: Date())))
            } catch {
                log.error("cannot load the penalty box from \(name): \(error); starting with an empty box")
            }
        }
        // StoreHealth reports an outage once for the whole service (writer and refresh thread
        // alike); the writer's own lines about it would only repeat that.
        let writer = StateWriter(store: store, reportsOutages: false, log: { line in log.warning(line) })
        store.countDroppedChanges { [weak writer] in writer?.statistics.dropped ?? 0 }
        let refresher = Refresher(interval: refreshInterval)
        let running = Running(store: store, writer: writer, refresher: refresher)
        let limits = RetentionLimits(policy: policy, heloLogRetention: TimeInterval(settings.heloLogRetention))
        refresher.body = { [weak self] round in
            guard let self else { return false }
            // In full after each prune round (what the prune removed leaves memory too), else
            // only when someone else changed the store.
            if round > 0 || shared { self.refresh(always: (round - 1) % Self.refreshesPerPrune == 0) }
            if round % Self.refreshesPerPrune == 0 {
                do {
                    try store.prune(limits, at: Date())
                } catch let failure as any StateStoreFailure where failure.isTransient {
                    // An outage: StoreHealth has said so already.
                } catch {
                    log.warning("cannot prune the state database \(name): \(error)")
                }
            }
            return true
        }
        return (running, nil)
    }
}

/// The refresh thread: calls `body` with the round number (0 at once, then every `interval`)
/// until stopped or `body` returns false.
final class Refresher: @unchecked Sendable {
    let interval: Duration
    /// Set before the thread starts; read only by the thread.
    var body: (@Sendable (Int) -> Bool)?
    private let condition = NSCondition()
    private var stopping = false
    private var launched = false

    init(interval: Duration) {
        self.interval = interval
    }

    /// Starts the thread the first time; true when this call started it.
    @discardableResult
    func startIfNeeded() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !launched, !stopping else { return false }
        launched = true
        let thread = Thread { [self] in run() }
        thread.name = "heloguard-penalty-refresh"
        thread.start()
        return true
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        var round = 0
        while true {
            condition.lock()
            let isStopping = stopping
            condition.unlock()
            if isStopping { return }
            guard let body, body(round) else { return }
            round += 1
            condition.lock()
            let deadline = Date().addingTimeInterval(interval.timeInterval)
            while !stopping, condition.wait(until: deadline) {}
            condition.unlock()
        }
    }
}
