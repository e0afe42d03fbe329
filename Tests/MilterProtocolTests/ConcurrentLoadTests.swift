import Foundation
import Glibc
import MilterTesting
import Testing

/// Many milter sessions at once against the built binary, with reloads (SIGUSR1) under load,
/// penalty-box writes and a store outage in the middle: the load `scripts/tsan` drives a
/// ThreadSanitizer build of heloguard with (HELOGUARD_BINARY). Every reply must be the exact one
/// for its HELO, whatever the reloads and the store are doing.
///
/// Off unless HELOGUARD_LOAD_SESSIONS is set (the number of sessions; a sanitizer build is slow,
/// and the normal `swift test` keeps its time for the functional tests).
@Suite("heloguard under concurrent load (scripts/tsan)",
       .enabled(if: ProcessInfo.processInfo.environment["HELOGUARD_LOAD_SESSIONS"] != nil))
struct ConcurrentLoadTests {
    static let config = """
        myhostname = mx.example.com
        mynetworks = 127.0.0.0/8
        impersonation_hostnames = mx.example.com
        impersonation_addresses = 192.0.2.25
        penalize_impersonation = yes
        penalty_box_refresh_interval = 1s
        smtpd_helo_restrictions = reject_penalized_client, reject_impersonating_helo,
            check_helo_access hash:@DIR@/helo_access, reject_non_fqdn_helo_hostname

        """
    /// The same rules with the store moved to a PostgreSQL server that is not there (a closed
    /// loopback port): every store call fails, the box keeps working in memory.
    static let outageConfig = config + "state_database = postgresql://heloguard@127.0.0.1:9/heloguard?connect_timeout=1\n"

    static let ok = "250 2.1.5 Ok"
    /// How long each configuration phase lasts.
    static let phaseLength: Duration = .milliseconds(2500)

    /// One kind of session: its HELO and the exact RCPT reply it must get from a fresh client.
    struct Kind: Sendable {
        let helo: String
        let reply: String
        let impersonates: Bool
    }

    static let kinds: [Kind] = [
        Kind(helo: "mail.example.net", reply: ok, impersonates: false),
        Kind(helo: "foo", reply: "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname", impersonates: false),
        Kind(helo: "blocked.example.net", reply: "554 5.7.1 <blocked.example.net>: Helo command rejected: listed", impersonates: false),
        Kind(helo: "mx.example.com", reply: "550 5.7.1 <mx.example.com>: Helo command rejected: Host impersonates this server",
             impersonates: true),
    ]

    /// Session `index`'s client: a fresh address for each, so that only the impersonators' own
    /// follow-up sessions meet the penalty box.
    static func client(_ index: Int) -> String {
        "10.\(index >> 16 & 0xFF).\(index >> 8 & 0xFF).\(index & 0xFF)"
    }

    @Test("concurrent sessions with reloads, penalty-box writes and a store outage get exact replies")
    func concurrentSessions() throws {
        let total = Int(ProcessInfo.processInfo.environment["HELOGUARD_LOAD_SESSIONS"] ?? "") ?? 2000
        let workers = 16
        let failures = LoadFailures()
        try HeloguardMilter.run(config: Self.config, files: ["helo_access": "blocked.example.net REJECT listed\n"]) { milter in
            // Only Sendable values go to the other threads.
            let pid = milter.process.processIdentifier
            let spec = milter.socketSpec
            let directory = milter.directory.path
            let done = StopFlag()
            let phase = PhaseCounter()
            let signals = PhaseCounter()
            let reloader = Thread {
                // SIGUSR1 every 50 ms; phases of 2.5 s, every third one with the outage
                // configuration. A store switch takes effect only when the milter has reloaded
                // (a second or more for the outage store under the sanitizer): for 1.5 s after
                // it the phase is marked as a switch, and no box is compared across it.
                let start = ContinuousClock.now
                var round = 0
                var last = 0
                while !done.isSet {
                    let current = Int((ContinuousClock.now - start) / Self.phaseLength)
                    let switching = current != last
                    last = current
                    phase.set(switching ? PhaseCounter.switching : current)
                    let text = (current % 3 == 1 ? Self.outageConfig : Self.config) + "state_directory = @DIR@/state\n"
                    try? text.replacingOccurrences(of: "@DIR@", with: directory)
                        .write(toFile: directory + "/heloguard.conf", atomically: true, encoding: .utf8)
                    kill(pid, SIGUSR1)
                    round += 1
                    signals.set(round)
                    if switching {
                        Thread.sleep(forTimeInterval: 1.5)
                        phase.set(current)
                    }
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
            reloader.start()
            defer { done.set() }
            // `total` sessions, and more rounds of fresh clients until the outage phase (phase 1)
            // has run to its end: a fast machine must not finish before the store goes away.
            var played = 0
            repeat {
                let base = played
                DispatchQueue.concurrentPerform(iterations: workers) { worker in
                    var index = base + worker
                    while index < base + total {
                        do {
                            try Self.play(index, on: spec, phase: phase, failures: failures)
                        } catch {
                            failures.add("session \(index): \(error)")
                        }
                        index += workers
                    }
                }
                played += total
            } while phase.highest < 2 && played < 20 * total
            #expect(phase.highest >= 2, "the outage phase never ended within \(played) sessions")
            done.set()
            while reloader.isExecuting { Thread.sleep(forTimeInterval: 0.01) }
            // The milter still answers, and reloads were logged.
            let after = try Self.session(client: "192.0.2.99", helo: "mail.example.net", on: spec)
            #expect(after == ["MAIL: 250 2.1.0 Ok", "RCPT <b@example.com>: \(Self.ok)"])
            let reloads = milter.log.components(separatedBy: "reload: ").count - 1
            #expect(reloads > 0, "no reload was logged; log:\n\(milter.log.suffix(2000))")
            // For scripts/tsan's summary.
            let outages = (phase.highest + 2) / 3   // phases 1, 4, 7, ...
            print("load: \(played) sessions, \(signals.value) SIGUSR1 sent, \(reloads) reloads logged, "
                  + "\(phase.highest + 1) phases of \(Self.phaseLength) (\(outages) with the store down)")
        }
        #expect(failures.list.isEmpty, "\(failures.list.count) failed sessions, first ones:\n\(failures.list.prefix(10).joined(separator: "\n"))")
    }

    /// One session of kind `index % 4`; an impersonator comes back with an innocent HELO and
    /// must find itself in the penalty box.
    private static func play(_ index: Int, on spec: String, phase: PhaseCounter, failures: LoadFailures) throws {
        let kind = kinds[index % kinds.count]
        let address = client(index)
        let before = phase.value
        let lines = try session(client: address, helo: kind.helo, on: spec)
        let expected = ["MAIL: 250 2.1.0 Ok", "RCPT <b@example.com>: \(kind.reply)"]
        if lines != expected { failures.add("session \(index) (\(kind.helo)): \(lines), expected \(expected)") }
        guard kind.impersonates else { return }
        let again = try session(client: address, helo: "mail.example.net", on: spec)
        // A switch between the two stores brings the other store's box; check only within one phase.
        guard before != PhaseCounter.switching, phase.value == before else { return }
        let boxed = again.count == 2 && again[1].hasPrefix("RCPT <b@example.com>: 550 5.7.1 <unknown[\(address)]>: Client host rejected: ")
        if !boxed { failures.add("session \(index): impersonator \(address) not in the penalty box: \(again)") }
    }

    /// One whole session on a connection of its own, ended with QUIT as Postfix ends it.
    private static func session(client address: String, helo: String, on spec: String) throws -> [String] {
        var session = SMTPSession()
        session.client = address
        session.helos = [helo]
        var options = MTAClientOptions()
        options.timeout = .seconds(30)   // a sanitizer build under load is slow
        let client = try MTAClient(connectingTo: spec, options: options)
        defer { client.quit() }
        return try session.play(on: client)
    }
}

/// Failure messages collected from many threads.
private final class LoadFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ message: String) { lock.withLock { items.append(message) } }
    var list: [String] { lock.withLock { items } }
}

/// A flag set by one thread and read by others.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// Which configuration phase the reloader is in (a new one every ``ConcurrentLoadTests/phaseLength``).
private final class PhaseCounter: @unchecked Sendable {
    /// The phase while the milter may not have taken the new store yet.
    static let switching = -1
    private let lock = NSLock()
    private var current = 0
    private var most = 0
    func set(_ value: Int) { lock.withLock { current = value; most = max(most, value) } }
    var value: Int { lock.withLock { current } }
    /// The highest value set (the last phase reached).
    var highest: Int { lock.withLock { most } }
}
