#if canImport(Glibc)
import Glibc
#endif

/// The length of the milter socket's listen queue (libmilter's smfi_setbacklog). A busy MX
/// opens many milter connections at once; when the queue overflows, the MTA's connect fails
/// and the SMTP client gets the milter default action (Postfix: `451 4.7.1`). The kernel
/// silently cuts any larger value to `net.core.somaxconn`, so that ceiling is the default.
public enum ListenBacklog {
    /// Used when /proc cannot be read: the kernel's own default since Linux 5.4.
    public static let fallback: Int32 = 4096

    /// `net.core.somaxconn` as the kernel reports it now (read at each start), else ``fallback``.
    public static func kernelMaximum(path: String = "/proc/sys/net/core/somaxconn") -> Int32 {
        guard let file = fopen(path, "r") else { return fallback }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 32)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return fallback }
        let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.split(whereSeparator: \.isWhitespace).first
        guard let text, let value = Int32(text), value > 0 else { return fallback }
        return value
    }
}
