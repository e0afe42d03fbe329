import Foundation
import HeloPolicy
import HeloState
import Synchronization

/// The penalty box and the HELO log as the milter runs them: the in-memory ``PenaltyBox`` every
/// connection reads, the embedded store (`heloguard.sqlite` under `state_directory`) that keeps
/// it across restarts, a ``StateWriter`` that writes off the mail path, and a refresh thread
/// that reloads the box from the store every ``refreshInterval`` (so `heloguard penalty add` and
/// `remove`, run by an administrator against the same file, take effect within that time).
///
/// **Started late.** Nothing touches the disk and no thread starts in `init`: the service
/// reads its configuration before it detaches (fork), and threads started before a fork do
/// not exist in the child. ``prepare()`` starts everything once detached; the first penalty or
/// HELO log record starts it otherwise.
///
/// **Never blocks mail.** Looking a client up reads memory only; boxing a client updates
/// memory and queues the write. When the store cannot be opened (a damaged file, a
/// permission), the error is logged once and the box works in memory only: mail keeps
/// flowing, boxed clients are still refused until a restart, and nothing is written.
///
/// Adapts the box to the rule core's ``PenaltyLookup`` for `reject_penalized_client`.
public final class PenaltyService: PenaltyLookup, Sendable {
    /// How often the refresh thread reloads the box from the store.
    public static let defaultRefreshInterval: Duration = .seconds(30)
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
    private let state = Mutex<Phase>(.idle)
    private let connections = Atomic<Int>(0)

    private enum Phase: Sendable {
        case idle
        case running(Running)
        case stopped
    }

    /// What runs once started. `store` and `writer` are nil when the box works in memory only.
    private struct Running: Sendable {
        let store: SQLiteStateStore?
        let writer: StateWriter?
        let refresher: Refresher?
    }

    /// A service backed by the store under `settings.directory` (created on first use).
    public convenience init(settings: StateSettings, log: any MailLog, refreshInterval: Duration = PenaltyService.defaultRefreshInterval) {
        self.init(settings: settings, log: log, persistent: true, refreshInterval: refreshInterval)
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

    /// True once started with a usable store.
    public var isPersistent: Bool {
        state.withLock { phase in
            if case .running(let running) = phase { return running.store != nil }
            return false
        }
    }

    // MARK: PenaltyLookup

    public func penalty(for clientAddress: String) -> PenaltyNotice? {
        guard let address = IPAddress(clientAddress), let entry = box.lookup(address, at: Date()) else { return nil }
        return PenaltyNotice(reason: entry.reason, expiresAt: Int64(entry.expires.timeIntervalSince1970.rounded(.down)))
    }

    // MARK: The mail path

    /// Boxes `clientAddress` (a new entry, or a longer one for a repeat offender) and queues
    /// the entry for the store. Returns the entry; nil when the address is not an IP address.
    @discardableResult
    public func penalize(clientAddress: String, reason: String, at now: Date = Date()) -> PenaltyEntry? {
        guard let address = IPAddress(clientAddress) else { return nil }
        let entry = box.penalize(address, reason: reason, at: now)
        started().running?.writer?.submit(.upsertPenalty(entry))
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
    /// removed by `heloguard penalty` included). Called by the refresh thread; does nothing in
    /// memory-only mode.
    public func refresh(now: Date = Date()) {
        guard let running = started().running, let store = running.store else { return }
        running.writer?.flush(timeout: .seconds(5))
        do {
            box.replaceAll(with: try store.loadPenalties(rememberedSince: policy.forgetCutoff(at: now)))
            running.refresher?.noteSuccess(log: log)
        } catch {
            running.refresher?.noteFailure("cannot refresh the penalty box from the state database: \(error); "
                                           + "the box keeps working from memory", log: log)
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

    /// Opens the store and loads the box. Runs once, under the state lock.
    private func start() -> (Running, String?) {
        guard persistent else { return (Running(store: nil, writer: nil, refresher: nil), nil) }
        let path = settings.databasePath
        let store: SQLiteStateStore
        do {
            store = try SQLiteStateStore(path: path)
        } catch {
            return (Running(store: nil, writer: nil, refresher: nil),
                    "\(error); the penalty box works in memory only (lost at restart) and the HELO log is not recorded")
        }
        do {
            box.replaceAll(with: try store.loadPenalties(rememberedSince: policy.forgetCutoff(at: Date())))
        } catch {
            log.error("cannot load the penalty box from \(path): \(error); starting with an empty box")
        }
        let log = self.log
        let writer = StateWriter(store: store, log: { line in log.warning(line) })
        let refresher = Refresher(interval: refreshInterval)
        let running = Running(store: store, writer: writer, refresher: refresher)
        let limits = RetentionLimits(policy: policy, heloLogRetention: TimeInterval(settings.heloLogRetention))
        refresher.body = { [weak self] round in
            guard let self else { return false }
            if round % Self.refreshesPerPrune == 0 {
                do {
                    try store.prune(limits, at: Date())
                } catch {
                    log.warning("cannot prune the state database \(path): \(error)")
                }
            }
            if round > 0 { self.refresh() }
            return true
        }
        return (running, nil)
    }
}

/// The refresh thread: calls `body` with the round number (0 at once, then every `interval`)
/// until stopped or `body` returns false. Failures are logged once per outage.
final class Refresher: @unchecked Sendable {
    let interval: Duration
    /// Set before the thread starts; read only by the thread.
    var body: (@Sendable (Int) -> Bool)?
    private let condition = NSCondition()
    private var stopping = false
    private var launched = false
    private var failing = false

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

    func noteFailure(_ message: String, log: any MailLog) {
        condition.lock()
        let first = !failing
        failing = true
        condition.unlock()
        if first { log.warning(message) }
    }

    func noteSuccess(log: any MailLog) {
        condition.lock()
        let recovered = failing
        failing = false
        condition.unlock()
        if recovered { log.info("the penalty box is refreshed from the state database again") }
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
            let deadline = Date().addingTimeInterval(Double(interval.components.seconds)
                                                     + Double(interval.components.attoseconds) / 1e18)
            while !stopping, condition.wait(until: deadline) {}
            condition.unlock()
        }
    }
}
