#if canImport(Glibc)
import Glibc
#endif

/// Postfix's `sleep` restriction as the session carries it out: the rule core only says how
/// long (``HeloPolicy/RecipientDecision/pauses``); this blocks the calling thread that long.
public enum SessionPause {
    /// Sleeps `seconds` whole seconds (nothing for 0 or less), resuming after a signal.
    public static func sleep(seconds: Int) {
        guard seconds > 0 else { return }
        var remaining = timespec(tv_sec: seconds, tv_nsec: 0)
        var left = timespec()
        while nanosleep(&remaining, &left) != 0 && errno == EINTR { remaining = left }
    }
}
