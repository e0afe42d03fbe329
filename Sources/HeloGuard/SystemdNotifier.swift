import Foundation
import HeloState
import MilterKit
import MilterTesting
import Locking
#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd (a `Type=notify` unit) what heloguard is doing: `READY=1` once the milter
/// answers on its socket, `RELOADING=1` … `READY=1` around a reload, `STOPPING=1` on the way
/// out, and `WATCHDOG=1` while a probe of our own socket proves the milter loop still answers.
///
/// The notification protocol is written here by hand rather than through libsystemd's
/// sd_notify(3): it is a documented, stable interface (one datagram of newline-separated
/// `NAME=value` lines, sent to the AF_UNIX socket named in `$NOTIFY_SOCKET`; a name that starts
/// with `@` is in the abstract namespace), and this keeps libsystemd out of the binary's
/// dependencies. Without `$NOTIFY_SOCKET` (not started by systemd) ``fromEnvironment(log:)``
/// returns nil and nothing at all changes.
public final class SystemdNotifier: Sendable {
    /// `$NOTIFY_SOCKET` as systemd gave it.
    public let address: String
    /// The watchdog period from `$WATCHDOG_USEC` (nil: no `WatchdogSec=`, or meant for another
    /// process per `$WATCHDOG_PID`).
    public let watchdogPeriod: Duration?
    private let log: any MailLog
    /// Set by ``stopping()``: the watchdog stops probing a socket that is going away.
    private let stopped = Locked(false)

    /// A notifier when systemd asked for notifications, else nil.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment,
                                       log: any MailLog) -> SystemdNotifier? {
        guard let address = environment["NOTIFY_SOCKET"], address.hasPrefix("/") || address.hasPrefix("@") else {
            return nil
        }
        var period: Duration?
        if let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0,
           environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true {
            period = .microseconds(microseconds)
        }
        return SystemdNotifier(address: address, watchdogPeriod: period, log: log)
    }

    init(address: String, watchdogPeriod: Duration?, log: any MailLog) {
        self.address = address
        self.watchdogPeriod = watchdogPeriod
        self.log = log
    }

    // MARK: Life cycle

    /// Starts a thread that waits until the milter completes a negotiation on `socket`, then
    /// sends `READY=1` (with `status` as STATUS=) and, under `WatchdogSec=`, keeps sending
    /// `WATCHDOG=1` every half period for as long as the probe succeeds. Call it just before
    /// the milter's main loop starts, after privileges are dropped.
    public func announceReadiness(of socket: MilterSocket, status: String) {
        let period = watchdogPeriod
        Thread.detachNewThread { [self] in
            while !isStopped && Self.probe(socket, timeout: .seconds(2)) != nil {
                Thread.sleep(forTimeInterval: 0.02)
            }
            guard !isStopped else { return }
            send(["READY=1", "STATUS=" + status])
            if let period { watch(socket, period: period) }
        }
    }

    /// Before a reload.
    public func reloading() {
        send(["RELOADING=1", "STATUS=reloading the configuration", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"])
    }

    /// After a reload, refused or not: heloguard serves again (with the old or the new configuration).
    public func reloaded(status: String) {
        send(["READY=1", "STATUS=" + status])
    }

    /// On the way out; the watchdog stops too.
    public func stopping() {
        // Under the lock: no watchdog ping can follow STOPPING=1.
        stopped.withLock { stopped in
            stopped = true
            send(["STOPPING=1", "STATUS=stopping"])
        }
    }

    private var isStopped: Bool { stopped.withLock { $0 } }

    /// The watchdog loop: a ping only after a successful probe, so a milter loop that no longer
    /// answers is restarted by systemd.
    private func watch(_ socket: MilterSocket, period: Duration) {
        let interval = period / 2
        let timeout = min(max(period / 4, .milliseconds(200)), .seconds(10))
        var failing = false
        while !isStopped {
            if let problem = Self.probe(socket, timeout: timeout) {
                if !isStopped && !failing {
                    log.warning("watchdog: the milter did not answer a probe on \(socket): \(problem); not reporting it alive to systemd")
                }
                failing = true
            } else {
                if failing { log.info("watchdog: the milter answers on \(socket) again") }
                failing = false
                stopped.withLock { stopped in
                    if !stopped { send(["WATCHDOG=1"]) }
                }
            }
            Thread.sleep(forTimeInterval: interval.timeInterval)
        }
    }

    /// Connects to the milter as an MTA would and completes the option negotiation (no
    /// connect event follows, so no session is logged). nil when it answered, else why not.
    static func probe(_ socket: MilterSocket, timeout: Duration) -> String? {
        var options = MTAClientOptions()
        options.timeout = timeout
        do {
            let client = try MTAClient(connectingTo: socket, options: options)
            defer { client.quit() }
            _ = try client.negotiate()
            return nil
        } catch {
            return "\(error)"
        }
    }

    // MARK: The datagram

    /// Sends one notification (the lines joined by newlines). Returns false when the datagram
    /// could not be sent; that is logged once per kind of failure, never fatal.
    @discardableResult
    func send(_ lines: [String]) -> Bool {
        let descriptor = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return failed("socket") }
        defer { close(descriptor) }
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        var path = Array(address.utf8)
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: target.sun_path)
        guard path.count < capacity else { return failed("NOTIFY_SOCKET is too long") }
        withUnsafeMutableBytes(of: &target.sun_path) { raw in
            raw.copyBytes(from: path)
            raw[path.count] = 0
        }
        // An abstract name is exactly its bytes (no terminating NUL counts); a path includes one.
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (abstract ? 0 : 1)
        let message = Array(lines.joined(separator: "\n").utf8)
        let sent = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                message.withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), address, socklen_t(length)) }
            }
        }
        return sent == message.count || failed("sendto")
    }

    private func failed(_ what: String) -> Bool {
        log.warning("systemd notification to \(address) failed (\(what)): \(String(cString: strerror(errno)))")
        return false
    }

    private static func monotonicMicroseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }
}
