import Foundation
import HeloPolicy
import MilterKit
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

    /// Runs the milter; returns the process exit status (0 after a signal-requested stop).
    public func run() -> Int32 {
        // Before any thread exists: every thread inherits this mask.
        SignalWatcher.blockSignals()
        let startupErrors = StderrLog()

        let socket: MilterSocket
        do throws(MilterSocketError) {
            socket = try MilterSocket(parsing: options.socket)
        } catch {
            startupErrors.error(error.description)
            return 1
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
            return 1
        }
        var account: ServiceAccount?
        if let user = options.user {
            guard let found = ServiceAccount.named(user) else {
                startupErrors.error("unknown user \"\(user)\" (--user)")
                return 1
            }
            account = found
        } else if geteuid() == 0 {
            log.warning(ServiceAccount.rootWarning)
        }

        Self.logDiagnostics(store.current.loaded.diagnostics, to: log)

        let runner = MilterRunner(name: "heloguard", socket: socket, factory: HeloGuardFactory(store: store, log: log))
        do throws(MilterRunnerError) {
            try runner.open(backlog: options.listenBacklog ?? ListenBacklog.kernelMaximum(),
                            mode: socket.path == nil ? nil : options.socketMode,
                            owner: account.map { ($0.uid, $0.gid) })
        } catch {
            log.error(error.description)
            if !options.foreground { startupErrors.error(error.description) }
            return 1
        }
        if !options.foreground, daemon(0, 0) != 0 {
            startupErrors.error("cannot detach from the terminal: \(String(cString: strerror(errno)))")
            return 1
        }
        if let pidFile {
            do throws(PidFile.Problem) {
                try pidFile.write()
            } catch {
                log.error(error.description)
                if !options.foreground { startupErrors.error(error.description) }
                Self.removeFiles(socket: socket, pidFile: nil)
                return 1
            }
            if geteuid() == 0, pidFile.directoryIsWritableByOthers {
                log.warning("the directory of the pid file \(pidFile.path) is writable by users other than root: whoever kills by it may be given another process id")
            }
        }
        if let account {
            do throws(ServiceAccount.SwitchError) {
                try account.switchTo()
            } catch {
                log.error(error.description)
                Self.removeFiles(socket: socket, pidFile: pidFile)
                return 1
            }
        }

        // The resolver's and the state store's threads start only now, in the detached process.
        Self.startThreads(of: store.current, log: log)
        if let failure = Self.startMetrics(store: store, version: options.version, log: log) {
            log.error(failure + "; not starting")
            if !options.foreground { startupErrors.error(failure) }
            store.current.penalties.shutdown(timeout: .seconds(2))
            Self.removeFiles(socket: socket, pidFile: pidFile)
            return 1
        }

        // Under systemd (Type=notify) only; nil otherwise.
        let systemd = SystemdNotifier.fromEnvironment(log: log)
        do throws(SignalWatcher.StartError) { try SignalWatcher.watch(reload: {
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
        }, stop: { signal in
            log.info("\(signal) received; stopping")
            systemd?.stopping()
            MilterRunner.stop()
            // libmilter ends its main loop within a few seconds; should it not, do not linger.
            sleep(Self.stopDeadlineSeconds)
            log.error("libmilter did not stop within \(Self.stopDeadlineSeconds) s; exiting with status \(Self.stopDeadlineStatus)")
            store.current.penalties.shutdown(timeout: .seconds(2))
            Self.removeFiles(socket: socket, pidFile: pidFile)
            _exit(Self.stopDeadlineStatus)
        }) } catch {
            log.error(error.description)
            Self.removeFiles(socket: socket, pidFile: pidFile)
            return 1
        }

        log.info("starting heloguard \(options.version) (libmilter \(MilterRunner.libraryVersion)) on \(socket) with \(store.path)")
        systemd?.announceReadiness(of: socket, status: "serving on \(socket) with configuration #\(store.current.generation)")
        var status: Int32 = 0
        do throws(MilterRunnerError) {
            try runner.run()
            systemd?.stopping()
            log.info("stopping heloguard \(options.version)")
        } catch {
            log.error("\(error.description); stopping")
            status = 1
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
