import Foundation
import Glibc
import MilterKit
import MilterTesting
import Testing

/// The built heloguard binary as a milter on a unix socket, driven the way Postfix drives it.
/// Expected replies are Postfix's (postfix-helo-semantics §1, §4.4, §8): what Postfix's own
/// smtpd_helo_restrictions would answer, relayed the way Postfix relays a milter's reply.
@Suite("heloguard run over the milter protocol")
struct HeloguardProtocolTests {
    static let config = """
        myhostname = mx.example.com
        mynetworks = 127.0.0.0/8 [::1]/128
        impersonation_hostnames = mx.example.com
        impersonation_addresses = 192.0.2.25
        smtpd_helo_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_impersonating_helo,
            check_helo_access hash:@DIR@/helo_access, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname

        """
    static let heloAccess = """
        discard.example.net DISCARD
        hold.example.net    HOLD suspicious greeting
        prepend.example.net PREPEND X-Helo-Check: prepended by heloguard
        redirect.example.net REDIRECT quarantine@example.org
        bcc.example.net     BCC copy@example.org

        """
    static let files = ["helo_access": heloAccess]

    static let nonFQDN = "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"
    static let ok = "250 2.1.5 Ok"
    static let mailOK = "MAIL: 250 2.1.0 Ok"

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let session: SMTPSession
        let expected: [String]
        var testDescription: String { name }
    }

    static func session(helos: [String], client: String = "203.0.113.7", recipients: [String] = ["<b@example.com>"],
                        serverMacros: [String: String]? = nil, sasl: (String, String)? = nil) -> SMTPSession {
        var session = SMTPSession()
        session.helos = helos
        session.client = client
        session.recipients = recipients
        if let serverMacros { session.serverMacros = serverMacros }
        session.sasl = sasl.map { (type: $0.0, user: $0.1) }
        return session
    }

    static let cases: [Case] = [
        Case(name: "non-FQDN HELO: every recipient refused with Postfix's text, bare postmaster exempt",
             session: session(helos: ["foo"], recipients: ["<b@example.com>", "<postmaster>", "<POSTMASTER>", "postmaster",
                                                           "<postmaster@example.com>", "<c@example.net>"]),
             expected: [mailOK, "RCPT <b@example.com>: \(nonFQDN)", "RCPT <postmaster>: \(ok)", "RCPT <POSTMASTER>: \(ok)",
                        "RCPT postmaster: \(ok)", "RCPT <postmaster@example.com>: \(nonFQDN)", "RCPT <c@example.net>: \(nonFQDN)"]),
        Case(name: "fully-qualified HELO accepted",
             session: session(helos: ["mail.example.net"]), expected: [mailOK, "RCPT <b@example.com>: \(ok)"]),
        Case(name: "invalid HELO",
             session: session(helos: ["foo_bar..example.com"]),
             expected: [mailOK, "RCPT <b@example.com>: 501 5.5.2 <foo_bar..example.com>: Helo command rejected: Invalid name"]),
        Case(name: "HELO with our configured host name",
             session: session(helos: ["MX.Example.COM"]),
             expected: [mailOK, "RCPT <b@example.com>: 550 5.7.1 <MX.Example.COM>: Helo command rejected: Host impersonates this server"]),
        Case(name: "HELO with our configured address",
             session: session(helos: ["[192.0.2.25]"]),
             expected: [mailOK, "RCPT <b@example.com>: 550 5.7.1 <[192.0.2.25]>: Helo command rejected: Host impersonates this server"]),
        Case(name: "HELO with the MTA's name from the connect macro j",
             session: session(helos: ["mx2.example.net"], serverMacros: ["j": "mx2.example.net", "{daemon_addr}": "198.51.100.5"]),
             expected: [mailOK, "RCPT <b@example.com>: 550 5.7.1 <mx2.example.net>: Helo command rejected: Host impersonates this server"]),
        Case(name: "HELO with the MTA's address from the connect macro {daemon_addr}",
             session: session(helos: ["[198.51.100.5]"], serverMacros: ["j": "mx2.example.net", "{daemon_addr}": "198.51.100.5"]),
             expected: [mailOK, "RCPT <b@example.com>: 550 5.7.1 <[198.51.100.5]>: Helo command rejected: Host impersonates this server"]),
        Case(name: "the same HELO from a client of another MTA is not an impersonation",
             session: session(helos: ["mx2.example.net"], serverMacros: ["j": "mx9.example.net", "{daemon_addr}": "198.51.100.9"]),
             expected: [mailOK, "RCPT <b@example.com>: \(ok)"]),
        Case(name: "SASL-authenticated client (auth macros at MAIL) is not checked",
             session: session(helos: ["foo"], sasl: ("PLAIN", "alice")), expected: [mailOK, "RCPT <b@example.com>: \(ok)"]),
        Case(name: "an ANONYMOUS login does not count as authenticated",
             session: session(helos: ["foo"], sasl: ("ANONYMOUS", "anonymous")), expected: [mailOK, "RCPT <b@example.com>: \(nonFQDN)"]),
        Case(name: "repeated HELO: the last one counts (good after bad)",
             session: session(helos: ["foo", "good.example.com"]), expected: [mailOK, "RCPT <b@example.com>: \(ok)"]),
        Case(name: "repeated HELO: the last one counts (bad after good)",
             session: session(helos: ["good.example.com", "foo"]), expected: [mailOK, "RCPT <b@example.com>: \(nonFQDN)"]),
        Case(name: "no HELO at all: no HELO checks",
             session: session(helos: []), expected: [mailOK, "RCPT <b@example.com>: \(ok)"]),
        Case(name: "client in mynetworks (IPv4) by its connect address",
             session: session(helos: ["foo"], client: "127.0.0.1"), expected: [mailOK, "RCPT <b@example.com>: \(ok)"]),
        Case(name: "client in mynetworks (IPv6) by its connect address",
             session: session(helos: ["foo"], client: "::1"), expected: [mailOK, "RCPT <b@example.com>: \(ok)"]),
        Case(name: "client outside mynetworks (IPv6)",
             session: session(helos: ["foo"], client: "2001:db8::7"), expected: [mailOK, "RCPT <b@example.com>: \(nonFQDN)"]),
    ]

    @Test("Replies at RCPT, one heloguard for all sessions")
    func sessions() throws {
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            for testCase in Self.cases {
                let client = try milter.client()
                #expect(try testCase.session.play(on: client) == testCase.expected, "\(testCase.name)")
                client.quit()
            }
            // One Postfix-shaped log line per refusal (no queue id yet at the first RCPT).
            #expect(milter.log.contains("NOQUEUE: reject: RCPT from unknown[203.0.113.7]: \(Self.nonFQDN); from=<a@example.org> to=<b@example.com> helo=<foo>\n"),
                    "log:\n\(milter.log)")
        }
    }

    /// HELOs whose milter reply must equal what `heloguard test` (the rule core alone) prints.
    static let corpus = [
        "foo", "localhost", "mail.example.net", "mail.example.net.", "-bad.example.net", "foo_bar..example.com",
        "foo bar", "Foo.Example.COM", "[192.0.2.25]", "[1.2.3]", "[IPv6:2001:db8::1]", "192.0.2.7", "mx.example.com",
        "discard.example.net", "hold.example.net", "1234", "a..b", "foo%bar", "ünïcode.example.org",
        String(repeating: "a", count: 2048), String(repeating: "label.", count: 300) + "example.com",
    ]

    /// `550-5.7.1 abc\r\n550 5.7.1 def` → `550 5.7.1 abcdef`: the text of a multi-line reply on one line.
    static func joined(_ reply: String) -> String {
        let lines = reply.components(separatedBy: "\r\n")
        guard lines.count > 1 else { return reply }
        let prefixLength = 10 // "550-5.7.1 "
        let last = lines[lines.count - 1]
        return String(last.prefix(prefixLength)) + lines.map { String($0.dropFirst(prefixLength)) }.joined()
    }

    /// The rule core's reply as the milter sends it: each non-ASCII character becomes `?`.
    static func sevenBit(_ reply: String) -> String {
        String(reply.unicodeScalars.map { $0.isASCII ? Character($0) : "?" })
    }

    @Test("Milter replies equal `heloguard test`'s (the same session code, no MTA) for a corpus of HELOs, however long")
    func parity() throws {
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            for helo in Self.corpus {
                let client = try milter.client()
                let session = Self.session(helos: [helo], serverMacros: [:])
                let lines = try session.play(on: client)
                client.quit()
                let expected = try HeloguardMilter.ruleCoreReplies(configPath: milter.directory.path + "/heloguard.conf",
                                                                   client: session.client, helos: [helo], recipients: ["b@example.com"])
                // "RCPT <b@example.com>: reply" → "reply"
                let replies = lines.dropFirst().map { String($0.drop { $0 != ":" }.dropFirst(2)) }
                // A text longer than libmilter's 980-byte line limit arrives as a multi-line reply
                // carrying the same text; joined, it equals the rule core's one-line reply.
                // Replies are 7-bit: a character outside ASCII in the HELO name arrives as `?`.
                #expect(replies.map(Self.joined) == expected.map(Self.sevenBit), "HELO \(helo.prefix(40))…")
                for reply in replies {
                    #expect(PostfixRelay.isWellFormed(reply) || reply == Self.ok, "\(reply.prefix(60))")
                    for line in reply.components(separatedBy: "\r\n") {
                        #expect(line.utf8.count <= 10 + 980, "\(line.utf8.count) bytes: \(line.prefix(60))")
                    }
                }
            }
        }
    }

    /// What each recipient of a played session got, as `heloguard test` reports it: the RCPT's
    /// reply, or the MAIL refusal for every recipient when MAIL was refused.
    static func recipientReplies(_ lines: [String], recipients: [String]) -> [String] {
        let reply = { (line: String) in Self.joined(String(line.drop { $0 != ":" }.dropFirst(2))) }
        guard let mail = lines.first, mail == mailOK else { return recipients.map { _ in reply(lines[0]) } }
        return lines.dropFirst().map(reply)
    }

    @Test("`heloguard test --json` gives every session of this suite the milter's replies")
    func testerAgreesWithTheMilter() throws {
        let defaultMacros = SMTPSession().serverMacros
        // The tester knows no MTA macros (j, {daemon_addr}) and logs in with PLAIN.
        let expressible = Self.cases.filter { $0.session.serverMacros == defaultMacros && ($0.session.sasl?.type ?? "PLAIN") == "PLAIN" }
        #expect(expressible.count >= Self.cases.count - 4)
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            for testCase in expressible {
                let client = try milter.client()
                let lines = try testCase.session.play(on: client)
                client.quit()
                let session = testCase.session
                let tester = try HeloguardMilter.ruleCoreReplies(configPath: milter.directory.path + "/heloguard.conf", client: session.client,
                                                                 helos: session.helos, saslUser: session.sasl?.user, recipients: session.recipients)
                #expect(tester == Self.recipientReplies(lines, recipients: session.recipients), "\(testCase.name)")
            }
        }
    }

    @Test("A client in the penalty box is refused by the milter and by `heloguard test`; --no-penalty-box ignores the box")
    func boxedClientRefusedByBoth() throws {
        let config = "smtpd_helo_restrictions = reject_penalized_client, reject_non_fqdn_helo_hostname\nstate_directory = @DIR@/state\n"
        let boxed = "198.51.100.66"
        try HeloguardMilter.run(config: config, prepare: { milter in
            // As the milter would at its first start (run as root, `penalty` refuses to make it).
            try FileManager.default.createDirectory(atPath: milter.directory.path + "/state", withIntermediateDirectories: true)
            try HeloguardMilter.command(["penalty", "add", "--config", milter.directory.path + "/heloguard.conf", boxed,
                                         "--reason", "spam trap hit"])
        }) { milter in
            let path = milter.directory.path + "/heloguard.conf"
            for (client, refused) in [(boxed, true), ("198.51.100.67", false)] {
                let mta = try milter.client()
                let session = Self.session(helos: ["mail.example.net"], client: client)
                let lines = try session.play(on: mta)
                mta.quit()
                let milterReplies = Self.recipientReplies(lines, recipients: session.recipients)
                let tester = try HeloguardMilter.ruleCoreReplies(configPath: path, client: client, helos: session.helos,
                                                                 recipients: session.recipients)
                #expect(tester == milterReplies, "client \(client)")
                #expect(milterReplies.allSatisfy { $0.hasPrefix("550 5.7.1 ") && $0.contains("spam trap hit; penalized until") } == refused,
                        "client \(client): \(milterReplies)")
                let ignoringBox = try HeloguardMilter.ruleCoreReplies(configPath: path, client: client, helos: session.helos,
                                                                      recipients: session.recipients, extra: ["--no-penalty-box"])
                #expect(ignoringBox == [Self.ok], "client \(client)")
            }
            // Read only: `heloguard test` boxed nobody and wrote no HELO log.
            let listed = try HeloguardMilter.command(["penalty", "list", "--config", path])
            #expect(listed.components(separatedBy: "\n").filter { $0.contains("198.51.100.") }.count == 1, "\(listed)")
        }
    }

    @Test("RSET (ABORT) keeps the HELO; only a new HELO replaces it, also in the middle of a transaction")
    func abortKeepsHelo() throws {
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            let client = try milter.client()
            let refused = { (helo: String) in MilterDecision.replyCode("504 5.5.2 <\(helo)>: Helo command rejected: need fully-qualified hostname") }
            try Self.startTransaction(client, helo: "foo")
            #expect(try client.recipient("<b@example.com>") == refused("foo"))
            // RSET: libmilter hands this ABORT (sent inside a transaction) to the milter.
            try client.abort()
            try client.mail("<a@example.org>")
            #expect(try client.recipient("<b@example.com>") == refused("foo"))
            try client.abort()
            // A repeated HELO outside a transaction: Postfix sends HELO, then ABORT. The message
            // is accepted at MAIL (and Postfix, like libmilter, then leaves RCPT out).
            try client.helo("good.example.com")
            try client.abort()
            #expect(try client.mail("<a@example.org>") == .accept)
            // A HELO in the middle of a transaction ends it: HELO, then ABORT, then a new MAIL.
            try client.helo("bar")
            try client.abort()
            try client.mail("<a@example.org>")
            #expect(try client.recipient("<b@example.com>") == refused("bar"))
            client.quit()
        }
    }

    @Test("smtpd_helo_required = yes: MAIL without HELO refused with Postfix's text")
    func heloRequired() throws {
        try HeloguardMilter.run(config: Self.config + "smtpd_helo_required = yes\n", files: Self.files) { milter in
            let withoutHelo = try milter.client()
            #expect(try Self.session(helos: []).play(on: withoutHelo) == ["MAIL: 503 5.5.1 Error: send HELO/EHLO first"])
            withoutHelo.quit()
            let withHelo = try milter.client()
            #expect(try Self.session(helos: ["foo"]).play(on: withHelo) == [Self.mailOK, "RCPT <b@example.com>: \(Self.nonFQDN)"])
            withHelo.quit()
        }
    }

    /// HELOs of the access table whose action changes the message (recipients all accepted),
    /// and the requests heloguard makes at end of message for two recipients.
    static let actionCases: [(helo: String, requests: [MilterRequest])] = [
        ("hold.example.net", [.quarantine(reason: "suspicious greeting")]),
        // Postfix runs the HELO list again at each RCPT and PREPEND adds its header each time
        // (smtpd_check.c appends to the transaction's list): two recipients, two headers.
        ("prepend.example.net", Array(repeating: .insertHeader(index: 0, name: "X-Helo-Check", value: "prepended by heloguard"), count: 2)),
        ("redirect.example.net", [.deleteRecipient("<b@example.com>"), .deleteRecipient("<c@example.com>"), .addRecipient("quarantine@example.org")]),
        ("bcc.example.net", [.addRecipient("copy@example.org")]),
        ("mail.example.net", []),
    ]

    @Test("check_helo_access HOLD, PREPEND, REDIRECT, BCC become requests at end of message")
    func messageActions() throws {
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            for action in Self.actionCases {
                let client = try milter.client()
                // Without an action the message is accepted at MAIL already: nothing more is asked.
                let mail = try Self.startTransaction(client, helo: action.helo)
                #expect(mail == (action.requests.isEmpty ? .accept : .continue), "\(action.helo)")
                guard mail == .continue else {
                    client.quit()
                    continue
                }
                #expect(try client.recipient("<b@example.com>") == .continue, "\(action.helo)")
                #expect(try client.recipient("<c@example.com>") == .continue, "\(action.helo)")
                try client.data()
                try client.header("Subject", "test")
                try client.endOfHeaders()
                try client.body("hello\r\n")
                let result = try client.endOfMessage()
                #expect(result == MilterEndOfMessage(requests: action.requests, decision: .continue), "\(action.helo)")
                client.quit()
            }
        }
    }

    /// The decision at RCPT (none when MAIL already accepted the message: Postfix then sends
    /// no RCPT and answers it itself).
    static let recipientDecisions: [(helo: String, decision: MilterDecision?, relayed: String)] = [
        ("mail.example.net", nil, ok),
        ("foo", .replyCode(nonFQDN), nonFQDN),
        // DISCARD: the recipient is accepted, then the message dropped.
        ("discard.example.net", .discard, ok),
        // A % goes out doubled (libmilter's format-string rule) and reaches the client single.
        ("foo%bar", .replyCode("501 5.5.2 <foo%%bar>: Helo command rejected: Invalid name"),
         "501 5.5.2 <foo%bar>: Helo command rejected: Invalid name"),
    ]

    @Test("The RCPT decision on the wire, and the reply Postfix makes of it")
    func recipientDecision() throws {
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            for expected in Self.recipientDecisions {
                let client = try milter.client()
                let mail = try Self.startTransaction(client, helo: expected.helo)
                #expect(mail == (expected.decision == nil ? .accept : .continue), "HELO \(expected.helo)")
                let decision = mail == .accept ? nil : try client.recipient("<b@example.com>")
                #expect(decision == expected.decision, "HELO \(expected.helo)")
                #expect(PostfixRelay.reply(to: decision ?? .accept, for: .recipient) == expected.relayed, "HELO \(expected.helo)")
                client.quit()
            }
        }
    }

    /// Connect from 203.0.113.7 (no verified name), HELO, MAIL FROM:<a@example.org>; returns
    /// the answer to MAIL.
    @discardableResult
    static func startTransaction(_ client: MTAClient, helo: String) throws -> MilterDecision {
        try client.connect(hostname: "[203.0.113.7]", address: .ip("203.0.113.7"))
        try client.helo(helo)
        return try client.mail("<a@example.org>")
    }

    /// What a crashed or killed milter leaves at its socket path.
    enum Leftover: String, CaseIterable, Sendable {
        case emptyFile = "an empty regular file"
        case deadSocket = "a socket nobody listens on"

        func create(at path: String) throws {
            switch self {
            case .emptyFile:
                guard FileManager.default.createFile(atPath: path, contents: nil) else { throw HarnessError("cannot create \(path)") }
            case .deadSocket:
                let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
                defer { close(descriptor) }
                var address = sockaddr_un()
                address.sun_family = sa_family_t(AF_UNIX)
                withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
                let bound = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
                }
                guard bound == 0 else { throw HarnessError("cannot bind \(path)") }
            }
        }
    }

    @Test("A stale file at the socket path is replaced and the milter serves", arguments: Leftover.allCases)
    func staleSocketPath(_ leftover: Leftover) throws {
        try HeloguardMilter.run(config: Self.config, files: Self.files, prepare: { milter in
            try leftover.create(at: milter.socketPath)
        }) { milter in
            let client = try milter.client()
            #expect(try Self.session(helos: ["foo"]).play(on: client) == [Self.mailOK, "RCPT <b@example.com>: \(Self.nonFQDN)"])
            client.quit()
        }
    }

    @Test("A regular file with content at the socket path is not deleted: heloguard refuses to start")
    func fileInTheWay() throws {
        try HeloguardMilter.runToExit(config: Self.config, files: Self.files, prepare: { milter in
            try milter.write("milter.sock", "not a socket\n")
        }, inspect: { milter, status in
            #expect(status == 1)
            #expect(milter.log.contains("milter.sock is a regular file with content, not a socket"), "log:\n\(milter.log)")
            let contents = try String(contentsOfFile: milter.socketPath, encoding: .utf8)
            #expect(contents == "not a socket\n")
        })
    }

    @Test("Negotiation: version 6, the macros heloguard needs, headers/body/EOH/unknown turned off")
    func negotiation() throws {
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            let client = try milter.client()
            let agreement = try client.negotiate()
            client.quit()
            #expect(agreement.version == 6)
            #expect(MilterActions.postfixOffer.isSuperset(of: agreement.actions))
            // Quarantine (HOLD), header insert (PREPEND), recipient changes (REDIRECT, BCC), own macro lists.
            #expect(agreement.actions.isSuperset(of: [.quarantine, .addHeaders, .addRecipients, .deleteRecipients, .setSymbolList]))
            #expect(agreement.steps.isSuperset(of: [.noHeaders, .noBody, .noEndOfHeaders, .noUnknown]))
            // The connect event is skipped: the client comes from the connect macros below.
            #expect(agreement.steps.contains(.noConnect) && !agreement.steps.contains(.noHelo))
            #expect(!agreement.steps.contains(.noMail) && !agreement.steps.contains(.noRecipient))
            // The RCPT reply is the whole point.
            #expect(!agreement.steps.contains(.noReplyRecipient))
            #expect(Set(agreement.macroNames(at: .connect) ?? []).isSuperset(of: ["j", "{daemon_addr}", "{client_name}", "{client_addr}", "{client_port}"]))
            #expect(Set(agreement.macroNames(at: .mail) ?? []).isSuperset(of: ["{auth_type}", "{auth_authen}"]))
            #expect(Set(agreement.macroNames(at: .recipient) ?? []).isSuperset(of: ["i"]))
        }
    }

    /// The client comes from the connect event or, when heloguard skips it, from the connect
    /// macros: either way `permit_mynetworks` knows it (127.0.0.1 and ::1 are in mynetworks here,
    /// 192.0.2.77 is not), over IPv4 and over IPv6 (`{client_addr}` written `IPv6:...`). An MTA
    /// that does not take heloguard's macro lists keeps the event.
    @Test("the client from the connect event or the connect macros", arguments: [
        ("127.0.0.1", false, true, true), ("192.0.2.77", false, true, false), ("::1", true, true, true),
        ("127.0.0.1", false, false, true), ("192.0.2.77", false, false, false), ("::1", true, false, true),
    ])
    func clientKnown(_ address: String, _ ipv6: Bool, _ macroLists: Bool, _ permitted: Bool) throws {
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            var options = MTAClientOptions()
            if !macroLists { options.actions.remove(.setSymbolList) }
            let client = try milter.client(options)
            let agreement = try client.negotiate()
            #expect(agreement.steps.contains(.noConnect) == macroLists)
            try client.connect(hostname: "[\(address)]", address: ipv6 ? .ipv6(address, port: 4000) : .ipv4(address, port: 4000))
            try client.helo("foo")
            // `foo` fails reject_non_fqdn_helo_hostname unless permit_mynetworks matched first:
            // then the message is accepted at MAIL, else its recipient is refused.
            let mail = try client.mail("<a@example.org>")
            #expect(mail == (permitted ? .accept : .continue))
            if !permitted {
                let answer = try client.recipient("<b@example.com>")
                #expect(answer == .replyCode("504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"), "\(answer)")
            }
            client.quit()
        }
    }
}

