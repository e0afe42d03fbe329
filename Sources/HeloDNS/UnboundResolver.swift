import HeloPolicy
import Locking

/// The real DNS resolver behind the HELO restrictions: libunbound, forwarding every question to
/// the configured DNS servers (or those of the system's resolv.conf), with a hard deadline per
/// lookup.
///
/// Why this shape:
/// - One libunbound context serves every thread of the milter (libmilter calls from a pool of
///   threads), so its cache is shared: the HELO of a busy client is looked up once per TTL.
/// - libunbound's blocking lookup has no deadline, and libmilter's pool grows without bound
///   while callbacks block. So questions go through libunbound's asynchronous interface; one
///   event thread collects the answers, and each caller waits for its own answer no longer than
///   ``DNSSettings/timeoutMilliseconds``, then cancels its question and reports a temporary
///   failure.
/// - Postfix asks the system resolver, which sends every question to the DNS server. libunbound
///   would answer some names itself (`localhost`, `test.`, `invalid.`, private reverse zones, …),
///   so its built-in zones are removed, and `/etc/hosts` is never read.
/// - Answers are sorted the way Postfix's `dns_lookup()` sorts them (see ``AnswerDecoder``), and
///   a server's REFUSED stays distinct from SERVFAIL although libunbound reports both as
///   SERVFAIL (see ``ServfailReasons``).
///
/// ``shutdown()`` (or the last reference going away) stops the event thread and frees
/// libunbound's context; lookups still waiting then get a temporary failure.
public final class UnboundResolver: HeloResolver {
    /// How many questions were asked and how many of them ran into the deadline.
    public struct Statistics: Sendable, Hashable {
        public var lookups: Int
        public var timeouts: Int
    }

    private let core: ResolverCore

    /// Sets up libunbound for `settings`. Throws when a server address is not usable, the
    /// timeout is not 1 ms to 1 hour, or libunbound refuses an option this resolver depends on.
    ///
    /// Without servers, the `nameserver` lines of /etc/resolv.conf are used (port 53); with no
    /// such line, or no readable file, 127.0.0.1 is asked, as the C library does.
    public convenience init(settings: DNSSettings) throws(DNSSetupError) {
        try self.init(settings: settings, resolvConfPath: nil)
    }

    /// As ``init(settings:)``, but with another resolv.conf than the system's (for tests).
    init(settings: DNSSettings, resolvConfPath: String?) throws(DNSSetupError) {
        core = try ResolverCore(settings: settings, resolvConfPath: resolvConfPath)
        try core.start()
    }

    deinit {
        core.shutdown()
    }

    /// Asks one question and waits for the answer, at most the configured timeout.
    public func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        core.lookup(name, type: type)
    }

    /// Stops the resolver: lookups waiting now get a temporary failure, later ones too.
    /// Safe to call more than once and from any thread.
    public func shutdown() {
        core.shutdown()
    }

    /// The counters since this resolver was made.
    public var statistics: Statistics {
        core.statistics
    }

    /// The libunbound options set on every context, and why (unbound.conf syntax).
    static let unboundOptions: [(name: String, value: String)] = [
        // Postfix does no DNSSEC validation; the validator would only add work.
        ("module-config:", "iterator"),
        // The configured server is often on this host (127.0.0.1); libunbound must ask it.
        ("do-not-query-localhost:", "no"),
        // Keep the server's record order, also for answers that come from the cache.
        ("rrset-roundrobin:", "no"),
        // Drop the built-in reverse zones of private and shared address space (RFC 1918, 6598,
        // 5737, ...): Postfix would ask the server about them.
        ("unblock-lan-zones:", "yes"),
        // A server that timed out is not shunned for long. By default libunbound remembers a
        // silent server for 15 minutes and may stop asking it for up to 2 minutes; a resolver
        // that just restarted, or one name that never gets an answer, must not make every
        // other lookup fail. Forget the server's state after 2 seconds, and keep probing it.
        ("infra-host-ttl:", "2"),
        ("infra-keep-probing:", "yes"),
        // Questions in flight at once (each holds a UDP socket). libunbound's library default
        // is 16, so a few slow names would queue everything else behind them.
        ("outgoing-range:", "256"),
        // More room than the library's 1 MB default: every HELO name is a few entries.
        ("msg-cache-size:", "4m"),
        ("rrset-cache-size:", "8m"),
        // Log why a question failed, so that a server's REFUSED can be told from SERVFAIL.
        ("log-servfail:", "yes"),
        ("val-log-squelch:", "no"),
    ]

    /// libunbound's built-in local zones that are not covered by `unblock-lan-zones`
    /// (RFC 6761, 6303, 7686, 8375). Each is removed, so that questions about them go to the
    /// server. (`local-zone: "<zone>" nodefault` set through `ub_ctx_set_option` does not work in
    /// libunbound 1.17: it stores the whole value as the zone name.)
    static let builtInZones = [
        "localhost.",
        "127.in-addr.arpa.",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
        "home.arpa.",
        "onion.",
        "test.",
        "invalid.",
    ]
}

/// The resolver's state, shared by the callers' threads, the event thread and libunbound's
/// callback.
///
/// Ownership of a question: the `pending` table holds each ``PendingLookup`` from before its
/// question is started until exactly one of these happened: its callback ran; `ub_cancel`
/// succeeded (then the callback can no longer run); the context was deleted at shutdown (after
/// the event thread, the only place callbacks run, has stopped). libunbound keeps only an
/// unretained pointer to it, which therefore stays valid whenever the callback can run.
final class ResolverCore: @unchecked Sendable {
    /// One hour: far beyond any sensible DNS deadline, and safe from overflow.
    static let longestTimeoutMilliseconds = 3_600_000

    private let context: UnboundContext
    private let timeoutMilliseconds: Int
    private let monitor = Monitor()
    // Guarded by `monitor`:
    private var pending: [ObjectIdentifier: PendingLookup] = [:]
    private var isShutDown = false
    private var isBroken = false
    private var callsIntoContext = 0
    /// Until a question went out, questions are started with all signals blocked, because the
    /// first one creates libunbound's background thread, which inherits the signal mask.
    private var workerStarted = false
    private var counters = UnboundResolver.Statistics(lookups: 0, timeouts: 0)
    private var eventThread: EventThread?

    init(settings: DNSSettings, resolvConfPath: String?) throws(DNSSetupError) {
        guard (1...ResolverCore.longestTimeoutMilliseconds).contains(settings.timeoutMilliseconds) else {
            throw .badTimeout(settings.timeoutMilliseconds)
        }
        timeoutMilliseconds = settings.timeoutMilliseconds
        let context = try UnboundContext()
        for option in UnboundResolver.unboundOptions {
            try context.setOption(option.name, option.value)
        }
        if let servers = settings.servers {
            guard !servers.isEmpty else { throw .noServers }
            for server in servers {
                guard (1...65535).contains(server.port) else {
                    throw .badServer(server.description, reason: "the port must be 1 to 65535")
                }
                try context.addForwarder(server.description)
            }
        } else if try !context.useResolvConf(path: resolvConfPath) {
            if let resolvConfPath {
                throw .resolvConf(path: resolvConfPath, reason: "the file cannot be read")
            }
            // No resolv.conf: the C library then asks the local host, and so do we.
            try context.addForwarder("127.0.0.1")
        }
        try context.useThread()
        context.sendLogToTap()
        for zone in UnboundResolver.builtInZones {
            try context.removeZone(zone)
        }
        self.context = context
    }

    /// Starts the event thread.
    func start() throws(DNSSetupError) {
        let tap = UnboundLogTap.shared
        let thread = try EventThread(
            answerDescriptor: context.answerDescriptor,
            logDescriptor: tap?.readDescriptor,
            answersReady: { [self] in
                if context.processAnswers() { return true }
                markBroken()
                return false
            },
            logReady: { tap?.drain() })
        monitor.withLock { eventThread = thread }
    }

    var statistics: UnboundResolver.Statistics {
        monitor.withLock { counters }
    }

    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        if QueryName.refusal(name) != nil { return .notFound }
        let lookup = PendingLookup(name: name, type: type, core: self)
        let refusal: DNSAnswer? = monitor.withLock {
            if isShutDown { return .temporaryFailure("the DNS resolver is shut down") }
            if isBroken { return .temporaryFailure("libunbound's background thread stopped") }
            pending[ObjectIdentifier(lookup)] = lookup
            callsIntoContext += 1
            counters.lookups += 1
            return nil
        }
        if let refusal { return refusal }

        let deadline = Monitor.now() + UInt64(timeoutMilliseconds) * 1_000_000
        let shield = monitor.withLock { !workerStarted }
        let (status, id) = context.resolve(name, type: type.code, for: lookup, blockingSignals: shield)
        if shield, status == 0 { monitor.withLock { workerStarted = true } }
        leaveContext()
        if status != 0 {
            // The question was not started: no callback will come.
            forget(lookup)
            return status == UnboundContext.syntaxError
                ? .notFound
                : .temporaryFailure("libunbound: \(UnboundContext.describe(status))")
        }
        if let answer = lookup.wait(until: deadline) { return answer }

        // Deadline. Cancel the question; if libunbound already took its answer off the list,
        // the callback is running or about to, and it does the bookkeeping.
        if enterContext() {
            let cancelled = context.cancel(id)
            leaveContext()
            if cancelled { forget(lookup) }
        }
        // An answer that came in while the deadline passed is still good.
        if let late = lookup.answer { return late }
        monitor.withLock { counters.timeouts += 1 }
        return .temporaryFailure("timeout after \(timeoutMilliseconds) ms")
    }

    /// Called (on the event thread) when libunbound answered `lookup`.
    func answered(_ lookup: PendingLookup) {
        forget(lookup)
    }

    private func forget(_ lookup: PendingLookup) {
        monitor.withLock { _ = pending.removeValue(forKey: ObjectIdentifier(lookup)) }
    }

    /// Marks a call into the context, unless the resolver is shut down.
    private func enterContext() -> Bool {
        monitor.withLock {
            if isShutDown { return false }
            callsIntoContext += 1
            return true
        }
    }

    private func leaveContext() {
        monitor.withLock {
            callsIntoContext -= 1
            if callsIntoContext == 0 { monitor.broadcast() }
        }
    }

    /// libunbound's answer pipe broke: nothing will be answered any more.
    private func markBroken() {
        let waiting = monitor.withLock {
            isBroken = true
            return Array(pending.values)
        }
        for lookup in waiting {
            lookup.deliver(.temporaryFailure("libunbound's background thread stopped"))
        }
    }

    func shutdown() {
        let waiting: [PendingLookup]? = monitor.withLock {
            if isShutDown { return nil }
            isShutDown = true
            while callsIntoContext > 0 { monitor.wait() }
            return Array(pending.values)
        }
        guard let waiting else { return }
        // Wake the callers first; the table keeps their lookups until libunbound is gone.
        for lookup in waiting {
            lookup.deliver(.temporaryFailure("the DNS resolver was shut down"))
        }
        let thread = monitor.withLock { eventThread }
        thread?.stop()
        context.close()
        monitor.withLock { pending.removeAll() }
    }
}

/// One caller's question, and the place its answer is handed over.
final class PendingLookup: @unchecked Sendable {
    let name: String
    let type: DNSRecordType
    private let core: ResolverCore
    private let monitor = Monitor()
    /// Guarded by `monitor`; the first answer delivered wins.
    private var delivered: DNSAnswer?

    init(name: String, type: DNSRecordType, core: ResolverCore) {
        self.name = name
        self.type = type
        self.core = core
    }

    /// libunbound's outcome, on the event thread.
    func receive(_ outcome: UnboundOutcome) {
        let answer: DNSAnswer
        switch outcome {
        case let .answer(raw):
            answer = AnswerDecoder.answer(for: type, name: name, from: raw) {
                UnboundLogTap.shared?.servfailAnswer(forKey: QueryName.logKey(name, type: type))
                    ?? .temporaryFailure("the DNS server failed (SERVFAIL) for \(name) \(type.rawValue)")
            }
        case let .error(code, text):
            answer = code == UnboundContext.syntaxError ? .notFound : .temporaryFailure("libunbound: \(text)")
        }
        core.answered(self)
        deliver(answer)
    }

    func deliver(_ answer: DNSAnswer) {
        monitor.withLock {
            guard delivered == nil else { return }
            delivered = answer
            monitor.broadcast()
        }
    }

    /// Waits for the answer until `deadline`; nil if none came by then.
    func wait(until deadline: UInt64) -> DNSAnswer? {
        monitor.withLock {
            while delivered == nil, monitor.wait(until: deadline) {}
            return delivered
        }
    }

    /// The answer, if one was delivered.
    var answer: DNSAnswer? {
        monitor.withLock { delivered }
    }
}
