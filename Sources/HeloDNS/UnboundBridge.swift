// Everything in HeloDNS that touches C pointers lives in this file: the libunbound context and
// its callback, libunbound's log pipe and the event thread's poll loop (with its signal mask). The rest
// of the module is plain Swift on top of these small types.

internal import CUnbound
import HeloPolicy
import Locking
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - libunbound context

/// One `ub_ctx`, configured before its first question and deleted exactly once.
///
/// libunbound's own locks make the query calls safe from any thread. Setting options only works
/// before the context is finalized (by the first question or by a zone change).
final class UnboundContext: @unchecked Sendable {
    fileprivate let handle: OpaquePointer
    /// Set once by ``close()``; only the resolver's shutdown calls it, after every other use.
    private var isClosed = false

    init() throws(DNSSetupError) {
        guard let handle = UnboundLogTap.createContext() else { throw .contextUnavailable }
        self.handle = handle
    }

    deinit {
        if !isClosed { UnboundLogTap.delete(self) }
    }

    /// libunbound's status for a name it cannot put into a query.
    static let syntaxError = UB_SYNTAX.rawValue

    static func describe(_ code: Int32) -> String {
        String(cString: ub_strerror(code))
    }

    /// `ub_ctx_set_option`; `name` ends in a colon, as in unbound.conf.
    func setOption(_ name: String, _ value: String) throws(DNSSetupError) {
        let status = ub_ctx_set_option(handle, name, value)
        guard status == 0 else {
            throw .optionRefused(option: name, value: value, reason: Self.describe(status))
        }
    }

    /// Adds a server to forward every question to (`address@port`).
    func addForwarder(_ server: String) throws(DNSSetupError) {
        let status = ub_ctx_set_fwd(handle, server)
        guard status == 0 else { throw .badServer(server, reason: Self.describe(status)) }
    }

    /// Forwards to the `nameserver` lines of a resolv.conf file (nil: the system's). Returns
    /// false if the file could not be read, so that the caller can decide what to do instead.
    func useResolvConf(path: String?) throws(DNSSetupError) -> Bool {
        let status = path.map { ub_ctx_resolvconf(handle, $0) } ?? ub_ctx_resolvconf(handle, nil)
        if status == UB_READFILE.rawValue { return false }
        guard status == 0 else {
            throw .resolvConf(path: path ?? "/etc/resolv.conf", reason: Self.describe(status))
        }
        return true
    }

    /// Answers come from a background thread of libunbound (not a forked process: forking a
    /// process full of threads is not safe).
    func useThread() throws(DNSSetupError) {
        let status = ub_ctx_async(handle, 1)
        guard status == 0 else {
            throw .optionRefused(option: "async", value: "thread", reason: Self.describe(status))
        }
    }

    /// Sends libunbound's log to the process's ``UnboundLogTap``.
    func sendLogToTap() {
        UnboundLogTap.attach(self)
    }

    /// Drops one of libunbound's built-in local zones. This finalizes the context.
    func removeZone(_ zone: String) throws(DNSSetupError) {
        let status = ub_ctx_zone_remove(handle, zone)
        guard status == 0 || status == UB_NOID.rawValue else {
            throw .zoneNotRemoved(zone: zone, reason: Self.describe(status))
        }
    }

    /// The descriptor that becomes readable when answers are waiting for ``processAnswers()``.
    var answerDescriptor: Int32 { ub_fd(handle) }

    /// Delivers every waiting answer through ``deliverUnboundAnswer``; false if libunbound's
    /// pipe to its background thread broke.
    func processAnswers() -> Bool {
        ub_process(handle) == 0
    }

    /// Starts a question. `lookup` must stay alive until its answer came or ``cancel(_:)``
    /// returned true. Returns libunbound's status and the query's id. With `blockingSignals`,
    /// the ``applicationSignals`` are blocked in this thread during the call (so that a
    /// background thread libunbound starts in it inherits that).
    func resolve(
        _ name: String, type: Int32, for lookup: PendingLookup, blockingSignals: Bool
    ) -> (status: Int32, id: Int32) {
        var saved = sigset_t()
        if blockingSignals {
            var signals = applicationSignals
            pthread_sigmask(SIG_BLOCK, &signals, &saved)
        }
        defer {
            if blockingSignals { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        }
        var id: Int32 = 0
        let argument = Unmanaged.passUnretained(lookup).toOpaque()
        let status = ub_resolve_async(handle, name, type, 1, argument, deliverUnboundAnswer, &id)
        return (status, id)
    }

    /// Cancels a question. True: its callback will never run. False: libunbound had already
    /// taken the answer off its list, so the callback has run or is about to.
    func cancel(_ id: Int32) -> Bool {
        ub_cancel(handle, id) == 0
    }

    /// Stops libunbound's background thread and frees the context. No callback runs afterwards.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        UnboundLogTap.delete(self)
    }
}

/// libunbound's answer callback. It runs on the resolver's event thread, inside
/// ``UnboundContext/processAnswers()``. The argument is the `PendingLookup` the question was
/// started for; the resolver keeps it alive until this has run (or the question was cancelled).
private func deliverUnboundAnswer(
    _ argument: UnsafeMutableRawPointer?, _ error: Int32, _ result: UnsafeMutablePointer<ub_result>?
) {
    let outcome: UnboundOutcome
    if let result {
        outcome = error == 0
            ? .answer(copyAnswer(result.pointee))
            : .error(code: error, text: UnboundContext.describe(error))
        ub_resolve_free(result)
    } else {
        outcome = .error(code: error, text: UnboundContext.describe(error))
    }
    guard let argument else { return }
    Unmanaged<PendingLookup>.fromOpaque(argument).takeUnretainedValue().receive(outcome)
}

private func copyAnswer(_ result: ub_result) -> UnboundAnswer {
    var records: [[UInt8]] = []
    if let data = result.data, let lengths = result.len {
        var index = 0
        while let bytes = data[index] {
            let count = Int(lengths[index])
            records.append(bytes.withMemoryRebound(to: UInt8.self, capacity: count) {
                Array(UnsafeBufferPointer(start: $0, count: count))
            })
            index += 1
        }
    }
    let canonical = result.canonname.map { String(cString: $0) }
    return UnboundAnswer(rcode: Int(result.rcode), records: records, canonicalName: canonical)
}

// MARK: - libunbound's log

/// Where libunbound writes its log: a pipe whose lines feed ``ServfailReasons``.
///
/// libunbound's log destination is one global of the library, shared by every context in the
/// process, so there is one tap for the whole process. Its pipe is never closed: a context may
/// still log into it at any time. The write end is non-blocking, so that a full pipe loses log
/// lines instead of stalling libunbound.
///
/// Deleting any context resets libunbound's global log destination (to nothing), also for the
/// contexts still in use. So contexts are created and deleted through this type, which points
/// the log at the pipe again through a live context after each deletion. (Lines logged in the
/// moment between the two are lost; their SERVFAILs then count as temporary failures.)
final class UnboundLogTap: @unchecked Sendable {
    static let shared: UnboundLogTap? = try? UnboundLogTap()

    /// Serializes creating, attaching and deleting contexts (each touches libunbound's log
    /// globals); guards `live`.
    private static let registry = Monitor()
    /// The contexts whose log goes to the tap. Unretained: a context leaves the table (under
    /// `registry`) before it is deleted.
    nonisolated(unsafe) private static var live: [ObjectIdentifier: Unmanaged<UnboundContext>] = [:]

    let readDescriptor: Int32
    private let file: UnsafeMutablePointer<FILE>
    private let lock = Monitor()
    /// Guarded by `lock`.
    private var partialLine: [UInt8] = []
    private var reasons = ServfailReasons()

    private init() throws(DNSSetupError) {
        let (readEnd, writeEnd) = try makePipe(what: "log pipe")
        guard let file = fdopen(writeEnd, "w") else {
            let reason = describeErrno()
            closeDescriptor(readEnd)
            closeDescriptor(writeEnd)
            throw .system(what: "log stream", reason: reason)
        }
        setvbuf(file, nil, _IONBF, 0)
        self.readDescriptor = readEnd
        self.file = file
    }

    /// A new libunbound context.
    static func createContext() -> OpaquePointer? {
        registry.withLock { ub_ctx_create() }
    }

    /// Sends `context`'s log (that is: libunbound's log) to the tap, or nowhere without a tap.
    static func attach(_ context: UnboundContext) {
        registry.withLock {
            _ = ub_ctx_debugout(context.handle, shared.map { UnsafeMutableRawPointer($0.file) })
            live[ObjectIdentifier(context)] = Unmanaged.passUnretained(context)
        }
    }

    /// Deletes `context`'s libunbound context and points the log back at the tap.
    static func delete(_ context: UnboundContext) {
        registry.withLock {
            live[ObjectIdentifier(context)] = nil
            ub_ctx_delete(context.handle)
            if let other = live.values.first {
                _ = ub_ctx_debugout(other.takeUnretainedValue().handle, shared.map { UnsafeMutableRawPointer($0.file) })
            }
        }
    }

    /// Reads what libunbound logged so far (without waiting) and remembers its SERVFAIL reasons.
    func drain() {
        lock.withLock {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readDescriptor, $0.baseAddress, $0.count) }
                guard count > 0 else { break }
                partialLine.append(contentsOf: buffer[0..<count])
            }
            let now = Monitor.now()
            while let newline = partialLine.firstIndex(of: 0x0A) {
                reasons.read(line: String(decoding: partialLine[..<newline], as: UTF8.self), now: now)
                partialLine.removeSubrange(...newline)
            }
            if partialLine.count > 65536 { partialLine.removeAll() }
        }
    }

    /// What libunbound's last SERVFAIL for the question `key` stands for, if it said.
    func servfailAnswer(forKey key: String) -> DNSAnswer? {
        drain()
        return lock.withLock { reasons.answer(forKey: key, now: Monitor.now()) }
    }
}

// MARK: - Threads

/// The signals the DNS threads block: those the application handles itself (HUP, INT and TERM
/// stop the milter, USR1 reloads it: heloguard's main thread and SignalWatcher's thread take
/// them) and SIGPIPE (a write to a closed socket returns EPIPE instead). Never
/// all signals: on a crash the Swift runtime's backtracer pauses every thread with SIGUSR1,
/// SIGUSR2 or SIGPROF before it writes its report, and leaves out a thread that blocks all three.
var applicationSignals: sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    for signal in [SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGPIPE] { sigaddset(&set, signal) }
    return set
}

/// The resolver's event thread: waits for libunbound's answers and log lines with `poll` and
/// hands them on, until it is told to stop. The ``applicationSignals`` are blocked in it, so
/// that the application's signal handling never runs here.
final class EventThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let stopRead: Int32
    private let stopWrite: Int32

    /// Starts the loop. `answersReady` runs when `answerDescriptor` is readable and returns false
    /// to end the loop; `logReady` runs when `logDescriptor` is readable.
    init(
        answerDescriptor: Int32, logDescriptor: Int32?,
        answersReady: @escaping @Sendable () -> Bool, logReady: @escaping @Sendable () -> Void
    ) throws(DNSSetupError) {
        (stopRead, stopWrite) = try makePipe(what: "wake-up pipe")
        let loop = EventLoop(
            descriptors: [answerDescriptor, stopRead] + (logDescriptor.map { [$0] } ?? []),
            answersReady: answersReady, logReady: logReady)
        let argument = Unmanaged.passRetained(loop).toOpaque()
        let status = pthread_create(&thread, nil, { argument in
            var signals = applicationSignals
            pthread_sigmask(SIG_BLOCK, &signals, nil)
            Unmanaged<EventLoop>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, argument)
        guard status == 0 else {
            Unmanaged<EventLoop>.fromOpaque(argument).release()
            closeDescriptor(stopRead)
            closeDescriptor(stopWrite)
            throw .system(what: "event thread", reason: String(cString: strerror(status)))
        }
    }

    /// Tells the loop to end and waits until it has.
    func stop() {
        var byte: UInt8 = 1
        _ = write(stopWrite, &byte, 1)
        pthread_join(thread, nil)
        closeDescriptor(stopRead)
        closeDescriptor(stopWrite)
    }
}

private final class EventLoop {
    let descriptors: [Int32]
    let answersReady: @Sendable () -> Bool
    let logReady: @Sendable () -> Void

    init(descriptors: [Int32], answersReady: @escaping @Sendable () -> Bool,
         logReady: @escaping @Sendable () -> Void) {
        self.descriptors = descriptors
        self.answersReady = answersReady
        self.logReady = logReady
    }

    func run() {
        var entries = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while true {
            let count = poll(&entries, nfds_t(entries.count), -1)
            if count < 0 {
                if errno == EINTR { continue }
                return
            }
            // 0: answers, 1: stop, 2: log.
            if entries[1].revents != 0 { return }
            if entries.count > 2, entries[2].revents != 0 { logReady() }
            if entries[0].revents != 0, !answersReady() { return }
        }
    }
}

/// A close-on-exec pipe; neither end blocks.
private func makePipe(what: String) throws(DNSSetupError) -> (read: Int32, write: Int32) {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else { throw .system(what: what, reason: describeErrno()) }
    for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
    for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
    return (ends[0], ends[1])
}

private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}

private func describeErrno() -> String {
    String(cString: strerror(errno))
}
