#if canImport(Glibc)
import Glibc
#endif
import Locking

/// Signals for a libmilter process. SIGHUP, SIGTERM and SIGINT stop the milter, SIGUSR1 reloads
/// it. All four must be blocked in every thread but the one that takes them, so
/// ``blockSignals()`` runs first thing in `main`, before any thread exists (threads inherit the
/// mask); otherwise a SIGTERM kills the process outright.
///
/// The stop signals are the main thread's (``serve(_:onStop:)``): a handler that only the main
/// thread leaves them unblocked for, while libmilter's main loop runs on a thread of its own.
/// libmilter would start a thread that waits for the same three signals with `sigwait`; CMilter
/// replaces the libmilter function that starts it, so that no signal is ever libmilter's. (With
/// that thread, a stop signal that came while heloguard was starting could be libmilter's:
/// heloguard logged no stop, and one that came while libmilter's loop was between two checks
/// made it fail.)
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
    /// A stop signal that came while heloguard was starting (blocked until now) is taken
    /// before `body` starts, which then finds the stop already asked for.
    public static func serve(_ body: @escaping () -> Void, onStop: (String) -> Void) throws(StartError) {
        let events = try installStopHandler()
        var start: [Int32] = [0, 0]
        guard pipe(&start) == 0 else { throw StartError(reason: String(cString: strerror(errno))) }
        let startRead = start[0]
        // Started while the stop signals are still blocked here, so the thread (and libmilter's
        // threads, which it starts) blocks them too.
        try startThread {
            var byte: UInt8 = 0
            while read(startRead, &byte, 1) < 0 && errno == EINTR {}
            close(startRead)
            body()
            var done = bodyFinished
            // The main thread empties the pipe as it goes, so a full one is soon free.
            while write(stopEventsPipe, &done, 1) < 0 && (errno == EINTR || errno == EAGAIN) { usleep(1000) }
        }
        var stopping = false
        func take(_ event: UInt8) {
            guard !stopping else { return }
            stopping = true
            let signal = Int32(event)
            onStop(signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "SIGHUP")
        }
        // From here on the main thread takes the stop signals; one already pending runs the
        // handler before pthread_sigmask returns, so it is in the pipe now.
        var stopSet = signalSet(stopSignals)
        pthread_sigmask(SIG_UNBLOCK, &stopSet, nil)
        var early: UInt8 = 0
        if read(events, &early, 1) == 1 { take(early) }
        _ = fcntl(events, F_SETFL, fcntl(events, F_GETFL) & ~O_NONBLOCK)
        var go: UInt8 = 1
        _ = write(start[1], &go, 1)
        close(start[1])
        while true {
            var event: UInt8 = 0
            let count = read(events, &event, 1)
            if count < 0 && errno == EINTR { continue }
            if count != 1 || event == bodyFinished { return }
            take(event)
        }
    }

    /// The byte `serve`'s thread writes to the stop pipe when `body` has returned (no signal
    /// has number 0).
    private static let bodyFinished: UInt8 = 0

    private static let stopSignals = [SIGHUP, SIGTERM, SIGINT]

    private static var watchedSignals: sigset_t { signalSet(stopSignals + [SIGUSR1]) }

    private static func signalSet(_ signals: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }

    /// Installs the stop signals' handler, which writes the signal's number to a pipe, and
    /// returns the pipe's read end (non-blocking until `serve` has taken an early signal).
    private static func installStopHandler() throws(StartError) -> Int32 {
        let ends = try handlerPipe()
        stopEventsPipe = ends.write
        _ = fcntl(ends.read, F_SETFL, fcntl(ends.read, F_GETFL) | O_NONBLOCK)
        for signal in stopSignals {
            try install(stopSignalHandler, for: signal)
        }
        return ends.read
    }

    /// Installs SIGUSR1's handler, which writes a byte to a pipe (all a handler may safely do),
    /// and returns the pipe's read end.
    private static func installReloadHandler() throws(StartError) -> Int32 {
        let ends = try handlerPipe()
        reloadPipe = ends.write
        try install(reloadSignalHandler, for: SIGUSR1)
        return ends.read
    }

    /// A pipe for a signal handler to write to: close-on-exec, and a write end that never
    /// blocks (a full pipe already holds a request).
    private static func handlerPipe() throws(StartError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw StartError(reason: String(cString: strerror(errno))) }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
        return (ends[0], ends[1])
    }

    private static func install(_ handler: @convention(c) (Int32) -> Void, for signal: Int32) throws(StartError) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        guard sigaction(signal, &action, nil) == 0 else { throw StartError(reason: String(cString: strerror(errno))) }
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

/// The write ends of SIGUSR1's pipe and of the stop signals' pipe, each set once before its
/// handler is installed.
nonisolated(unsafe) private var reloadPipe: Int32 = -1
nonisolated(unsafe) private var stopEventsPipe: Int32 = -1

/// SIGUSR1's handler: one byte into the reload pipe.
private func reloadSignalHandler(_: Int32) {
    let saved = errno
    var byte: UInt8 = 1
    _ = write(reloadPipe, &byte, 1)
    errno = saved
}

/// The stop signals' handler: the signal's number into the stop pipe.
private func stopSignalHandler(_ signal: Int32) {
    let saved = errno
    var byte = UInt8(signal)
    _ = write(stopEventsPipe, &byte, 1)
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
