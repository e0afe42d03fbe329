#if canImport(Glibc)
import Glibc
#endif

/// Mode and owner of the unix socket file libmilter creates, set without following a path
/// someone else could change.
///
/// libmilter creates the socket inside `smfi_opensocket` (bind), so the file cannot be created
/// through a descriptor of ours. Instead: the mode comes from the umask in force during bind
/// (``umask(for:)``), so no chmod by path is needed; the owner is given through a descriptor
/// opened with `O_PATH|O_NOFOLLOW` on the path, checked to be a socket that root just created
/// (not a symlink, not a file someone planted), then changed with `fchownat(AT_EMPTY_PATH)`.
/// A symlink swapped in after bind is refused; its target is never touched.
public enum SocketFile {
    /// The umask under which bind creates the socket with exactly `mode` (0600 when no mode is
    /// asked for, until the owner is set).
    public static func umask(for mode: mode_t?) -> mode_t {
        ~(mode ?? 0o600) & 0o777
    }

    /// Gives the socket at `path` to `owner`. Throws when the path is not a socket owned by us.
    public static func setOwner(path: String, uid: uid_t, gid: gid_t) throws(MilterRunnerError) {
        let descriptor = open(path, openPathOnly | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .cannotListen("cannot open \(path) to change its owner: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw .cannotListen("cannot examine \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            let what = info.st_mode & S_IFMT == S_IFLNK ? "a symbolic link" : "not a socket"
            throw .cannotListen("\(path) is \(what) after the socket was created there; refusing to change its owner")
        }
        guard info.st_uid == geteuid() else {
            throw .cannotListen("the socket \(path) belongs to uid \(info.st_uid), not to heloguard; refusing to change its owner")
        }
        guard fchownat(descriptor, "", uid, gid, emptyPath) == 0 else {
            throw .cannotListen("cannot change the owner of \(path): \(String(cString: strerror(errno)))")
        }
    }

    // Linux's O_PATH and AT_EMPTY_PATH: glibc defines them only for _GNU_SOURCE, which Swift's
    // Glibc module does not import.
    private static let openPathOnly: Int32 = 0o10000000
    private static let emptyPath: Int32 = 0x1000
}
