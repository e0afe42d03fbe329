import Foundation
import HeloPolicy
import MilterKit
import Locking
#if canImport(Glibc)
import Glibc
#endif

/// `heloguard run`: loads the configuration, opens the milter socket, drops privileges and
/// serves until SIGTERM/SIGINT/SIGHUP; SIGUSR1 reloads the configuration and its tables, and
/// re-reads the penalty box from the state store.
public struct HeloGuardService: Sendable {
    public struct Options: Sendable {
        public var configPath: String
        public var socket: String
        public var foreground: Bool
        public var user: String?
        public var pidFile: String?
        /// Mode of a unix socket (default 0660: the MTA's group may connect).
        public var socketMode: mode_t
        /// Length of the socket's listen queue; nil: the kernel's ceiling (``ListenBacklog``).
        public var listenBacklog: Int32?
        public var version: String

        public init(configPath: String, socket: String, foreground: Bool, user: String?, pidFile: String?,
                    socketMode: mode_t = 0o660, listenBacklog: Int32? = nil, version: String) {
            self.configPath = configPath
            self.socket = socket
            self.foreground = foreground
            self.user = user
            self.pidFile = pidFile
            self.socketMode = socketMode
            self.listenBacklog = listenBacklog
            self.version = version
        }
    }

    public let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// What the start has set up so far: where errors go, the socket, the configuration and
    /// the account to switch to.
    private struct Startup {
        /// Errors before detaching go to the terminal (stderr), whatever `log` is.
        let startupErrors: StderrLog
        let log: any MailLog
        let socket: MilterSocket
        let store: ConfigurationStore
        let account: ServiceAccount?
        let pidFile: PidFile?

        /// Logs `message` as an error, and on the terminal too when running detached.
        func fail(_ message: String, foreground: Bool) {
            log.error(message)
            if !foreground { startupErrors.error(message) }
        }
    }

    /// Runs the milter; returns the process exit status (0 after a signal-requested stop).
    public func run() -> Int32 {
        // Before any thread exists: every thread inherits this mask.
        SignalWatcher.blockSignals()
        let startup: Startup
        switch prepare() {
        case .success(let prepared): startup = prepared
        case .failure(let exit): return exit.status
        }
        Self.logDiagnostics(startup.store.current.loaded.diagnostics, to: startup.log)
        let runner = MilterRunner(name: "heloguard", socket: startup.socket,
                                  factory: HeloGuardFactory(store: startup.store, log: startup.log))
        if let status = openDetachAndSwitch(runner, startup) { return status }

        let (log, store, socket, pidFile) = (startup.log, startup.store, startup.socket, startup.pidFile)
        // The resolver's and the state store's threads start only now, in the detached process.
        Self.startThreads(of: store.current, log: log)
        if let failure = Self.startMetrics(store: store, version: options.version, log: log) {
            log.error(failure + "; not starting")
            if !options.foreground { startup.startupErrors.error(failure) }
            store.current.penalties.shutdown(timeout: .seconds(2))
            Self.removeFiles(socket: socket, pidFile: pidFile)
            return 1
        }

        // Under systemd (Type=notify) only; nil otherwise.
        let systemd = SystemdNotifier.fromEnvironment(log: log)
        do throws(SignalWatcher.StartError) {
            try Self.watchSignals(startup, systemd: systemd)
        } catch {
            log.error(error.description)
            Self.removeFiles(socket: socket, pidFile: pidFile)
            return 1
        }
        return serve(runner, startup, systemd: systemd)
    }

    /// An exit status for a start that cannot go on (the reason is logged already).
    private struct Exit: Error {
        let status: Int32
    }

    /// Parses the socket, loads the configuration and finds the `--user` account; nothing is
    /// opened or started yet.
    private func prepare() -> Result<Startup, Exit> {
        let startupErrors = StderrLog()
        let socket: MilterSocket
        do throws(MilterSocketError) {
            socket = try MilterSocket(parsing: options.socket)
        } catch {
            startupErrors.error(error.description)
            return .failure(Exit(status: 1))
        }
        let log: any MailLog = options.foreground ? StderrLog() : SyslogLog()
        // Absolute before detaching (daemon() changes to /): a reload must read the same file.
        let configPath = options.configPath.absolutePath
        let pidFile = options.pidFile.map { PidFile(path: $0.absolutePath) }
        let store: ConfigurationStore
        do throws(ConfigError) {
            store = try ConfigurationStore(path: configPath, makePenalties: { PenaltyService(settings: $0, log: log) })
        } catch {
            for diagnostic in error.diagnostics { startupErrors.error(diagnostic.description) }
            startupErrors.error("\(options.configPath): configuration refused; not starting")
            return .failure(Exit(status: 1))
        }
        var account: ServiceAccount?
        if let user = options.user {
            guard let found = ServiceAccount.named(user) else {
                startupErrors.error("unknown user \"\(user)\" (--user)")
                return .failure(Exit(status: 1))
            }
            account = found
        } else if geteuid() == 0 {
            log.warning(ServiceAccount.rootWarning)
        }
        return .success(Startup(startupErrors: startupErrors, log: log, socket: socket, store: store,
                                account: account, pidFile: pidFile))
    }

    /// Opens the socket (as root, owned by the account), detaches unless in the foreground,
    /// writes the pid file and drops privileges. Returns an exit status when one step fails.
    private func openDetachAndSwitch(_ runner: MilterRunner, _ startup: Startup) -> Int32? {
        let socket = startup.socket
        do throws(MilterRunnerError) {
            try runner.open(backlog: options.listenBacklog ?? ListenBacklog.kernelMaximum(),
                            mode: socket.path == nil ? nil : options.socketMode,
                            owner: startup.account.map { ($0.uid, $0.gid) })
        } catch {
            startup.fail(error.description, foreground: options.foreground)
            return 1
        }
        if !options.foreground, daemon(0, 0) != 0 {
            startup.startupErrors.error("cannot detach from the terminal: \(String(cString: strerror(errno)))")
            return 1
        }
        if let pidFile = startup.pidFile {
            do throws(PidFile.Problem) {
                try pidFile.write()
            } catch {
                startup.fail(error.description, foreground: options.foreground)
                Self.removeFiles(socket: socket, pidFile: nil)
                return 1
            }
            if geteuid() == 0, pidFile.directoryIsWritableByOthers {
                startup.log.warning("the directory of the pid file \(pidFile.path) is writable by users other than root: whoever kills by it may be given another process id")
            }
        }
        if let account = startup.account {
            do throws(ServiceAccount.SwitchError) {
                try account.switchTo()
            } catch {
                startup.log.error(error.description)
                Self.removeFiles(socket: socket, pidFile: startup.pidFile)
                return 1
            }
        }
        return nil
    }

    /// SIGUSR1 reloads (``reload(store:socket:systemd:log:)``); the stop signals are taken by
    /// ``serve(_:_:systemd:)``.
    private static func watchSignals(_ startup: Startup, systemd: SystemdNotifier?) throws(SignalWatcher.StartError) {
        let (log, store, socket) = (startup.log, startup.store, startup.socket)
        try SignalWatcher.watch(reload: {
            reload(store: store, socket: socket, systemd: systemd, log: log)
        })
    }

    /// One SIGUSR1: loads the configuration again; a broken one is refused and the old one kept.
    private static func reload(store: ConfigurationStore, socket: MilterSocket, systemd: SystemdNotifier?, log: any MailLog) {
        systemd?.reloading()
        defer { systemd?.reloaded(status: "serving on \(socket) with configuration #\(store.current.generation)") }
        do throws(ConfigError) {
            let next = try store.reload()
            HeloGuardMetrics.current?.reloaded(next)
            log.info("reload: \(store.path) loaded (configuration #\(next.generation)); new connections use it")
            Self.logDiagnostics(next.loaded.diagnostics, to: log)
            Self.startThreads(of: next, log: log)
            // A reload also re-reads the penalty box from the store, so `heloguard penalty
            // add` or `remove` followed by a reload takes effect at once, not at the next
            // refresh. Reloads run on a thread of their own (the signal thread stays free
            // to see a stop signal), one at a time, so a store that is down delays later
            // reloads rather than piling up threads.
            next.penalties.refresh()
        } catch {
            HeloGuardMetrics.current?.reloaded(nil)
            log.error("reload refused: \(error.diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "; ")); keeping the previous configuration")
        }
    }

    /// libmilter's main loop (on a thread of its own) until a stop signal, which this thread
    /// waits for; then the queued state changes are written and the socket and pid files
    /// removed. Should all that not be done within ``stopDeadlineSeconds`` of the signal,
    /// heloguard exits without waiting longer.
    private func serve(_ runner: MilterRunner, _ startup: Startup, systemd: SystemdNotifier?) -> Int32 {
        let (log, store, socket, pidFile) = (startup.log, startup.store, startup.socket, startup.pidFile)
        log.info("starting heloguard \(options.version) (libmilter \(MilterRunner.libraryVersion)) on \(socket) with \(store.path)")
        systemd?.announceReadiness(of: socket, status: "serving on \(socket) with configuration #\(store.current.generation)")
        let failure = Locked<MilterRunnerError?>(nil)
        do throws(SignalWatcher.StartError) {
            try SignalWatcher.serve({
                do throws(MilterRunnerError) { try runner.run() } catch { failure.withLock { $0 = error } }
            }, onStop: { signal in
                log.info("\(signal) received; stopping")
                systemd?.stopping()
                MilterRunner.stop()
                Thread.detachNewThread {
                    sleep(Self.stopDeadlineSeconds)
                    log.error("libmilter did not stop within \(Self.stopDeadlineSeconds) s; exiting with status \(Self.stopDeadlineStatus)")
                    store.current.penalties.shutdown(timeout: .seconds(2))
                    Self.removeFiles(socket: socket, pidFile: pidFile)
                    _exit(Self.stopDeadlineStatus)
                }
            })
        } catch {
            log.error(error.description)
            Self.removeFiles(socket: socket, pidFile: pidFile)
            return 1
        }
        var status: Int32 = 0
        if let error = failure.withLock({ $0 }) {
            log.error("\(error.description); stopping")
            status = 1
        } else {
            systemd?.stopping()
            log.info("stopping heloguard \(options.version)")
        }
        // Write what is queued (penalties, HELO log records), waiting a few seconds at most.
        if !store.current.penalties.shutdown(timeout: .seconds(5)) {
            log.warning("the state database did not take every queued change before shutdown; some were lost")
        }
        Self.removeFiles(socket: socket, pidFile: pidFile)
        return status
    }

    /// How long a stop signal may take before heloguard exits without libmilter's help
    /// (`HELOGUARD_STOP_DEADLINE`, in seconds, shortens it for tests).
    static let stopDeadlineSeconds: UInt32 = ProcessInfo.processInfo.environment["HELOGUARD_STOP_DEADLINE"]
        .flatMap { UInt32($0) }.map { max(1, min($0, 12)) } ?? 12
    /// The exit status of a stop that ran into that deadline: not a clean stop.
    static let stopDeadlineStatus: Int32 = 1

    /// libmilter leaves the socket file behind; best effort (after --user the directory may not
    /// let us), the next start removes a stale one anyway.
    static func removeFiles(socket: MilterSocket, pidFile: PidFile?) {
        if let path = socket.path { unlink(path) }
        pidFile?.remove()
    }

    /// Problems found while loading that do not prevent running. A broken table is one: as in
    /// Postfix, its lookups answer with a temporary server error until it is fixed.
    static func logDiagnostics(_ diagnostics: [ConfigDiagnostic], to log: any MailLog) {
        for diagnostic in diagnostics {
            let place = diagnostic.location.map { "\($0): " } ?? ""
            switch diagnostic.severity {
            case .warning: log.warning(place + diagnostic.message)
            case .error: log.warning(place + diagnostic.message + " (lookups that reach it answer 451 4.3.5, as in Postfix)")
            }
        }
    }

    /// Makes the shared resolver and opens the state store of `configuration` (both start
    /// threads, so this runs after detaching); a resolver problem is logged here, a state store
    /// problem by the penalty service itself.
    static func startThreads(of configuration: RuntimeConfiguration, log: any MailLog) {
        if let problem = (configuration.resolver as? SharedResolver)?.prepare() {
            log.error("\(problem); DNS-based restrictions will answer with a temporary failure")
        }
        configuration.penalties.prepare()
    }
}
