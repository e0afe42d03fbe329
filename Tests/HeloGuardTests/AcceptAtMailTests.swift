import Foundation
import HeloGuard
import HeloPolicy
@testable import HeloState
import MilterKit
import MilterTesting
import Testing

/// Accepting the whole message at MAIL FROM (`SMFIS_ACCEPT`, message scope) when no recipient
/// can change the answer and the answer is a plain acceptance; every other case answers MAIL
/// with continue and decides at each RCPT as before.
@Suite("HeloGuardSession: accept the message at MAIL FROM when its fate is known")
struct AcceptAtMailTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        /// nil: no HELO at all.
        var helo: String? = "mail.example.net"
        var sasl: String? = nil
        var client = SessionHarness.client
        var sender = "<a@example.org>"
        /// "accept" or "continue": the answer to MAIL FROM.
        let mail: String
        /// What the RCPT would get (when the MTA still asks), and the log lines it writes.
        var rcpt = "continue"
        var logsAtRcpt = false
        var testDescription: String { name }
    }

    static let nonFQDN = "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname"
    static let nonFQDNReply = "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"
    static let own = MilterClient(hostname: "[192.0.2.5]", address: "192.0.2.5", port: 40000, family: .inet4)

    static func heloAccess(_ action: String) -> String {
        "smtpd_helo_restrictions = check_helo_access inline:{{mail.example.net=\(action)}}, reject_non_fqdn_helo_hostname"
    }

    static let accepted: [Case] = [
        Case(name: "a clean HELO", config: nonFQDN, mail: "accept"),
        Case(name: "no HELO at all", config: nonFQDN, helo: nil, mail: "accept"),
        Case(name: "empty restriction list", config: "", helo: "foo", mail: "accept"),
        Case(name: "a bad HELO from an authenticated client",
             config: "smtpd_helo_restrictions = permit_sasl_authenticated, reject_non_fqdn_helo_hostname",
             helo: "foo", sasl: "alice", mail: "accept"),
        Case(name: "a bad HELO from mynetworks",
             config: "mynetworks = 192.0.2.0/24\nsmtpd_helo_restrictions = permit_mynetworks, reject_non_fqdn_helo_hostname",
             helo: "foo", client: own, mail: "accept"),
        Case(name: "a bad HELO with a sender that check_sender_access permits",
             config: "smtpd_helo_restrictions = check_sender_access inline:{{a@example.org=OK}}, reject_non_fqdn_helo_hostname",
             helo: "foo", mail: "accept"),
        Case(name: "a table OK", config: heloAccess("OK"), mail: "accept"),
        Case(name: "a client not in the penalty box",
             config: "smtpd_helo_restrictions = reject_penalized_client, reject_non_fqdn_helo_hostname", mail: "accept"),
        Case(name: "delayed rejection off, a clean HELO",
             config: nonFQDN + "\nsmtpd_delay_reject = no", mail: "accept"),
        Case(name: "delayed rejection off: check_recipient_access runs at HELO, not per recipient",
             config: "smtpd_delay_reject = no\nsmtpd_helo_restrictions = check_recipient_access inline:{{b@example.com=REJECT}}",
             mail: "accept"),
        Case(name: "smtpd_helo_required with a HELO", config: nonFQDN + "\nsmtpd_helo_required = yes", mail: "accept"),
    ]

    static let notAccepted: [Case] = [
        Case(name: "check_recipient_access in the list",
             config: "smtpd_helo_restrictions = check_recipient_access inline:{{abuse@example.com=OK}}, reject_non_fqdn_helo_hostname",
             mail: "continue"),
        Case(name: "check_recipient_access in a class",
             config: "smtpd_restriction_classes = exempt\nexempt = check_recipient_access inline:{{abuse@example.com=OK}}\n"
                 + "smtpd_helo_restrictions = exempt, reject_non_fqdn_helo_hostname",
             mail: "continue"),
        Case(name: "sleep (Postfix pauses at every RCPT)", config: "smtpd_helo_restrictions = sleep 0", mail: "continue"),
        Case(name: "a table entry naming sleep", config: heloAccess("sleep 0"), mail: "continue"),
        Case(name: "a refused HELO", config: nonFQDN, helo: "foo", mail: "continue", rcpt: nonFQDNReply, logsAtRcpt: true),
        Case(name: "HOLD", config: heloAccess("HOLD check it"), mail: "continue", logsAtRcpt: true),
        Case(name: "PREPEND", config: heloAccess("PREPEND X-Helo: checked"), mail: "continue"),
        Case(name: "REDIRECT", config: heloAccess("REDIRECT q@example.org"), mail: "continue", logsAtRcpt: true),
        Case(name: "BCC", config: heloAccess("BCC copy@example.org"), mail: "continue", logsAtRcpt: true),
        Case(name: "FILTER", config: heloAccess("FILTER smtp:[127.0.0.1]:10025"), mail: "continue", logsAtRcpt: true),
        Case(name: "DISCARD", config: heloAccess("DISCARD"), mail: "continue", rcpt: "discard", logsAtRcpt: true),
        Case(name: "WARN (a log line per RCPT)", config: heloAccess("WARN look at this"), mail: "continue", logsAtRcpt: true),
        Case(name: "INFO (a log line per RCPT)", config: heloAccess("INFO note this"), mail: "continue", logsAtRcpt: true),
        Case(name: "warn_if_reject (reject_warning per RCPT)",
             config: "smtpd_helo_restrictions = warn_if_reject, reject_non_fqdn_helo_hostname",
             helo: "foo", mail: "continue", logsAtRcpt: true),
        Case(name: "a DNS warning (RBL lookup error) per RCPT",
             config: "smtpd_helo_restrictions = reject_rhsbl_helo rbl.example", mail: "continue", logsAtRcpt: true),
        Case(name: "a configuration warning per RCPT", config: "smtpd_helo_restrictions = permit, reject",
             mail: "continue", logsAtRcpt: true),
        Case(name: "a pending defer_if_permit",
             config: "smtpd_helo_restrictions = defer_if_permit", mail: "continue",
             rcpt: "450 4.7.0 <mail.example.net>: Helo command rejected: defer_if_permit requested", logsAtRcpt: true),
        Case(name: "delayed rejection off: a defer_if_permit left at HELO",
             config: "smtpd_delay_reject = no\nsmtpd_helo_restrictions = defer_if_permit", mail: "continue",
             rcpt: "450 4.7.0 <mail.example.net>: Helo command rejected: defer_if_permit requested"),
    ]

    @Test("accepted at MAIL", arguments: accepted)
    func acceptedAtMail(_ c: Case) throws { try play(c) }

    @Test("not accepted at MAIL: each RCPT is asked as before", arguments: notAccepted)
    func notAcceptedAtMail(_ c: Case) throws { try play(c) }

    func play(_ c: Case) throws {
        let s = try SessionHarness(c.config)
        s.connect(c.client)
        if let helo = c.helo { s.helo(helo) }
        let heloLines = s.log.lines.count
        let macros = c.sasl.map { ["{auth_type}": "PLAIN", "{auth_authen}": $0] } ?? [:]
        #expect(SessionHarness.text(s.mail(c.sender, macros: macros)) == c.mail)
        // MAIL itself logs nothing in either case.
        #expect(s.log.lines.count == heloLines)
        // Should the MTA still ask (Sendmail over a socket without MAIL replies, say), RCPT answers as always.
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == c.rcpt)
        #expect((s.log.lines.count > heloLines) == c.logsAtRcpt, "\(s.log.lines)")
    }

    @Test("several messages on one connection: each MAIL is decided anew; RSET and a new HELO too")
    func severalTransactions() throws {
        let s = try SessionHarness("""
            smtpd_helo_restrictions = check_sender_access inline:{{spam@example.org=REJECT}}, reject_non_fqdn_helo_hostname
            """)
        s.connect()
        s.helo("mail.example.net")
        #expect(s.mail("<a@example.org>") == .accept)
        s.abort()   // Postfix sends ABORT when the accepted transaction ends
        #expect(s.mail("<spam@example.org>") == .continue)
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == "554 5.7.1 <spam@example.org>: Sender address rejected: Access denied")
        s.abort()   // RSET
        #expect(s.mail("<a@example.org>") == .accept)
        s.abort()
        // A repeated HELO arrives as HELO, then ABORT; the next MAIL is decided on the new name.
        s.helo("foo")
        s.abort()
        #expect(s.mail("<a@example.org>") == .continue)
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == Self.nonFQDNReply)
        s.abort()
        s.helo("mail.example.net")
        s.abort()
        #expect(s.mail("<a@example.org>") == .accept)
    }

    @Test("SASL login in a later transaction (the macros come with each MAIL)")
    func saslInLaterTransaction() throws {
        let s = try SessionHarness("smtpd_helo_restrictions = permit_sasl_authenticated, reject_non_fqdn_helo_hostname")
        s.connect()
        s.helo("foo")
        #expect(s.mail("<a@example.org>") == .continue)
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == Self.nonFQDNReply)
        s.abort()
        #expect(s.mail("<a@example.org>", macros: ["{auth_type}": "PLAIN", "{auth_authen}": "alice"]) == .accept)
    }

    @Test("smtpd_helo_required without HELO: MAIL is refused, never accepted")
    func heloRequired() throws {
        let s = try SessionHarness("smtpd_helo_required = yes")
        s.connect()
        #expect(SessionHarness.text(s.mail("<a@example.org>")) == "503 5.5.1 Error: send HELO/EHLO first")
    }
}

extension PenaltySessionTests {
    /// One connection that plays `transactions` (each: the sender, then whether a RCPT follows
    /// MAIL's answer the way Postfix sends it) and closes; returns the MAIL answers.
    func transactions(_ configuration: RuntimeConfiguration, helo: String, _ senders: [String]) -> [String] {
        let session = HeloGuardSession(configuration: configuration, log: log)
        let context = RecordingContext()
        _ = session.connect(client: Self.client, context: context)
        _ = session.helo(helo, context: context)
        var answers: [String] = []
        for sender in senders {
            let answer = session.mail([sender], context: context)
            answers.append(SessionHarness.text(answer))
            // Postfix asks no RCPT after an accepted message.
            if answer == .continue { _ = session.recipient(["<b@example.net>"], context: context) }
            session.abort(context: context)
        }
        session.close(context: context)
        return answers
    }

    @Test("the HELO log records a message accepted at MAIL as accept, and the worst verdict over all messages")
    func heloLogAfterAcceptAtMail() throws {
        let configuration = try config().make()
        #expect(configuration.acceptsAtMail)
        #expect(configuration.penalties.prepare() == nil)
        #expect(transactions(configuration, helo: "clean.example.org", ["<a@example.org>", "<b@example.org>"]) == ["accept", "accept"])
        #expect(transactions(configuration, helo: "spam.example", ["<a@example.org>"]) == ["continue"])
        // The client is boxed now: refused again at RCPT after an answer of continue at MAIL.
        #expect(transactions(configuration, helo: "clean.example.org", ["<a@example.org>"]) == ["continue"])
        #expect(configuration.penalties.shutdown())
        var rows: [String] = []
        let db = try SQLiteConnection(path: directory + "/state/heloguard.sqlite")
        defer { db.close() }
        try db.run("SELECT helo, verdict, coalesce(restriction, '-') FROM helo_log ORDER BY id") { row in
            rows.append((0..<3).map { row.text($0) ?? "(null)" }.joined(separator: " "))
        }
        #expect(rows == ["clean.example.org accept -",
                         "spam.example reject check_helo_access texthash:\(directory)/helo_access",
                         "clean.example.org reject reject_penalized_client"])
        #expect(try count("SELECT count(*) FROM penalty WHERE key = '203.0.113.7'") == 1)
    }
}
