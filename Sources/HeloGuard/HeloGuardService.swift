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
        public var version: String

        public init(configPath: String, socket: String, foreground: Bool, user: String?, pidFile: String?,
                    socketMode: mode_t = 0o660, version: String) {
            self.configPath = configPath
            self.socket = socket
            self.foreground = foreground
            self.user = user
            self.pidFile = pidFile
            self.socketMode = socketMode
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
        let store: ConfigurationStore
        do throws(ConfigError) {
            store = try ConfigurationStore(path: options.configPath, makePenalties: { PenaltyService(settings: $0, log: log) })
        } catch {
            for diagnostic in error.diagnostics { startupErrors.error(diagnostic.description) }
            startupErrors.error("\(options.configPath): configuration refused; not starting")
            return 1
        }
        var account: (uid: uid_t, gid: gid_t, name: String)?
        if let user = options.user {
            guard let entry = getpwnam(user) else {
                startupErrors.error("unknown user \"\(user)\" (--user)")
                return 1
            }
            account = (entry.pointee.pw_uid, entry.pointee.pw_gid, user)
        }

        Self.logDiagnostics(store.current.loaded.diagnostics, to: log)

        let runner = MilterRunner(name: "heloguard", socket: socket, factory: HeloGuardFactory(store: store, log: log))
        do throws(MilterRunnerError) {
            try runner.open(mode: socket.path == nil ? nil : options.socketMode,
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
        if let pidFile = options.pidFile, !Self.writePidFile(pidFile) {
            log.error("cannot write the pid file \(pidFile): \(String(cString: strerror(errno)))")
            return 1
        }
        if let account {
            guard initgroups(account.name, account.gid) == 0, setgid(account.gid) == 0, setuid(account.uid) == 0 else {
                log.error("cannot switch to user \(account.name): \(String(cString: strerror(errno)))")
                return 1
            }
        }

        // The resolver's and the state store's threads start only now, in the detached process.
        Self.startThreads(of: store.current, log: log)
        if let failure = Self.startMetrics(store: store, version: options.version, log: log) {
            log.error(failure + "; not starting")
            if !options.foreground { startupErrors.error(failure) }
            store.current.penalties.shutdown(timeout: .seconds(2))
            Self.removeFiles(socket: socket, pidFile: options.pidFile)
            return 1
        }

        let pidFile = options.pidFile
        SignalWatcher.watch(reload: {
            do throws(ConfigError) {
                let next = try store.reload()
                HeloGuardMetrics.current?.reloaded(next)
                log.info("reload: \(store.path) loaded (configuration #\(next.generation)); new connections use it")
                Self.logDiagnostics(next.loaded.diagnostics, to: log)
                Self.startThreads(of: next, log: log)
                // A reload also re-reads the penalty box from the store, so `heloguard penalty
                // add` or `remove` followed by a reload takes effect at once, not at the next
                // refresh. On a thread of its own: a store that is down may take seconds to
                // answer, and this thread must stay free to see a stop signal.
                let penalties = next.penalties
                Thread.detachNewThread { penalties.refresh() }
            } catch {
                HeloGuardMetrics.current?.reloaded(nil)
                log.error("reload refused: \(error.diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "; ")); keeping the previous configuration")
            }
        }, stop: { signal in
            log.info("\(signal) received; stopping")
            MilterRunner.stop()
            // libmilter ends its main loop within a few seconds; should it not, do not linger.
            sleep(Self.stopDeadlineSeconds)
            log.warning("libmilter did not stop within \(Self.stopDeadlineSeconds) s; exiting")
            store.current.penalties.shutdown(timeout: .seconds(2))
            Self.removeFiles(socket: socket, pidFile: pidFile)
            _exit(0)
        })

        log.info("starting heloguard \(options.version) (libmilter \(MilterRunner.libraryVersion)) on \(socket) with \(store.path)")
        var status: Int32 = 0
        do throws(MilterRunnerError) {
            try runner.run()
            log.info("stopping heloguard \(options.version)")
        } catch {
            log.error("\(error.description); stopping")
            status = 1
        }
        // Write what is queued (penalties, HELO log records), waiting a few seconds at most.
        if !store.current.penalties.shutdown(timeout: .seconds(5)) {
            log.warning("the state database did not take every queued change before shutdown; some were lost")
        }
        Self.removeFiles(socket: socket, pidFile: options.pidFile)
        return status
    }

    /// How long a stop signal may take before heloguard exits without libmilter's help.
    static let stopDeadlineSeconds: UInt32 = 12

    /// libmilter leaves the socket file behind; best effort (after --user the directory may not
    /// let us), the next start removes a stale one anyway.
    static func removeFiles(socket: MilterSocket, pidFile: String?) {
        if let path = socket.path { unlink(path) }
        if let pidFile { unlink(pidFile) }
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

    private static func writePidFile(_ path: String) -> Bool {
        let text = "\(getpid())\n"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return text.utf8CString.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count - 1) } == text.utf8.count
    }
}
