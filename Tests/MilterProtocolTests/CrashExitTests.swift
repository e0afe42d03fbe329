import Foundation
import Glibc
import MilterTesting
import Testing

/// A crashing heloguard must exit, so that systemd (or the operator) can restart it. On a crash
/// the Swift runtime's backtracer stops every other thread with a signal before it prints the
/// backtrace and re-raises the crash; a thread that blocks every signal (as the DNS threads once
/// did) cannot be stopped, and the backtracer then waits for ever: the process hangs, half dead,
/// with its socket still open. The DNS threads exist only after a first DNS question, so each
/// case asks one before it crashes the process with `kill`.
@Suite("heloguard exits on a crash, DNS threads running", .serialized)
struct CrashExitTests {
    /// A DNS restriction whose only DNS server is a closed loopback port: the question starts
    /// libunbound's threads and times out after a second, and no packet leaves the machine.
    static let config = """
        smtpd_helo_restrictions = reject_unknown_helo_hostname
        dns_servers = 127.0.0.1:9
        dns_timeout = 1s

        """
    static let deferred = "RCPT <b@example.com>: 450 4.7.1 <mail.example.test>: Helo command rejected: Host not found"
    /// How long a crash may take to end the process (the backtrace of a debug build included).
    static let exitDeadline: Duration = .seconds(30)

    @Test("the process dies of the crash signal and prints the runtime's crash report",
          arguments: [("SIGSEGV", SIGSEGV), ("SIGABRT", SIGABRT)])
    func crashExits(name: String, signal: Int32) throws {
        let milter = try HeloguardMilter.start(config: Self.config)
        defer { milter.cleanUp() }
        let client = try milter.client()
        let replies = try HeloguardProtocolTests.session(helos: ["mail.example.test"]).play(on: client)
        client.quit()
        #expect(replies.last == Self.deferred)

        kill(milter.process.processIdentifier, signal)
        let deadline = ContinuousClock.now.advanced(by: Self.exitDeadline)
        while milter.process.isRunning && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        try #require(!milter.process.isRunning,
                     "\(name): still running \(Self.exitDeadline) after the crash; its log:\n\(milter.log)")
        #expect(milter.process.terminationReason == .uncaughtSignal)
        #expect(milter.process.terminationStatus == signal, "\(name): log:\n\(milter.log)")
        // The backtracer really ran (on Linux it is on by default): without it there would be
        // no thread to stop and nothing to hang.
        #expect(milter.log.contains("Program crashed"), "\(name): no crash report; log:\n\(milter.log)")
    }
}
