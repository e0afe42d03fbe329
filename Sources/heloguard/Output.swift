#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to standard output and standard error without per-line flushing, so that tools that
/// print many lines (`query`) stay fast.
enum Output {
    /// Buffered streams of our own on descriptors 1 and 2 (the C library's `stdout` and
    /// `stderr` globals are not usable from Swift 6 concurrency-checked code).
    nonisolated(unsafe) private static let standardOutput = fdopen(1, "w")
    nonisolated(unsafe) private static let standardError = fdopen(2, "w")

    static func write(_ text: String) {
        var copy = text
        copy.withUTF8 { buffer in _ = fwrite(buffer.baseAddress, 1, buffer.count, standardOutput) }
    }

    static func error(_ text: String) {
        var copy = text.hasSuffix("\n") ? text : text + "\n"
        copy.withUTF8 { buffer in _ = fwrite(buffer.baseAddress, 1, buffer.count, standardError) }
        fflush(standardError)
    }

    static func flush() {
        fflush(standardOutput)
    }
}
