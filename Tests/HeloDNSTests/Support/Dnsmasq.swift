import Foundation
import HeloPolicy

/// A private dnsmasq (from Debian's dnsmasq-base) serving a test zone on 127.0.0.1 at a free
/// port: foreground, no resolv.conf, no /etc/hosts, no upstream server, records in a fixed
/// order (`--no-round-robin`), every query logged to a file of its own. Use
/// ``withDnsmasq(_:_:)``, which always stops it.
///
/// dnsmasq runs under `timeout`, so that even a test process that crashes leaves no dnsmasq
/// behind for long.
final class Dnsmasq: @unchecked Sendable {
    static let binary = "/usr/sbin/dnsmasq"

    let port: UInt16
    let directory: URL
    private let process: ChildProcess

    private init(port: UInt16, directory: URL, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    var address: DNSServerAddress {
        DNSServerAddress(address: IPAddress("127.0.0.1")!, port: Int(port))
    }

    var logFile: URL { directory.appendingPathComponent("queries.log") }

    /// Starts dnsmasq with `zone` (dnsmasq.conf lines) and waits until it answers.
    static func start(zone: String) throws -> Dnsmasq {
        var lastError: Error = TestServerError.dnsmasq("not started")
        for _ in 0..<3 {
            do {
                return try startOnce(zone: zone)
            } catch {
                lastError = error // most likely the port was taken meanwhile; try another
            }
        }
        throw lastError
    }

    private static func startOnce(zone: String) throws -> Dnsmasq {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("heloguard-dnsmasq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("dnsmasq.conf")
        try zone.write(to: config, atomically: true, encoding: .utf8)
        let port = try freePort()
        let output = directory.appendingPathComponent("dnsmasq.out")

        let process: ChildProcess
        do {
            process = try ChildProcess(
                path: "/usr/bin/timeout",
                arguments: [
                    "120", binary,
                    "--keep-in-foreground", "--no-daemon",
                    "--conf-file=\(config.path)",
                    "--no-resolv", "--no-hosts",
                    "--listen-address=127.0.0.1", "--bind-interfaces", "--port=\(port)",
                    "--local-ttl=300", "--no-round-robin",
                    "--log-queries", "--log-facility=\(directory.appendingPathComponent("queries.log").path)",
                    "--user=\(NSUserName())", "--pid-file=",
                ],
                output: output.path)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        let server = Dnsmasq(port: port, directory: directory, process: process)
        do {
            try server.waitUntilAnswering()
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    /// Stops dnsmasq and removes its files.
    func stop() {
        process.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The query lines of dnsmasq's log, e.g. `query[A] good.example.test from 127.0.0.1`.
    func loggedQueries() -> [String] {
        let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            line.range(of: "query[").map { String(line[$0.lowerBound...]) }
        }
    }

    /// How many times dnsmasq logged a query for `name` of `type` (e.g. "A", "MX"), in any case.
    func queryCount(_ name: String, type: String) -> Int {
        let prefix = "query[\(type)] \(name) from ".lowercased()
        return loggedQueries().filter { $0.lowercased().hasPrefix(prefix) }.count
    }

    /// Waits until dnsmasq has logged at least `count` queries for `name` (its log is written
    /// a moment after the answer), at most one second.
    @discardableResult
    func waitForQueries(_ name: String, type: String, count: Int = 1) -> Int {
        let deadline = Date().addingTimeInterval(1)
        var seen = queryCount(name, type: type)
        while seen < count, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
            seen = queryCount(name, type: type)
        }
        return seen
    }

    private func waitUntilAnswering() throws {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            guard process.isRunning else {
                let output = (try? String(contentsOf: directory.appendingPathComponent("dnsmasq.out"), encoding: .utf8)) ?? ""
                throw TestServerError.dnsmasq("exited at start: \(output)")
            }
            if Self.probe(port: port) { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw TestServerError.dnsmasq("no answer on port \(port) within 5 s")
    }

    /// True if something answers a DNS question on 127.0.0.1:`port` within 100 ms.
    static func probe(port: UInt16) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let query = DNSWire.query(id: 0x4242, name: "probe.readiness.test", type: DNSWire.RRType.a)
        let sent = query.withUnsafeBytes { raw in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == query.count else { return false }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return count >= 12 && buffer[0] == 0x42 && buffer[1] == 0x42
    }

    /// A UDP port on 127.0.0.1 that was free a moment ago.
    static func freePort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestServerError.system("socket", errno) }
        defer { close(descriptor) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw TestServerError.system("bind", errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return address
    }
}

/// Runs `body` with a dnsmasq serving `zone`; dnsmasq is stopped afterwards, also when `body`
/// throws.
func withDnsmasq<Result>(_ zone: String, _ body: (Dnsmasq) throws -> Result) throws -> Result {
    let server = try Dnsmasq.start(zone: zone)
    defer { server.stop() }
    return try body(server)
}

/// A child process started with posix_spawn, with all signals unblocked and SIGTERM at its
/// default. (Test threads block signals, and a child inherits that: started with Foundation's
/// Process from such a thread, neither `timeout` nor dnsmasq ever sees a SIGTERM.)
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    private let lock = NSLock()
    private var exited = false

    init(path: String, arguments: [String], output: String) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard status == 0 else { throw TestServerError.system("posix_spawn \(path)", status) }
        self.pid = pid
    }

    deinit {
        stop()
    }

    var isRunning: Bool {
        lock.withLock {
            if exited { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { exited = true }
            return !exited
        }
    }

    /// SIGTERM, then waits up to 3 seconds; then SIGKILL for its whole process group.
    func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(3)
        while isRunning, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        guard isRunning else { return }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        lock.withLock {
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
            exited = true
        }
    }
}
