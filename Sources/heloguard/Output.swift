#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to standard output and standard error without per-line flushing, so that tools that
/// print many lines (`query`) stay fast.
enum Output {
    static func write(_ text: String) {
        var copy = text
        copy.withUTF8 { buffer in _ = fwrite(buffer.baseAddress, 1, buffer.count, stdout) }
    }

    static func error(_ text: String) {
        var copy = text.hasSuffix("\n") ? text : text + "\n"
        copy.withUTF8 { buffer in _ = fwrite(buffer.baseAddress, 1, buffer.count, stderr) }
    }

    static func flush() {
        fflush(stdout)
    }
}
