import ArgumentParser
import HeloGuard

/// `heloguard run`: the milter itself.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the milter.",
        discussion: """
            Listens on SOCKET for Postfix (smtpd_milters) or Sendmail (INPUT_MAIL_FILTER). \
            SIGTERM, SIGINT or SIGHUP stop it; SIGUSR1 reloads the configuration and its tables \
            (a configuration with errors is refused and the running one kept). Logs go to syslog \
            (facility mail), or to standard error with --foreground.
            """
    )

    /// Inside Postfix's queue directory, so that Debian's chrooted smtpd reaches it as
    /// `smtpd_milters = unix:/heloguard/heloguard.sock` (a non-chrooted one as the full path).
    static let defaultSocket = "unix:/var/spool/postfix/heloguard/heloguard.sock"

    @OptionGroup var options: ConfigOption

    @Option(name: .long, help: ArgumentHelp(
        "Where to listen: unix:/path, local:/path, inet:port@host or inet6:port@host.", valueName: "spec"))
    var socket: String = RunCommand.defaultSocket

    @Flag(name: .long, help: "Stay in the foreground and log to standard error (for systemd and tests).")
    var foreground = false

    @Option(name: .long, help: ArgumentHelp("Switch to this user after opening the socket (which it then owns).", valueName: "user"))
    var user: String?

    @Option(name: .customLong("pid-file"), help: ArgumentHelp("Write the process id to this file.", valueName: "file"))
    var pidFile: String?

    @Option(name: .customLong("socket-mode"), help: ArgumentHelp("Octal mode of a unix socket.", valueName: "mode"))
    var socketMode: String = "660"

    @Option(name: .customLong("listen-backlog"), help: ArgumentHelp(
        "Length of the socket's listen queue (default: the kernel's ceiling, net.core.somaxconn).", valueName: "n"))
    var listenBacklog: Int32?

    func validate() throws {
        if let listenBacklog, listenBacklog < 1 {
            throw ValidationError("--listen-backlog must be a positive number, not \(listenBacklog)")
        }
        guard UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) == true else {
            throw ValidationError("--socket-mode must be an octal mode such as 660, not \"\(socketMode)\"")
        }
    }

    func run() throws {
        let service = HeloGuardService(options: .init(
            configPath: options.config ?? ConfigOption.defaultPath,
            socket: socket, foreground: foreground, user: user, pidFile: pidFile,
            socketMode: UInt32(socketMode, radix: 8)!, listenBacklog: listenBacklog, version: HeloguardVersion.current))
        let status = service.run()
        if status != 0 { throw ExitCode(status) }
    }
}
