import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL server for the tests: a fresh cluster (`initdb`) in a temporary
/// directory, listening on 127.0.0.1 at a free port and on a unix socket in that directory,
/// with `fsync=off`. Logins over TCP need a password (scram-sha-256), so the tests can try a
/// wrong one; the superuser `postgres` logs in over the socket without one.
///
/// `initdb` refuses to run as root, so when the tests run as root the cluster's programs run as
/// the `postgres` system user (`runuser`), and the directory belongs to that user.
///
/// Missing PostgreSQL programs are an error, not a reason to skip: `scripts/setup` installs
/// Debian's `postgresql` package.
final class TestCluster: @unchecked Sendable {
    /// The role and database the store uses, and the role's password.
    static let user = "heloguard"
    static let password = "not-the-real-pw-7391"
    static let database = "heloguard"

    let directory: String
    let binDirectory: String
    let port: Int
    private var running = false
    private let lock = NSLock()

    var dataDirectory: String { directory + "/data" }
    var logFile: String { directory + "/server.log" }

    /// Creates, starts and prepares a cluster (role and database); throws with the server's log
    /// when that fails, leaving nothing behind.
    init() throws {
        binDirectory = try Self.findBinaries()
        directory = FileManager.default.temporaryDirectory.path + "/heloguard-pg-\(UUID().uuidString.prefix(8))"
        port = try Self.freePort()
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
            try Self.giveToServerUser(directory)
            try run("initdb", ["-D", dataDirectory, "-U", "postgres", "-E", "UTF8", "--no-locale",
                               "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"])
            let settings = """

                # heloguard tests: loopback and a private socket only; no fsync (nothing survives
                # an OS crash), but synchronous_commit stays on: the tests stop the server with
                # -m immediate and expect every committed row back
                listen_addresses = '127.0.0.1'
                port = \(port)
                unix_socket_directories = '\(directory)'
                fsync = off
                full_page_writes = off
                max_connections = 40
                """
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dataDirectory + "/postgresql.conf"))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(settings.utf8))
            try handle.close()
            try start()
            try psql("CREATE ROLE \(Self.user) LOGIN PASSWORD '\(Self.password)'")
            try psql("CREATE DATABASE \(Self.database) OWNER \(Self.user)")
        } catch {
            destroy()
            throw error
        }
    }

    /// The URL heloguard would be configured with, for `database` (default the test database).
    func url(password: String = TestCluster.password, database: String = TestCluster.database, port: Int? = nil) -> String {
        "postgresql://\(Self.user):\(password)@127.0.0.1:\(port ?? self.port)/\(database)?sslmode=disable"
    }

    /// Starts the server (again) and waits until it accepts connections.
    func start() throws {
        try run("pg_ctl", ["-D", dataDirectory, "-l", logFile, "-w", "-t", "30", "start"], timeout: 40)
        lock.withLock { running = true }
    }

    /// Stops the server at once (`-m immediate`: connections break as in a crash).
    func stop() throws {
        try run("pg_ctl", ["-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"], timeout: 40)
        lock.withLock { running = false }
    }

    /// Runs `sql` as the superuser in `database` over the socket; returns psql's unaligned output.
    @discardableResult
    func psql(_ sql: String, database: String = "postgres") throws -> String {
        try run("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", directory, "-p", String(port),
                         "-U", "postgres", "-d", database, "-c", sql])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server if it runs and removes the directory. Safe to call twice.
    func destroy() {
        if lock.withLock({ running }) { try? stop() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { destroy() }

    // MARK: Processes

    /// Runs one of the cluster's programs, as the `postgres` user when we are root, with its
    /// output in a file (a server started by pg_ctl must not hold a pipe of ours). Throws with
    /// the output when it fails or outlives `timeout` seconds.
    ///
    /// posix_spawn and waitpid rather than Foundation's Process, whose exit detection missed
    /// children that had exited when several tests ran programs at once.
    @discardableResult
    func run(_ program: String, _ arguments: [String], timeout: TimeInterval = 30) throws -> String {
        let output = directory + "/command-\(UUID().uuidString.prefix(8)).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let path = binDirectory + "/" + program
        let argv = geteuid() == 0 ? [Self.runuser, "-u", "postgres", "--", path] + arguments : [path] + arguments
        let command = "\(program) \(arguments.joined(separator: " "))"
        let status = try Self.spawn(argv, environment: ["PATH=/usr/bin:/bin", "LC_ALL=C", "PGTZ=UTC"],
                                    stdout: output, stderr: output, timeout: timeout, command: command)
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            throw ClusterError.commandFailed(command, "exit status \(status): \(text)\nserver log:\n\(log.suffix(2000))")
        }
        return text
    }

    /// Runs `argv` (a full path first) with standard input from /dev/null and its output in the
    /// files `stdout` and `stderr` (the same file for both is fine); returns its exit status (128
    /// plus the signal when one killed it). Throws when it cannot start or outlives `timeout`
    /// seconds (it is killed then).
    static func spawn(_ argv: [String], environment: [String], stdout: String, stderr: String,
                      timeout: TimeInterval, command: String) throws -> Int32 {
        let outFD = open(stdout, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard outFD >= 0 else { throw ClusterError.commandFailed("open \(stdout)", String(cString: strerror(errno))) }
        let errFD = stderr == stdout ? outFD : open(stderr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
        guard errFD >= 0 else {
            close(outFD)
            throw ClusterError.commandFailed("open \(stderr)", String(cString: strerror(errno)))
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outFD, 1)
        posix_spawn_file_actions_adddup2(&actions, errFD, 2)
        var pid: pid_t = 0
        let spawned = withCStrings(argv) { cArguments in
            withCStrings(environment) { cEnvironment in
                posix_spawn(&pid, argv[0], &actions, nil, cArguments, cEnvironment)
            }
        }
        close(outFD)
        if errFD != outFD { close(errFD) }
        guard spawned == 0 else { throw ClusterError.commandFailed(command, String(cString: strerror(spawned))) }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { break }
            if done < 0 && errno != EINTR { throw ClusterError.commandFailed(command, String(cString: strerror(errno))) }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw ClusterError.commandFailed(command, "no exit within \(Int(timeout)) s")
            }
            usleep(10_000)
        }
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Calls `body` with a NULL-terminated C array of `strings`.
    static func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
        var pointers = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }

    static let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]
        .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/runuser"

    /// The newest `/usr/lib/postgresql/<version>/bin` that has initdb, pg_ctl and psql.
    static func findBinaries() throws -> String {
        let base = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        let usable = versions.compactMap { version -> (Int, String)? in
            let bin = "\(base)/\(version)/bin"
            let complete = ["initdb", "pg_ctl", "psql", "postgres"].allSatisfy {
                FileManager.default.isExecutableFile(atPath: "\(bin)/\($0)")
            }
            guard complete, let number = Int(version.split(separator: ".").first ?? "") else { return nil }
            return (number, bin)
        }
        guard let newest = usable.max(by: { $0.0 < $1.0 }) else {
            throw ClusterError.missingBinaries(
                "PostgreSQL server programs (initdb, pg_ctl, postgres, psql) not found under \(base)/*/bin: "
                + "install Debian's postgresql package (scripts/setup does)")
        }
        if geteuid() == 0 {
            guard getpwnam("postgres") != nil else {
                throw ClusterError.missingBinaries("no postgres system user to run the test server as (package postgresql)")
            }
            guard FileManager.default.isExecutableFile(atPath: runuser) else {
                throw ClusterError.missingBinaries("runuser not found (package util-linux)")
            }
        }
        return newest.1
    }

    static func giveToServerUser(_ path: String) throws {
        guard geteuid() == 0, let entry = getpwnam("postgres") else { return }
        guard chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
            throw ClusterError.commandFailed("chown \(path)", String(cString: strerror(errno)))
        }
    }

    /// A TCP port on 127.0.0.1 nobody listens on right now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClusterError.commandFailed("socket", String(cString: strerror(errno))) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw ClusterError.commandFailed("bind 127.0.0.1:0", String(cString: strerror(errno))) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

enum ClusterError: Error, CustomStringConvertible {
    case missingBinaries(String)
    case commandFailed(String, String)

    var description: String {
        switch self {
        case let .missingBinaries(message): return message
        case let .commandFailed(command, detail): return "\(command): \(detail)"
        }
    }
}
