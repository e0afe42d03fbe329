#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutual-exclusion lock over a heap-allocated `pthread_mutex_t` (allocated once, never
/// moved, so the address the kernel and the sanitizer see stays the same).
///
/// Why not the standard library's `Synchronization.Mutex`: on Linux it locks with futexes inside
/// the uninstrumented toolchain library, so ThreadSanitizer cannot see its lock and unlock and
/// reports every access it guards as a race (`scripts/tsan`). ThreadSanitizer intercepts
/// `pthread_mutex_lock`, so with this lock its reports are real ones.
public final class Lock: @unchecked Sendable {
    let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with the lock held. Not reentrant: `body` must not take this lock again.
    public func withLock<Result, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A value that is read and changed only under its own ``Lock``: the drop-in replacement for
/// `Synchronization.Mutex<Value>` that ThreadSanitizer can see (see ``Lock`` for why). Like
/// `Mutex`, the value enters as `sending` and leaves only through ``withLock(_:)``, so sharing
/// the box between threads is safe whatever `Value` is.
public final class Locked<Value: ~Copyable>: @unchecked Sendable {
    /// Its own mutex rather than a ``Lock`` object: one allocation less for every box (a
    /// session makes several).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ initialValue: consuming sending Value) {
        value = initialValue
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` on the value with the lock held. Not reentrant.
    public func withLock<Result: ~Copyable, Failure: Error>(
        _ body: (inout sending Value) throws(Failure) -> sending Result
    ) throws(Failure) -> sending Result {
        // Locked here, not through a closure-taking helper: its result could not be passed on as `sending`.
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
