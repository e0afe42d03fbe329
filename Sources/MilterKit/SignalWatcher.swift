#if canImport(Glibc)
import Glibc
#endif
import Locking

/// Signals for a libmilter process. SIGHUP, SIGTERM and SIGINT stop the milter, SIGUSR1 reloads
/// it. All four (and the real-time signal that tells the main thread libmilter's loop ended)
/// must be blocked in every thread (but the one ``watch(reload:)`` starts for SIGUSR1), so
/// ``blockSignals()`` runs first thing in `main`, before any thread exists (threads inherit the
/// mask); otherwise a SIGTERM kills the process outright.
///
/// The stop signals are the main thread's (``serve(_:onStop:)``), and libmilter's
/// main loop runs on a thread of its own. libmilter starts a thread that waits for the same
/// three signals, and of two threads waiting for a signal the kernel wakes the main thread
/// first; when libmilter's thread took it, heloguard logged no stop, and a stop that came
/// while libmilter's loop was between two checks made it fail ("smfi_main failed", exit 1).
///
/// SIGUSR1 is taken by a handler in one thread that unblocks it, not by `sigwait`: on a crash
/// the Swift runtime's backtracer pauses every thread with the first of SIGUSR1, SIGUSR2 and
/// SIGPROF that the thread does not block, and a thread inside `sigwait` for SIGUSR1 looks as
/// if it did not block SIGUSR1 but swallows it. The backtracer then waited half a minute for
/// that thread before the crash report and the exit (and the swallowed signals were reloads).
public enum SignalWatcher {
    public static func blockSignals() {
        // Exactly these: a mask inherited from the parent (a test runner, a shell) may block
        // crash signals, or the signals the runtime's backtracer pauses threads with.
        var set = watchedSignals
        pthread_sigmask(SIG_SETMASK, &set, nil)
        // A client that hangs up must not kill us while we write to it.
        Glibc.signal(SIGPIPE, SIG_IGN)
    }

    /// A thread could not be started.
    public struct StartError: Error, Sendable, Hashable, CustomStringConvertible {
        public let reason: String
        public var description: String { "cannot start the signal threads: \(reason)" }
    }

    /// Starts two threads: one takes SIGUSR1 (a reload request) and one runs the reloads, one
    /// at a time. Reload requests that arrive while a reload runs are merged into one more
    /// reload, so a burst of SIGUSR1 costs at most two reloads and never a thread more; a slow
    /// reload never keeps a stop signal waiting.
    public static func watch(reload: @escaping @Sendable () -> Void) throws(StartError) {
        let requests = ReloadRequests()
        let readEnd = try installReloadHandler()
        try startThread {
            while true {
                requests.next()
                reload()
            }
        }
        try startThread {
            // The only thread with SIGUSR1 unblocked: the handler runs here, in `read`.
            var usr1 = signalSet([SIGUSR1])
            pthread_sigmask(SIG_UNBLOCK, &usr1, nil)
            var buffer = [UInt8](repeating: 0, count: 256)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                if count > 0 { requests.add() } else if count == 0 || errno != EINTR { return }
            }
        }
    }

    /// Runs `body` on a new thread and waits on the calling thread, which must be the main one,
    /// until `body` returns. On the first SIGTERM, SIGINT or SIGHUP meanwhile it calls `onStop`
    /// with the signal's name (which should make `body` return); later ones change nothing.
    /// The kernel hands a signal sent to the process to its main thread first when that thread
    /// waits for it, so libmilter's own waiting thread never sees a stop signal.
    public static func serve(_ body: @escaping () -> Void, onStop: (String) -> Void) throws(StartError) {
        let mainThread = pthread_self()
        let finished = finishedSignal
        var start: [Int32] = [0, 0]
        guard pipe(&start) == 0 else { throw StartError(reason: String(cString: strerror(errno))) }
        let startRead = start[0]
        try startThread {
            var byte: UInt8 = 0
            while read(startRead, &byte, 1) < 0 && errno == EINTR {}
            close(startRead)
            // A head start for the main thread's wait (libmilter starts its own waiting thread
            // at once): a signal that comes meanwhile is the main thread's alone.
            usleep(headStartMicroseconds)
            body()
            pthread_kill(mainThread, finished)
        }
        // A stop signal that came while heloguard was starting (blocked, so it waits) is taken
        // before libmilter's thread exists; `body` then finds the stop already asked for.
        var set = signalSet([SIGHUP, SIGTERM, SIGINT, finished])
        var stopSet = signalSet([SIGHUP, SIGTERM, SIGINT])
        var noWait = timespec()
        let early = sigtimedwait(&stopSet, nil, &noWait)
        var stopping = false
        func stop(_ signal: Int32) {
            guard !stopping else { return }
            stopping = true
            onStop(signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "SIGHUP")
        }
        if early > 0 { stop(early) }
        var go: UInt8 = 1
        _ = write(start[1], &go, 1)
        close(start[1])
        var received: Int32 = 0
        while true {
            guard sigwait(&set, &received) == 0 else { continue }
            if received == finished { return }
            stop(received)
        }
    }

    /// How long libmilter's start waits for the main thread to be waiting for signals.
    static let headStartMicroseconds: useconds_t = 10_000

    /// The signal `serve`'s thread sends the main thread when `body` has returned: the first
    /// real-time signal that glibc leaves to applications.
    private static var finishedSignal: Int32 { __libc_current_sigrtmin() }

    private static var watchedSignals: sigset_t { signalSet([SIGHUP, SIGTERM, SIGINT, SIGUSR1, finishedSignal]) }

    private static func signalSet(_ signals: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }

    /// Installs SIGUSR1's handler, which writes a byte to a pipe (all a handler may safely do),
    /// and returns the pipe's read end.
    private static func installReloadHandler() throws(StartError) -> Int32 {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw StartError(reason: String(cString: strerror(errno))) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        // A full pipe already holds a request: the handler must never block.
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        reloadPipe = ends[1]
        var action = sigaction()
        action.__sigaction_handler.sa_handler = reloadSignalHandler
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        guard sigaction(SIGUSR1, &action, nil) == 0 else { throw StartError(reason: String(cString: strerror(errno))) }
        return ends[0]
    }

    /// Starts a detached thread running `body`; throws with the reason pthread_create gave.
    static func startThread(_ body: @escaping () -> Void) throws(StartError) {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        guard status == 0 else {
            Unmanaged<ThreadBody>.fromOpaque(box).release()
            throw StartError(reason: String(cString: strerror(status)))
        }
        pthread_detach(thread)
    }

    private final class ThreadBody {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }
}

/// The write end of SIGUSR1's pipe, set once before the handler is installed.
nonisolated(unsafe) private var reloadPipe: Int32 = -1

/// SIGUSR1's handler: one byte into the reload pipe.
private func reloadSignalHandler(_: Int32) {
    let saved = errno
    var byte: UInt8 = 1
    _ = write(reloadPipe, &byte, 1)
    errno = saved
}

/// Pending reload requests, merged: any number of ``add()`` calls before the reload thread
/// takes them with ``next()`` count as one.
final class ReloadRequests: @unchecked Sendable {
    private let monitor = Monitor()
    // Guarded by `monitor`.
    private var pending = false

    func add() {
        monitor.withLock {
            pending = true
            monitor.broadcast()
        }
    }

    /// Waits until a request is pending and takes it (with every request merged into it).
    func next() {
        monitor.withLock {
            while !pending { monitor.wait() }
            pending = false
        }
    }

    /// True when a request waits (for tests).
    var isPending: Bool { monitor.withLock { pending } }
}
