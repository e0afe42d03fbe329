import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The pid file `heloguard run --pid-file` writes while still root.
///
/// Root must not open a path an unprivileged user could have prepared: a symlink planted at the
/// path would make `O_CREAT|O_TRUNC` overwrite its target, a hard link would truncate the file it
/// links to. So an existing file is never opened: a symlink (or anything but a regular file) at
/// the path is refused and left alone, a regular file is unlinked, and the new file is created
/// with `O_CREAT|O_EXCL|O_NOFOLLOW` relative to the directory, which fails rather than follows
/// should something appear at the path in between.
public struct PidFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Why the pid file could not be written.
    public enum Problem: Error, Sendable, Hashable, CustomStringConvertible {
        case symlink(String)
        case notRegularFile(String)
        case system(String, String)

        public var description: String {
            switch self {
            case .symlink(let path):
                return "the pid file \(path) is a symbolic link; refusing to write through it (remove it, or choose a path in a directory only root can write)"
            case .notRegularFile(let path):
                return "the pid file \(path) exists and is not a regular file; refusing to replace it"
            case .system(let what, let why):
                return "cannot write the pid file \(what): \(why)"
            }
        }
    }

    /// Writes `pid` followed by a newline into a freshly created file (mode 0644).
    public func write(pid: pid_t = getpid()) throws(Problem) {
        let (directory, name) = Self.split(path)
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryDescriptor >= 0 else { throw .system(path, Self.lastError()) }
        defer { close(directoryDescriptor) }
        var info = stat()
        if fstatat(directoryDescriptor, name, &info, AT_SYMLINK_NOFOLLOW) == 0 {
            switch info.st_mode & S_IFMT {
            case S_IFLNK: throw .symlink(path)
            case S_IFREG:
                guard unlinkat(directoryDescriptor, name, 0) == 0 else { throw .system(path, Self.lastError()) }
            default: throw .notRegularFile(path)
            }
        }
        let descriptor = openat(directoryDescriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            // EEXIST/ELOOP: something was planted at the path after the check.
            throw errno == ELOOP ? .symlink(path) : .system(path, Self.lastError())
        }
        defer { close(descriptor) }
        let text = Array("\(pid)\n".utf8)
        let written = text.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == text.count else { throw .system(path, Self.lastError()) }
    }

    /// Removes the file at exit when it is still ours: a regular file holding `pid`. Best effort:
    /// after `--user` a directory only root can write keeps it (the next start replaces it).
    @discardableResult
    public func remove(pid: pid_t = getpid()) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG,
              let text = try? String(contentsOfFile: path, encoding: .utf8),
              text == "\(pid)\n"
        else { return false }
        return unlink(path) == 0
    }

    /// True when a user other than root could write into the directory of the pid file, so
    /// that its content cannot be trusted by whoever kills by it.
    public var directoryIsWritableByOthers: Bool {
        var info = stat()
        guard stat(Self.split(path).directory, &info) == 0 else { return false }
        let sticky = info.st_mode & S_ISVTX != 0
        return info.st_uid != 0 || (!sticky && info.st_mode & (S_IWGRP | S_IWOTH) != 0)
    }

    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
