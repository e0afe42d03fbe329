import ArgumentParser
import HeloGuard
import HeloPolicy
import HeloState
#if canImport(Glibc)
import Glibc
#endif

/// `--user` of `heloguard penalty` and `stats`: the account to act as on the embedded state files.
struct StateUserOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "As root: act as this account on the state files (the account the milter runs as); default: the owner of state_directory.",
        valueName: "user"))
    var user: String?
}

/// Keeps the embedded state files owned by the account the milter runs as.
///
/// Run as root, `heloguard penalty` and `stats` would create the state directory and the
/// database owned by root, and the milter, running as its own user, could then no longer write
/// them. So before the files are touched, root becomes the account the files belong to: the one
/// named by `--user`, else the owner of `state_directory`. When the directory does not exist yet
/// root cannot tell which account that is, and the command refuses, saying how to run it.
enum StateAccount {
    static func actAsOwner(of settings: StateSettings, user: String?, command: String) throws {
        if let user {
            guard let account = ServiceAccount.named(user) else {
                Output.error("\(command): unknown user \"\(user)\" (--user)")
                throw ExitCode(1)
            }
            if geteuid() != 0 {
                guard account.uid == geteuid() else {
                    Output.error("\(command): only root can act as another user (--user \(user))")
                    throw ExitCode(1)
                }
                return
            }
            try become(account, command: command)
            return
        }
        guard geteuid() == 0 else { return }
        var info = stat()
        guard stat(settings.directory, &info) == 0 else {
            Output.error("""
                \(command): the state directory \(settings.directory) does not exist yet, and root cannot tell \
                which account the milter runs as; files created now would belong to root and the milter could \
                not write them. Run the command as the milter's account (runuser -u heloguard -- \(command) ...), \
                or name it (\(command) --user heloguard ...); the milter creates the directory at its first start.
                """)
            throw ExitCode(1)
        }
        // A directory owned by root: the milter runs as root, and root may go on as it is.
        guard info.st_uid != 0 else { return }
        guard let entry = getpwuid(info.st_uid), let name = entry.pointee.pw_name else {
            Output.error("\(command): the state directory \(settings.directory) belongs to uid \(info.st_uid), which has no account; name one with --user")
            throw ExitCode(1)
        }
        try become(ServiceAccount(name: String(cString: name), uid: info.st_uid, gid: entry.pointee.pw_gid), command: command)
    }

    private static func become(_ account: ServiceAccount, command: String) throws {
        do throws(ServiceAccount.SwitchError) {
            try account.switchTo()
        } catch {
            Output.error("\(command): \(error)")
            throw ExitCode(1)
        }
    }
}
