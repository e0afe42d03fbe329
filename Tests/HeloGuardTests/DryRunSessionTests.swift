import Foundation
import HeloGuard
import HeloPolicy
@testable import HeloState
import MilterKit
import MilterTesting
import Testing

/// `dry_run = yes` through sessions on a real SQLite store: every refusal is accepted and logged
/// as Postfix logs warn_if_reject, nobody is boxed, the HELO log records the would-be verdict;
/// the same file with `dry_run = no` enforces.
extension PenaltySessionTests {
    struct DryRunCase: Sendable, CustomTestStringConvertible {
        let helo: String
        let extra: String
        let warning: String
        let logged: String
        var testDescription: String { helo + (extra.isEmpty ? "" : " (\(extra))") }
    }

    static let dryRunCases = [
        DryRunCase(helo: "mx.example.com", extra: "",
                   warning: "NOQUEUE: reject_warning: RCPT from unknown[203.0.113.7]: 550 5.7.1 <mx.example.com>: Helo command rejected: Host impersonates this server; from=<a@example.org> to=<b@example.net> helo=<mx.example.com>",
                   logged: "would-reject"),
        DryRunCase(helo: "spam.example", extra: "",
                   warning: "NOQUEUE: reject_warning: RCPT from unknown[203.0.113.7]: 554 5.7.1 <spam.example>: Helo command rejected: Access denied; from=<a@example.org> to=<b@example.net> helo=<spam.example>",
                   logged: "would-reject"),
        DryRunCase(helo: "spam.example", extra: "reject_code = 450",
                   warning: "NOQUEUE: reject_warning: RCPT from unknown[203.0.113.7]: 450 4.7.1 <spam.example>: Helo command rejected: Access denied; from=<a@example.org> to=<b@example.net> helo=<spam.example>",
                   logged: "would-defer"),
    ]

    @Test("dry_run = yes: accepted, reject_warning logged, nobody boxed, would-be verdict in the HELO log", arguments: dryRunCases)
    func dryRunWarnsInsteadOfRefusing(_ c: DryRunCase) throws {
        let configuration = try config("dry_run = yes\n" + c.extra).make()
        #expect(configuration.penalties.prepare() == nil)
        #expect(connection(configuration, helo: c.helo) == "continue")
        #expect(log.lines.contains(c.warning), "\(log.lines)")
        #expect(!log.lines.contains { $0.contains(": reject: ") || $0.hasPrefix("penalized:") }, "\(log.lines)")
        // Not boxed: a clean HELO from the same client is accepted too.
        #expect(connection(configuration, helo: "clean.example.org") == "continue")
        #expect(configuration.penalties.penalty(for: "203.0.113.7") == nil)
        #expect(configuration.penalties.shutdown())
        #expect(try count("SELECT count(*) FROM penalty") == 0)
        #expect(try count("SELECT count(*) FROM helo_log WHERE verdict = '\(c.logged)' AND helo = '\(c.helo)' AND restriction IS NOT NULL") == 1)
        #expect(try count("SELECT count(*) FROM helo_log WHERE verdict = 'accept'") == 1)

        // The same state with dry_run = no (what a reload gives the next connection): enforced.
        let enforcing = try config(c.extra).make()
        enforcing.penalties.prepare()
        #expect(connection(enforcing, helo: c.helo) != "continue")
        enforcing.penalties.shutdown()
    }

    @Test("dry_run = yes with smtpd_helo_required: MAIL accepted, each recipient warned")
    func dryRunHeloRequired() throws {
        let configuration = try config("dry_run = yes\nsmtpd_helo_required = yes\nhelo_log = no").make()
        let session = HeloGuardSession(configuration: configuration, log: log)
        let context = RecordingContext()
        _ = session.connect(client: Self.client, context: context)
        #expect(session.mail(["<a@example.org>"], context: context) == .continue)
        #expect(session.recipient(["<b@example.net>"], context: context) == .continue)
        #expect(log.lines.contains("NOQUEUE: reject_warning: RCPT from unknown[203.0.113.7]: 503 5.5.1 Error: send HELO/EHLO first; from=<a@example.org> to=<b@example.net>"),
                "\(log.lines)")
        session.close(context: context)
        configuration.penalties.shutdown()
    }
}
