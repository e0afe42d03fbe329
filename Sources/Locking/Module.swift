// Locking — the locks every module shares.
//
// Owns: `Lock` (a pthread mutex), `Locked` (a value only reachable under its lock, the stand-in
// for the standard library's Mutex) and `Monitor` (a lock with a condition variable on the
// monotonic clock). They exist because ThreadSanitizer sees pthread mutexes and not the standard
// library's Mutex, so `scripts/tsan` reports only real races.
//
// May import: the C library.
// Must not import: any module of ours (it is a leaf, below every other module).
