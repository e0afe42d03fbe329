import Foundation
import HeloGuard
import HeloPolicy
@testable import HeloState
import MilterKit
import MilterTesting
import Testing

/// The penalty box through sessions, on a real SQLite store in a temporary directory: a refusal
/// boxes the client, the next connection is refused whatever it says, SASL before
/// `reject_penalized_client` exempts, and the box survives a restart.
final class PenaltySessionTests {
    let directory: String
    let log = RecordingLog()

    init() throws {
        directory = NSTemporaryDirectory() + "heloguard-penalty-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "spam.example  penalize_client, reject\n".write(toFile: directory + "/helo_access", atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    static let client = SessionHarness.client   // 203.0.113.7
    static let boxedReply = "550 5.7.1 <unknown[203.0.113.7]>: Client host rejected: impersonating HELO <mx.example.com>; penalized until "

    func config(_ extra: String = "") -> RuntimeConfigurationMaker {
        RuntimeConfigurationMaker(text: """
            myhostname = mx.example.com
            mydomain = example.com
            impersonation_addresses = 192.0.2.25
            state_directory = \(directory)/state
            smtpd_helo_restrictions = permit_sasl_authenticated, reject_penalized_client, reject_impersonating_helo,
                check_helo_access texthash:\(directory)/helo_access
            \(extra)
            """, log: log)
    }

    /// One connection: HELO, MAIL (with SASL macros if given), one RCPT; returns the RCPT reply.
    func connection(_ configuration: RuntimeConfiguration, helo: String, sasl: String? = nil,
                    client: MilterClient = PenaltySessionTests.client) -> String {
        let session = HeloGuardSession(configuration: configuration, log: log)
        let context = RecordingContext()
        _ = session.connect(client: client, context: context)
        _ = session.helo(helo, context: context)
        if let sasl { context.macros.merge(["{auth_type}": "PLAIN", "{auth_authen}": sasl]) { $1 } }
        _ = session.mail(["<a@example.org>"], context: context)
        let reply = SessionHarness.text(session.recipient(["<b@example.net>"], context: context))
        session.close(context: context)
        return reply
    }

    func count(_ sql: String) throws -> Int64 {
        let db = try SQLiteConnection(path: directory + "/state/heloguard.sqlite")
        defer { db.close() }
        return try db.integer(sql)
    }

    @Test func impersonatorIsBoxedAndRefusedNextTimeAcrossARestart() throws {
        let first = try config().make()
        #expect(first.penalties.prepare() == nil)
        #expect(first.penalties.isPersistent)
        #expect(connection(first, helo: "mx.example.com") == "550 5.7.1 <mx.example.com>: Helo command rejected: Host impersonates this server")
        #expect(log.lines.contains { $0.hasPrefix("penalized: 203.0.113.7 until ") && $0.hasSuffix(" UTC: impersonating HELO <mx.example.com>") })
        // Same client, clean HELO: refused by reject_penalized_client.
        #expect(connection(first, helo: "clean.example.org").hasPrefix(Self.boxedReply))
        // Authenticated (permit_sasl_authenticated comes first): accepted.
        #expect(connection(first, helo: "clean.example.org", sasl: "alice") == "continue")
        // Another client: accepted.
        let other = MilterClient(hostname: "[203.0.113.8]", address: "203.0.113.8", port: 40001, family: .inet4)
        #expect(connection(first, helo: "clean.example.org", client: other) == "continue")
        #expect(first.penalties.shutdown())

        // The file holds the entry and one HELO log record per connection.
        #expect(try count("SELECT count(*) FROM penalty WHERE key = '203.0.113.7'") == 1)
        #expect(try count("SELECT count(*) FROM helo_log") == 4)
        #expect(try count("SELECT count(*) FROM helo_log WHERE verdict = 'reject' AND restriction = 'reject_penalized_client'") == 1)
        #expect(try count("SELECT count(*) FROM helo_log WHERE verdict = 'reject' AND restriction = 'reject_impersonating_helo'") == 1)
        #expect(try count("SELECT count(*) FROM helo_log WHERE verdict = 'accept' AND restriction IS NULL") == 2)

        // A restart: a new service on the same file still refuses the client.
        let second = try config().make()
        second.penalties.prepare()
        #expect(connection(second, helo: "clean.example.org").hasPrefix(Self.boxedReply))
        second.penalties.shutdown()
    }

    @Test func penalizeClientInAnAccessTableResult() throws {
        let configuration = try config().make()
        configuration.penalties.prepare()
        #expect(connection(configuration, helo: "spam.example") == "554 5.7.1 <spam.example>: Helo command rejected: Access denied")
        #expect(connection(configuration, helo: "clean.example.org")
                == "550 5.7.1 <unknown[203.0.113.7]>: Client host rejected: HELO <spam.example> refused by check_helo_access; penalized until "
                + (configuration.penalties.penalty(for: "203.0.113.7")?.expiresText ?? "?"))
        configuration.penalties.shutdown()
    }

    @Test func nothingIsBoxedWhenImpersonationIsNotPenalized() throws {
        let configuration = try config("penalize_impersonation = no").make()
        configuration.penalties.prepare()
        _ = connection(configuration, helo: "mx.example.com")
        #expect(connection(configuration, helo: "clean.example.org") == "continue")
        #expect(!log.lines.contains { $0.hasPrefix("penalized:") })
        configuration.penalties.shutdown()
    }

    @Test func administratorChangesReachTheBoxOnRefresh() throws {
        let configuration = try config().make()
        configuration.penalties.prepare()
        #expect(connection(configuration, helo: "clean.example.org") == "continue")
        // What `heloguard penalty add` does: write the file directly.
        let store = try SQLiteStateStore(path: directory + "/state/heloguard.sqlite")
        let key = try PenaltyKey(parsing: "203.0.113.7")
        try store.upsertPenalty(PenaltyEntry(key: key, reason: "added by hand", firstSeen: Date(),
                                             expires: Date().addingTimeInterval(3600), offences: 1))
        // The refresh thread's usual round: it reloads only what changed elsewhere, as here.
        configuration.penalties.refresh(always: false)
        #expect(connection(configuration, helo: "clean.example.org").contains("Client host rejected: added by hand; penalized until "))
        try store.removePenalty(key)
        store.close()
        configuration.penalties.refresh(always: false)
        #expect(connection(configuration, helo: "clean.example.org") == "continue")
        // This host's own penalty is not news to the store, and a quiet round keeps it boxed.
        _ = connection(configuration, helo: "mx.example.com")
        configuration.penalties.refresh(always: false)
        #expect(connection(configuration, helo: "clean.example.org").contains("Client host rejected"))
        configuration.penalties.shutdown()
    }

    @Test func heloLogSamplingAndOffSwitch() throws {
        let sampled = try config("helo_log_sample = 2").make()
        sampled.penalties.prepare()
        for _ in 0..<4 { _ = connection(sampled, helo: "clean.example.org") }
        sampled.penalties.shutdown()
        #expect(try count("SELECT count(*) FROM helo_log") == 2)

        let off = try config("helo_log = no").make()
        off.penalties.prepare()
        for _ in 0..<3 { _ = connection(off, helo: "clean.example.org") }
        off.penalties.shutdown()
        #expect(try count("SELECT count(*) FROM helo_log") == 2)
    }

    @Test func unusableStoreLeavesTheBoxInMemoryAndMailFlowing() throws {
        try FileManager.default.createDirectory(atPath: directory + "/state", withIntermediateDirectories: true)
        try "this is not a database, but it is long enough to look like a header of one.\n"
            .write(toFile: directory + "/state/heloguard.sqlite", atomically: true, encoding: .utf8)
        let configuration = try config().make()
        let problem = configuration.penalties.prepare()
        #expect(problem?.contains("move it aside") == true)
        #expect(!configuration.penalties.isPersistent)
        #expect(log.lines.filter { $0.hasPrefix("error: ") && $0.contains("heloguard.sqlite") }.count == 1)
        #expect(connection(configuration, helo: "mx.example.com").hasPrefix("550 5.7.1 <mx.example.com>"))
        #expect(connection(configuration, helo: "clean.example.org").hasPrefix(Self.boxedReply))
        #expect(log.lines.filter { $0.hasPrefix("error: ") }.count == 1, "logged once, not per connection")
        configuration.penalties.shutdown()
        let text = try String(contentsOfFile: directory + "/state/heloguard.sqlite", encoding: .utf8)
        #expect(text.hasPrefix("this is not a database"), "the file is left untouched")
    }

    @Test func reloadKeepsTheServiceWhileItsSettingsStay() throws {
        let texts = ["state_directory = \(directory)/a\nsmtpd_helo_restrictions = permit",
                     "state_directory = \(directory)/a\nsmtpd_helo_restrictions = reject",
                     "state_directory = \(directory)/b\nsmtpd_helo_restrictions = reject"]
        let index = Counter()
        let store = try ConfigurationStore(path: "test.conf", loader: { path throws(ConfigError) in
            try ConfigurationLoader.load(text: texts[index.next()], file: path, interfaces: [])
        }, makeResolver: { ResolverSetup(resolver: UnavailableResolver(), settings: $0) },
           makePenalties: { PenaltyService.inMemory(settings: $0) })
        let first = store.current.penalties
        try store.reload()
        #expect(store.current.penalties === first)
        try store.reload()
        #expect(store.current.penalties !== first)
        #expect(store.current.penalties.settings.directory == directory + "/b")
    }
}

/// Loads a configuration text into a runtime configuration with a penalty service on its
/// `state_directory`.
struct RuntimeConfigurationMaker {
    let text: String
    let log: RecordingLog

    func make() throws -> RuntimeConfiguration {
        let loaded = try ConfigurationLoader.load(text: text, file: "test.conf", interfaces: [])
        return RuntimeConfiguration(path: "test.conf", loaded: loaded, generation: 1, resolver: UnavailableResolver(),
                                    penalties: PenaltyService(settings: loaded.state, log: log))
    }
}
