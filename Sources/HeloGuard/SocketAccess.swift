#if canImport(Glibc)
import Glibc
#endif

/// Whether a user (Postfix's `mail_owner`) can connect to a unix socket: connecting needs
/// search permission on every directory on the path and write permission on the socket.
/// Worked out from the owner, group and mode bits of each (ACLs are not looked at), as the
/// kernel does for that user's uid, primary group and supplementary groups.
enum SocketAccess {
    /// The user's identity for permission checks.
    struct Account {
        let name: String
        let uid: uid_t
        let primaryGroup: gid_t
        let groups: Set<gid_t>

        init?(name: String) {
            guard let entry = getpwnam(name) else { return nil }
            self.name = name
            uid = entry.pointee.pw_uid
            let primary = entry.pointee.pw_gid
            primaryGroup = primary
            var count: Int32 = 64
            var list = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(name, primary, &list, &count) < 0 {
                list = [gid_t](repeating: 0, count: Int(count))
                _ = getgrouplist(name, primary, &list, &count)
            }
            groups = Set(list.prefix(Int(max(count, 0)))).union([primary])
        }

        /// True when the mode bits of `info` give this account all of `wanted` (`0o1` search,
        /// `0o2` write).
        func may(_ wanted: mode_t, _ info: stat) -> Bool {
            if uid == 0 { return true }
            let mode = info.st_mode
            if info.st_uid == uid { return (mode >> 6) & wanted == wanted }
            if groups.contains(info.st_gid) { return (mode >> 3) & wanted == wanted }
            return mode & wanted == wanted
        }
    }

    /// The findings about `socketPath` for the user `mailOwner` (named in main.cf at `mainCf`).
    static func findings(socketPath: String, mailOwner: String, mainCf: String) -> [PostfixFinding] {
        guard let account = Account(name: mailOwner) else {
            return [PostfixFinding(.problem, mainCf, "mail_owner = \(mailOwner): there is no such user on this machine")]
        }
        var prefix = ""
        let parts = socketPath.split(separator: "/")
        for part in parts.dropLast() {
            let directory = prefix.isEmpty ? "/" : prefix
            if let finding = check(directory, wanted: 0o1, isSocket: false, account: account) { return [finding] }
            prefix += "/" + part
        }
        if let finding = check(prefix.isEmpty ? "/" : prefix, wanted: 0o1, isSocket: false, account: account) {
            return [finding]
        }
        return check(socketPath, wanted: 0o2, isSocket: true, account: account).map { [$0] } ?? []
    }

    /// Nil when `account` has `wanted` on `path`; else the problem and its fix.
    private static func check(_ path: String, wanted: mode_t, isSocket: Bool, account: Account) -> PostfixFinding? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            let why = String(cString: strerror(code))
            guard code == ENOENT else {
                return PostfixFinding(.problem, path, "cannot be looked at (\(why)): run the check as root to see what postfix sees")
            }
            if isSocket {
                return PostfixFinding(.problem, path,
                    "heloguard's socket does not exist (\(why)): heloguard is not running, or listens elsewhere; start it, then check again",
                    fix: "heloguard run --socket unix:\(path)")
            }
            return PostfixFinding(.problem, path,
                "a directory on the path of heloguard's socket cannot be looked at (\(why)): heloguard is not running on this socket, or listens elsewhere")
        }
        let type = info.st_mode & S_IFMT
        if isSocket, type != S_IFSOCK {
            return PostfixFinding(.problem, path, "heloguard's socket is not a socket (is heloguard running on it?)")
        }
        if !isSocket, type != S_IFDIR {
            return PostfixFinding(.problem, path, "a part of the socket's path is not a directory")
        }
        guard !account.may(wanted, info) else { return nil }
        let owner = getpwuid(info.st_uid).map { String(cString: $0.pointee.pw_name) } ?? String(info.st_uid)
        let group = getgrgid(info.st_gid).map { String(cString: $0.pointee.gr_name) } ?? String(info.st_gid)
        let mode = String(info.st_mode & 0o7777, radix: 8)
        let what = isSocket ? "write to (connect to) the socket" : "search the directory"
        let groupGrants = (info.st_mode >> 3) & wanted == wanted
        let fix: String
        if groupGrants && !account.groups.contains(info.st_gid) {
            fix = "adduser \(account.name) \(group)   (then restart Postfix, so that its processes have the group)"
        } else if isSocket {
            fix = "heloguard run --socket-mode 660 (and adduser \(account.name) \(group))"
        } else if account.groups.contains(info.st_gid) {
            fix = "chmod g+x \(path)"
        } else {
            // Give the directory to a group of the account's rather than opening it to everyone.
            let own = getgrgid(account.primaryGroup).map { String(cString: $0.pointee.gr_name) } ?? String(account.primaryGroup)
            fix = "chgrp \(own) \(path) && chmod g+x \(path)"
        }
        return PostfixFinding(.problem, path,
            "mail_owner \(account.name) cannot \(what): mode \(mode), owner \(owner), group \(group), and \(account.name) is "
            + (account.groups.contains(info.st_gid) ? "in" : "not in") + " group \(group)",
            fix: fix)
    }

    /// True when `a` and `b` name the same file: the same path once `//`, `/./` and a trailing
    /// `/` are dropped, or the same device and inode when both exist.
    static func sameFile(_ a: String, _ b: String) -> Bool {
        if normalised(a) == normalised(b) { return true }
        var first = stat()
        var second = stat()
        guard stat(a, &first) == 0, stat(b, &second) == 0 else { return false }
        return first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    static func normalised(_ path: String) -> String {
        "/" + path.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }
}
