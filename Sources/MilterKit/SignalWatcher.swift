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

    /// Starts a thread that waits for SIGUSR1 and calls `action` for each one, on that thread.
    public static func onUSR1(_ action: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(ActionBox(action)).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let action = Unmanaged<ActionBox>.fromOpaque(raw!).takeRetainedValue().action
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGUSR1)
            var received: Int32 = 0
            while true {
                if sigwait(&set, &received) == 0, received == SIGUSR1 { action() }
            }
        }, box)
        pthread_detach(thread)
    }

    private final class ActionBox {
        let action: @Sendable () -> Void
        init(_ action: @escaping @Sendable () -> Void) { self.action = action }
    }
}
