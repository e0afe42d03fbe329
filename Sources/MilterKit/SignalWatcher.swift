#if canImport(Glibc)
import Glibc
#endif

/// Signals for a libmilter process. libmilter's own thread waits for SIGHUP, SIGTERM and SIGINT
/// and stops the milter on any of them; SIGUSR1 is ours (reload). All four must be blocked in
/// every thread, so ``blockSignals()`` runs first thing in `main`, before any thread exists
/// (threads inherit the mask); otherwise a SIGTERM kills the process outright.
public enum SignalWatcher {
    public static func blockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in [SIGHUP, SIGTERM, SIGINT, SIGUSR1] { sigaddset(&set, signal) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // A client that hangs up must not kill us while we write to it.
        Glibc.signal(SIGPIPE, SIG_IGN)
    }

    /// Starts a thread that waits for SIGUSR1 (calls `reload`) and for the stop signals
    /// (calls `stop` with the signal's name). libmilter's own thread waits for the stop signals
    /// too and the kernel hands each one to one of the two waiters, so both paths must stop the
    /// milter. Actions run on this thread.
    public static func watch(reload: @escaping @Sendable () -> Void, stop: @escaping @Sendable (String) -> Void) {
        let box = Unmanaged.passRetained(ActionBox(reload: reload, stop: stop)).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let actions = Unmanaged<ActionBox>.fromOpaque(raw!).takeRetainedValue()
            var set = sigset_t()
            sigemptyset(&set)
            for signal in [SIGHUP, SIGTERM, SIGINT, SIGUSR1] { sigaddset(&set, signal) }
            var received: Int32 = 0
            while true {
                guard sigwait(&set, &received) == 0 else { continue }
                switch received {
                case SIGUSR1: actions.reload()
                case SIGTERM: actions.stop("SIGTERM")
                case SIGINT: actions.stop("SIGINT")
                default: actions.stop("SIGHUP")
                }
            }
        }, box)
        pthread_detach(thread)
    }

    private final class ActionBox {
        let reload: @Sendable () -> Void
        let stop: @Sendable (String) -> Void
        init(reload: @escaping @Sendable () -> Void, stop: @escaping @Sendable (String) -> Void) {
            self.reload = reload
            self.stop = stop
        }
    }
}
