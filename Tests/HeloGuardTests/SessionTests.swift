import Synchronization
import HeloGuard
import HeloPolicy
import MilterKit
import MilterTesting
import Testing

private let nonFQDN = "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"

@Suite("HeloGuardSession: evaluate at HELO, answer at RCPT")
struct SessionTests {
    @Test("a bad HELO is accepted at HELO and MAIL and refused at every RCPT")
    func delayedRejection() throws {
        let s = try SessionHarness("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
        #expect(s.connect() == .continue)
        #expect(s.helo("foo") == .continue)
        #expect(s.mail("<a@example.org>") == .continue)
        for recipient in ["<b@example.com>", "<c@example.net>", "<d@example.com>"] {
            #expect(SessionHarness.text(s.rcpt(recipient)) == nonFQDN)
        }
    }

    struct RecipientCase: Sendable, CustomTestStringConvertible {
        let recipient: String
        let expected: String
        var testDescription: String { "\(recipient) → \(expected)" }
    }

    @Test("each recipient gets its own answer: postmaster and per-recipient exemptions", arguments: [
        RecipientCase(recipient: "<b@example.com>", expected: nonFQDN),
        RecipientCase(recipient: "<postmaster>", expected: "continue"),
        RecipientCase(recipient: "<PostMaster>", expected: "continue"),
        RecipientCase(recipient: "<postmaster@example.com>", expected: nonFQDN),
        RecipientCase(recipient: "<abuse@example.com>", expected: "continue"),
    ])
    func perRecipient(_ c: RecipientCase) throws {
        let s = try SessionHarness("""
            smtpd_helo_restrictions = check_recipient_access inline:{abuse@example.com=OK}, reject_non_fqdn_helo_hostname
            """)
        s.connect()
        s.helo("foo")
        s.mail("<a@example.org>")
        #expect(SessionHarness.text(s.rcpt(c.recipient)) == c.expected)
    }

    @Test("MAIL FROM's SMTPUTF8 parameter counts in any ASCII case, as Postfix's strcasecmp", arguments: [
        (["<a@example.org>", "SMTPUTF8"], true), (["<a@example.org>", "smtputf8"], true),
        (["<a@example.org>", "BODY=8BITMIME", "SmtpUtf8"], true), (["<a@example.org>"], false),
        (["<a@example.org>", "\u{017F}mtputf8"], false), (["<a@example.org>", "SMTPUTF8X"], false),
        (["SMTPUTF8"], false),
    ] as [([String], Bool)])
    func smtputf8Parameter(_ arguments: [String], _ counts: Bool) throws {
        // A UTF-8 HELO name passes reject_non_fqdn_helo_hostname only under SMTPUTF8.
        let s = try SessionHarness("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
        s.connect()
        s.helo("b\u{00FC}cher.example")
        _ = s.session.mail(arguments, context: s.context)
        let reply = SessionHarness.text(s.rcpt("<b@example.com>"))
        if counts {
            #expect(reply == "continue")
        } else {
            #expect(reply.hasPrefix("504 5.5.2 "), "\(reply)")
        }
    }

    @Test("RSET (ABORT) keeps the HELO name; a repeated HELO replaces it even with the ABORT after it")
    func rsetAndRepeatedHelo() throws {
        let s = try SessionHarness("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
        s.connect()
        s.helo("foo")
        s.abort()
        s.mail("<a@example.org>")
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == nonFQDN)
        s.abort()
        // Postfix sends the new HELO first, then ABORT.
        s.helo("mail.example.org")
        s.abort()
        s.mail("<a@example.org>")
        #expect(s.rcpt("<b@example.com>") == .continue)
        s.helo("foo")
        s.abort()
        s.mail("<a@example.org>")
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == nonFQDN)
    }

    @Test("no HELO at all: no HELO restrictions (unless smtpd_helo_required)")
    func noHelo() throws {
        let s = try SessionHarness("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
        s.connect()
        // Nothing can refuse a recipient: the message is accepted at MAIL already.
        #expect(s.mail("<a@example.org>") == .accept)
        #expect(s.rcpt("<b@example.com>") == .continue)

        let required = try SessionHarness("smtpd_helo_required = yes\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
        required.connect()
        #expect(SessionHarness.text(required.mail("<a@example.org>")) == "503 5.5.1 Error: send HELO/EHLO first")
        #expect(required.log.lines.contains { $0.hasPrefix("NOQUEUE: reject: MAIL from unknown[203.0.113.7]: 503 5.5.1 Error: send HELO/EHLO first;") })
    }

    @Test("SASL: {auth_type}/{auth_authen} at MAIL exempt the client; an anonymous login does not", arguments: [
        ("PLAIN", "continue"), ("LOGIN", "continue"), ("ANONYMOUS", nonFQDN),
    ])
    func sasl(_ method: String, _ expected: String) throws {
        let s = try SessionHarness("smtpd_helo_restrictions = permit_sasl_authenticated, reject_non_fqdn_helo_hostname")
        s.connect()
        s.helo("foo")
        s.mail("<a@example.org>", macros: ["{auth_type}": method, "{auth_authen}": "alice"])
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == expected)
        // The next transaction without a login is checked again.
        s.abort()
        s.context.macros = [:]
        s.mail("<a@example.org>")
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == nonFQDN)
    }

    @Test("mynetworks is matched against the address from the connect callback", arguments: [
        ("192.0.2.10", "continue"), ("198.51.100.1", nonFQDN),
    ])
    func mynetworks(_ address: String, _ expected: String) throws {
        let s = try SessionHarness("mynetworks = 192.0.2.0/24\nsmtpd_helo_restrictions = permit_mynetworks, reject_non_fqdn_helo_hostname")
        s.connect(MilterClient(hostname: "[\(address)]", address: address, family: .inet4))
        s.helo("foo")
        s.mail("<a@example.org>")
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == expected)
    }

    @Test("reject_impersonating_helo also knows the MTA's own name (j) and address ({daemon_addr})", arguments: [
        ("mx.example.test", true), ("[198.51.100.25]", true), ("198.51.100.25", true), ("other.example.org", false),
    ])
    func impersonation(_ helo: String, _ refused: Bool) throws {
        let s = try SessionHarness("""
            impersonation_hostnames =
            impersonation_domains =
            impersonation_addresses =
            smtpd_helo_restrictions = reject_impersonating_helo
            """)
        s.connect(macros: ["j": "mx.example.test", "{daemon_addr}": "198.51.100.25"])
        s.helo(helo)
        s.mail("<a@example.org>")
        let response = s.rcpt("<b@example.com>")
        if refused {
            guard case .reject(let reply?) = response else {
                Issue.record("\(helo): expected a rejection, got \(response)")
                return
            }
            #expect(reply.description.contains("Helo command rejected"))
        } else {
            #expect(response == .continue)
        }
    }

    @Test("a recipient without a connect is a temporary failure, never a 5xx; close without connect is harmless")
    func internalError() throws {
        let s = try SessionHarness("smtpd_helo_restrictions = permit")
        s.session.close(context: s.context)
        let response = s.rcpt("<b@example.com>")
        #expect(response == .tempfail(HeloGuardSession.internalErrorReply))
        #expect(HeloGuardSession.internalErrorReply.code.hasPrefix("4"))
        #expect(s.log.lines.contains { $0.hasPrefix("error: RCPT without a connection state") })
    }

    @Test("smtpd_delay_reject = no answers at the HELO callback and does not keep a refused name")
    func delayRejectOff() throws {
        let s = try SessionHarness("smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
        s.connect()
        #expect(SessionHarness.text(s.helo("foo")) == nonFQDN)
        #expect(s.log.lines.contains("NOQUEUE: reject: HELO from unknown[203.0.113.7]: \(nonFQDN); helo=<foo>"))
        #expect(s.helo("mail.example.org") == .continue)
        s.mail("<a@example.org>")
        #expect(s.rcpt("<b@example.com>") == .continue)
    }
}

@Suite("HeloGuardSession: access-table actions")
struct SessionActionTests {
    private func session(_ action: String) throws -> SessionHarness {
        let s = try SessionHarness("smtpd_helo_restrictions = check_helo_access inline:{ { act.example.net = \(action) } }")
        s.connect()
        s.helo("act.example.net")
        s.mail("<a@example.org>")
        return s
    }

    @Test("DISCARD discards at RCPT")
    func discard() throws {
        let s = try session("DISCARD")
        #expect(s.rcpt("<b@example.com>") == .discard)
        #expect(s.log.lines.contains { $0.hasPrefix("NOQUEUE: discard: RCPT from unknown[203.0.113.7]: <act.example.net>: Helo command") })
    }

    @Test("HOLD quarantines at end of message with its reason, logged for the first recipient only", arguments: [
        ("HOLD", "triggers HOLD action"), ("HOLD held by helo", "held by helo"),
    ])
    func hold(_ action: String, _ expectedReason: String) throws {
        let s = try session(action)
        #expect(s.rcpt("<b@example.com>") == .continue)
        #expect(s.rcpt("<c@example.com>", queueID: "4ABCDEF") == .continue)
        #expect(s.session.endOfMessage(context: s.context) == .continue)
        guard case .quarantine(let reason)? = s.context.requests.first else {
            Issue.record("no quarantine: \(s.context.requests)")
            return
        }
        #expect(reason == expectedReason)
        #expect(s.log.lines.filter { $0.contains(": hold: RCPT") }.count == 1)
    }

    @Test("PREPEND inserts the header at end of message, once per accepted recipient as Postfix does")
    func prepend() throws {
        let s = try session("PREPEND X-Helo-Check: suspicious")
        _ = s.rcpt("<b@example.com>")
        _ = s.session.endOfMessage(context: s.context)
        #expect(s.context.requests == [.insertHeader(index: 0, name: "X-Helo-Check", value: "suspicious")])
    }

    @Test("REDIRECT replaces the accepted recipients; BCC adds one")
    func redirectAndBcc() throws {
        let redirect = try session("REDIRECT trap@example.org")
        _ = redirect.rcpt("<b@example.com>")
        _ = redirect.rcpt("<c@example.com>")
        _ = redirect.session.endOfMessage(context: redirect.context)
        #expect(redirect.context.requests == [.deleteRecipient("<b@example.com>"), .deleteRecipient("<c@example.com>"), .addRecipient("trap@example.org")])

        let bcc = try session("BCC copy@example.org")
        _ = bcc.rcpt("<b@example.com>")
        _ = bcc.rcpt("<c@example.com>")
        _ = bcc.session.endOfMessage(context: bcc.context)
        #expect(bcc.context.requests == [.addRecipient("copy@example.org")])
    }

    @Test("WARN logs and accepts; an aborted transaction forgets its actions")
    func warnAndAbort() throws {
        let s = try session("WARN suspicious helo")
        #expect(s.rcpt("<b@example.com>", queueID: "9F00A1") == .continue)
        #expect(s.log.lines.contains("9F00A1: warn: RCPT from unknown[203.0.113.7]: suspicious helo; from=<a@example.org> to=<b@example.com> helo=<act.example.net>"))

        let held = try session("HOLD")
        _ = held.rcpt("<b@example.com>")
        held.abort()
        _ = held.session.endOfMessage(context: held.context)
        #expect(held.context.requests.isEmpty)
    }
}

@Suite("HeloGuardSession: log lines")
struct SessionLogTests {
    @Test("INFO is a Postfix-shaped info line; a DSN mapping note is a plain line")
    func infoAndNote() throws {
        let s = try SessionHarness("""
            smtpd_helo_restrictions = check_helo_access inline:{ { i.example = INFO seen }, { m.example = REJECT 5.1.1 no } }
            """)
        s.connect()
        s.helo("i.example")
        s.mail("<a@example.org>")
        _ = s.rcpt("<b@example.com>")
        s.helo("m.example")
        s.mail("<a@example.org>")
        _ = s.rcpt("<b@example.com>")
        #expect(s.log.lines == [
            "NOQUEUE: info: RCPT from unknown[203.0.113.7]: seen; from=<a@example.org> to=<b@example.com> helo=<i.example>",
            "mapping DSN status 5.1.1 into Helo command status 5.0.0",
            "NOQUEUE: reject: RCPT from unknown[203.0.113.7]: 554 5.0.0 <m.example>: Helo command rejected: no; from=<a@example.org> to=<b@example.com> helo=<m.example>",
        ])
    }

    @Test("a refusal is logged as Postfix logs it, with NOQUEUE before the queue id exists")
    func rejectLine() throws {
        let s = try SessionHarness("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname")
        s.connect(MilterClient(hostname: "client.example.org", address: "203.0.113.7", family: .inet4))
        s.helo("foo")
        s.mail("<a@example.org>")
        _ = s.rcpt("<b@example.com>")
        _ = s.rcpt("<c@example.com>", queueID: "3F1A2B")
        #expect(s.log.lines == [
            "NOQUEUE: reject: RCPT from client.example.org[203.0.113.7]: \(nonFQDN); from=<a@example.org> to=<b@example.com> helo=<foo>",
            "3F1A2B: reject: RCPT from client.example.org[203.0.113.7]: \(nonFQDN); from=<a@example.org> to=<c@example.com> helo=<foo>",
        ])
    }

    @Test("the HELO text in replies and logs is the sanitised name")
    func sanitised() throws {
        let s = try SessionHarness("smtpd_helo_restrictions = reject_invalid_helo_hostname")
        s.connect()
        s.helo("foo bar")
        s.mail("<a@example.org>")
        #expect(SessionHarness.text(s.rcpt("<b@example.com>")) == "501 5.5.2 <foo?bar>: Helo command rejected: Invalid name")
        #expect(s.log.lines.first?.hasSuffix("helo=<foo?bar>") == true)
    }
}

@Suite("Negotiation and reload")
struct NegotiationTests {
    @Test("only the events, replies and macros heloguard uses are asked for", arguments: [
        // MAIL is answered when the message can be accepted there, or for smtpd_helo_required.
        ("", true, false),
        ("smtpd_delay_reject = no", false, false),
        ("smtpd_helo_required = yes", true, false),
        ("smtpd_helo_restrictions = check_recipient_access inline:{a@example.com=OK}", true, true),
        ("smtpd_helo_restrictions = sleep 1", true, true),
        ("smtpd_helo_required = yes\nsmtpd_helo_restrictions = sleep 1", true, false),
    ])
    func steps(_ config: String, _ noReplyHelo: Bool, _ noReplyMail: Bool) throws {
        let s = try SessionHarness(config)
        let wish = s.session.negotiation()
        #expect(wish.steps.isSuperset(of: [.noConnect, .noHeaders, .noEndOfHeaders, .noBody, .noUnknown, .noData, .noReplyConnect]))
        #expect(wish.steps.contains(.noReplyHelo) == noReplyHelo)
        #expect(wish.steps.contains(.noReplyMail) == noReplyMail)
        #expect(!wish.steps.contains(.noReplyRecipient))
        #expect(wish.macros[.connect] == ["j", "{daemon_addr}", "{client_name}", "{client_addr}", "{client_port}", "{client_ptr}"])
        #expect(wish.macros[.mail] == ["{auth_type}", "{auth_authen}"])
        #expect(wish.macros[.recipient] == ["i"])
        #expect(wish.macros.count == 3)
        #expect(wish.actions.isSuperset(of: [.quarantine, .addRecipients, .deleteRecipients, .addHeaders, .setSymbolList]))
    }

    @Test("a reload swaps the configuration for new sessions; a broken one is refused and the old one kept")
    func reload() throws {
        let texts = ["smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", "smtpd_helo_restrictions = permit",
                     "smtpd_helo_restrictions = no_such_restriction"]
        let index = Counter()
        let store = try ConfigurationStore(path: "test.conf", loader: { path throws(ConfigError) in
            try ConfigurationLoader.load(text: texts[index.next()], file: path, interfaces: [])
        }, makeResolver: { ResolverSetup(resolver: UnavailableResolver(), settings: $0) })
        let log = RecordingLog()
        let factory = HeloGuardFactory(store: store, log: log)
        let before = factory.makeHandler()
        try store.reload()
        #expect(store.current.generation == 2)
        let after = factory.makeHandler()
        #expect(throws: ConfigError.self) { try store.reload() }
        #expect(store.current.generation == 2)
        let context = RecordingContext()
        for (handler, expected) in [(before, nonFQDN), (after, "continue")] {
            _ = handler.connect(client: SessionHarness.client, context: context)
            _ = handler.helo("foo", context: context)
            _ = handler.mail(["<a@example.org>"], context: context)
            #expect(SessionHarness.text(handler.recipient(["<b@example.com>"], context: context)) == expected)
        }
    }
}

/// A thread-safe counter for the reload test's loader.
final class Counter: Sendable {
    private let value = Synchronization.Mutex(0)
    func next() -> Int {
        value.withLock { current in
            defer { current += 1 }
            return current
        }
    }
}
