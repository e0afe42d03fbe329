#if canImport(Glibc)
import Glibc
#endif

/// Signals for a libmilter process. libmilter's own thread waits for SIGHUP, SIGTERM and SIGINT
/// and stops the milter on any of them; SIGUSR1 is ours (reload). All four must be blocked in
/// every thread, so ``blockSignals()`` runs first thing in `main`, before any thread exists
/// (threads inherit the mask); otherwise a SIGTERM kills the process outright.
public enum SignalWatcher {
    public static func blockSignals() {
        var set = watchedSignals
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // A client that hangs up must not kill us while we write to it.
        Glibc.signal(SIGPIPE, SIG_IGN)
    }

    /// A thread could not be started.
    public struct StartError: Error, Sendable, Hashable, CustomStringConvertible {
        public let reason: String
        public var description: String { "cannot start the signal threads: \(reason)" }
    }

    /// Starts two threads: one waits for the signals — SIGUSR1 asks for a reload, a stop signal
    /// calls `stop` with its name — and one runs the reloads, one at a time. libmilter's own
    /// thread waits for the stop signals too and the kernel hands each one to one of the two
    /// waiters, so both paths must stop the milter. Reload requests that arrive while a reload
    /// runs are merged into one more reload, so a burst of SIGUSR1 costs at most two reloads
    /// and never a thread more; a slow reload never keeps a stop signal waiting.
    public static func watch(reload: @escaping @Sendable () -> Void, stop: @escaping @Sendable (String) -> Void) throws(StartError) {
        let requests = ReloadRequests()
        try startThread {
            while true {
                requests.next()
                reload()
            }
        }
        try startThread {
            var set = watchedSignals
            var received: Int32 = 0
            while true {
                guard sigwait(&set, &received) == 0 else { continue }
                switch received {
                case SIGUSR1: requests.add()
                case SIGTERM: stop("SIGTERM")
                case SIGINT: stop("SIGINT")
                default: stop("SIGHUP")
                }
            }
        }
    }

    private static var watchedSignals: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGHUP, SIGTERM, SIGINT, SIGUSR1] { sigaddset(&set, signal) }
        return set
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

/// Pending reload requests, merged: any number of ``add()`` calls before the reload thread
/// takes them with ``next()`` count as one.
final class ReloadRequests: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Guarded by `mutex`.
    private var pending = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func add() {
        pthread_mutex_lock(mutex)
        pending = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Waits until a request is pending and takes it (with every request merged into it).
    func next() {
        pthread_mutex_lock(mutex)
        while !pending { pthread_cond_wait(condition, mutex) }
        pending = false
        pthread_mutex_unlock(mutex)
    }

    /// True when a request waits (for tests).
    var isPending: Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return pending
    }
}
