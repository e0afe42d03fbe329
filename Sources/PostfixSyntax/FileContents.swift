#if canImport(Glibc)
import Glibc
#endif

/// Why a file could not be read: the step that failed, the path, and the C library's error.
public struct FileReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The system call that failed.
    public enum Operation: String, Sendable {
        case open, read
    }

    public let operation: Operation
    public let path: String
    /// The `errno` value.
    public let code: Int32

    public init(operation: Operation, path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    /// `strerror()` of the error, e.g. `No such file or directory`.
    public var reason: String { String(cString: strerror(code)) }

    /// `cannot open PATH: REASON` or `cannot read PATH: REASON`.
    public var description: String { "cannot \(operation.rawValue) \(path): \(reason)" }
}

/// Whole-file reading for configuration, tables and list files: the bytes as they are on disk
/// (no decoding, no line handling), or the failing step with the system's reason.
public enum FileContents {
    public static func read(_ path: String) throws(FileReadError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileReadError(operation: .open, path: path, code: errno) }
        defer { close(descriptor) }

        var info = stat()
        var result: [UInt8] = []
        if fstat(descriptor, &info) == 0, info.st_size > 0 {
            result.reserveCapacity(Int(info.st_size))
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw FileReadError(operation: .read, path: path, code: errno)
            }
            if got == 0 { break }
            result.append(contentsOf: chunk[0..<got])
        }
        return result
    }
}
