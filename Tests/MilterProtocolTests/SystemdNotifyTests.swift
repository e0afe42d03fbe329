import Foundation
import Glibc
import MilterTesting
import Testing

/// heloguard under a stand-in for systemd: a datagram socket at `$NOTIFY_SOCKET` (a path, or an
/// abstract name written `@name`) receives what a `Type=notify` unit would get.
@Suite("systemd notifications (Type=notify, watchdog)")
struct SystemdNotifyTests {
    static let config = """
        myhostname = mx.example.com
        smtpd_helo_restrictions = reject_non_fqdn_helo_hostname

        """

    enum Address: String, CaseIterable, CustomTestStringConvertible {
        case path, abstract
        var testDescription: String { self == .path ? "NOTIFY_SOCKET is a path" : "NOTIFY_SOCKET is an abstract name (@…)" }
    }

    @Test("READY=1 only once the socket answers, WATCHDOG=1 pings, RELOADING=1/READY=1 around SIGUSR1 (refused too), STOPPING=1",
          arguments: Address.allCases)
    func lifeCycle(address: Address) throws {
        let listener = try NotifyListener(abstract: address == .abstract)
        // 400 ms: a ping every 200 ms or so.
        let environment = ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"]
        try HeloguardMilter.run(config: Self.config, environment: environment, awaitListening: false) { milter in
            let ready = try listener.waitFor("READY=1", timeout: .seconds(20))
            // The moment READY=1 arrives, an MTA can connect and negotiate.
            let client = try milter.client()
            defer { client.quit() }
            #expect(throws: Never.self) { _ = try client.negotiate() }
            #expect(ready.before.isEmpty, "nothing but READY=1 comes first: \(ready.before)")
            #expect(ready.message.contains("STATUS=serving on \(milter.socketSpec) with configuration #1"), "\(ready.message)")

            let pings = try (1...3).map { _ in try listener.waitFor("WATCHDOG=1", timeout: .seconds(5)) }
            #expect(pings.count == 3)

            // A good reload: RELOADING=1, then READY=1 with the new configuration's number.
            kill(milter.process.processIdentifier, SIGUSR1)
            let reloading = try listener.waitFor("RELOADING=1", timeout: .seconds(10), ignoring: ["WATCHDOG=1"])
            #expect(reloading.message.contains("MONOTONIC_USEC="), "\(reloading.message)")
            let reloaded = try listener.waitFor("READY=1", timeout: .seconds(10), ignoring: ["WATCHDOG=1"])
            #expect(reloaded.message.contains("configuration #2"), "\(reloaded.message)")

            // A refused reload: still RELOADING=1 … READY=1, the old configuration kept and logged.
            try milter.write("heloguard.conf", "smtpd_helo_restrictions = reject_no_such_thing\n")
            kill(milter.process.processIdentifier, SIGUSR1)
            _ = try listener.waitFor("RELOADING=1", timeout: .seconds(10), ignoring: ["WATCHDOG=1"])
            let kept = try listener.waitFor("READY=1", timeout: .seconds(10), ignoring: ["WATCHDOG=1"])
            #expect(kept.message.contains("configuration #2"), "\(kept.message)")
            #expect(milter.log.contains("reload refused"), "\(milter.log)")
            _ = try listener.waitFor("WATCHDOG=1", timeout: .seconds(5))

            kill(milter.process.processIdentifier, SIGTERM)
            _ = try listener.waitFor("STOPPING=1", timeout: .seconds(10), ignoring: ["WATCHDOG=1"])
            milter.process.waitUntilExit()
            #expect(milter.process.terminationStatus == 0, "\(milter.log)")
            // No ping after STOPPING=1.
            let late = listener.receive(timeout: .milliseconds(600))
            #expect(late == nil || late?.contains("WATCHDOG=1") == false, "after STOPPING=1: \(late ?? "")")
        }
    }

    @Test("WATCHDOG_PID naming another process: READY=1 but no watchdog pings")
    func watchdogForAnotherProcess() throws {
        let listener = try NotifyListener(abstract: false)
        let environment = ["NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"]
        try HeloguardMilter.run(config: Self.config, environment: environment, awaitListening: false) { _ in
            _ = try listener.waitFor("READY=1", timeout: .seconds(20))
            #expect(listener.receive(timeout: .seconds(1)) == nil)
        }
    }
}

/// A datagram socket standing in for systemd's notification socket.
final class NotifyListener {
    let address: String
    private let descriptor: Int32
    private let directory: String?

    init(abstract: Bool) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var name: [UInt8]
        if abstract {
            address = "@heloguard-notify-test-\(UUID().uuidString)"
            name = Array(address.utf8)
            name[0] = 0
            directory = nil
        } else {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("heloguard-notify-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            directory = dir
            address = dir + "/notify"
            name = Array(address.utf8) + [0]
        }
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &target.sun_path) { $0.copyBytes(from: name) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + name.count
        let bound = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(length)) }
        }
        guard bound == 0 else { throw HarnessError("bind \(address): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(descriptor)
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// The next datagram within `timeout`, or nil.
    func receive(timeout: Duration) -> String? {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&request, 1, milliseconds) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    /// Waits for a datagram with the line `field`; `before` are the datagrams that came first
    /// (those whose lines are all in `ignoring` left out). Throws after `timeout`.
    func waitFor(_ field: String, timeout: Duration, ignoring: Set<String> = []) throws -> (message: String, before: [String]) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var before: [String] = []
        while ContinuousClock.now < deadline {
            guard let message = receive(timeout: ContinuousClock.now.duration(to: deadline)) else { break }
            let lines = message.split(separator: "\n").map(String.init)
            if lines.contains(field) { return (message, before) }
            if !Set(lines).isSubset(of: ignoring) { before.append(message) }
        }
        throw HarnessError("no \(field) on \(address) within \(timeout); received before: \(before)")
    }
}
