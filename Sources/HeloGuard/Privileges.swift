import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The account heloguard runs as after start (`--user`), and the switch to it.
///
/// heloguard needs root only to create the socket and the pid file; everything after that —
/// reading tables on reload, the state store, DNS, every SMTP session — runs as this account.
/// The switch is checked: should root still be reachable afterwards (a kernel or a library that
/// ignored part of it), heloguard refuses to go on.
public struct ServiceAccount: Sendable, Hashable {
    public let name: String
    public let uid: uid_t
    public let gid: gid_t

    public init(name: String, uid: uid_t, gid: gid_t) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }

    /// The account called `name` in the password database, or nil.
    public static func named(_ name: String) -> ServiceAccount? {
        guard let entry = getpwnam(name) else { return nil }
        return ServiceAccount(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// Why the switch failed.
    public enum SwitchError: Error, Sendable, Hashable, CustomStringConvertible {
        case failed(account: String, step: String, reason: String)
        case rootRegainable(account: String)

        public var description: String {
            switch self {
            case .failed(let account, let step, let reason):
                return "cannot switch to user \(account): \(step) failed: \(reason)"
            case .rootRegainable(let account):
                return "after switching to user \(account), root privileges could be regained; refusing to run"
            }
        }
    }

    /// Sets the supplementary groups, the group and the user (real, effective and saved), then
    /// checks that neither uid 0 nor gid 0 can be taken back.
    public func switchTo() throws(SwitchError) {
        func fail(_ step: String) -> SwitchError {
            .failed(account: name, step: step, reason: String(cString: strerror(errno)))
        }
        guard initgroups(name, gid) == 0 else { throw fail("initgroups") }
        // As root, setgid and setuid set the real, effective and saved ids alike.
        guard setgid(gid) == 0 else { throw fail("setgid") }
        guard setuid(uid) == 0 else { throw fail("setuid") }
        try Self.verifyCannotRegainRoot(account: name, uid: uid, gid: gid)
    }

    /// For a non-root account: setuid(0) and setgid(0) must fail, and the ids must be the
    /// account's. (Switching to root itself, `--user root`, has nothing to verify.)
    static func verifyCannotRegainRoot(account: String, uid: uid_t, gid: gid_t) throws(SwitchError) {
        guard uid != 0 else { return }
        if setuid(0) == 0 || seteuid(0) == 0 || getuid() != uid || geteuid() != uid {
            throw .rootRegainable(account: account)
        }
        if gid != 0, setgid(0) == 0 || setegid(0) == 0 {
            throw .rootRegainable(account: account)
        }
    }

    /// The warning logged when heloguard keeps running as root (no `--user`).
    public static let rootWarning = "running as root: every SMTP session, table and state file is handled with root's rights; start heloguard with --user (e.g. --user heloguard)"
}

extension String {
    /// The path made absolute against the current directory (no symlinks resolved), so that it
    /// still names the same file after the daemon changed its directory to `/`.
    public var absolutePath: String {
        guard !hasPrefix("/") else { return self }
        return URL(fileURLWithPath: self, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)).standardizedFileURL.path
    }
}
