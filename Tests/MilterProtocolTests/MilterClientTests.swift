import Glibc
import MilterKit
import MilterTesting
import Testing

/// The client's side of the conversation, against a scripted milter on a socket pair.
@Suite("MTAClient honours the negotiation as Postfix does")
struct MilterClientTests {
    @Test("Offers version 6, actions 0x1ff and protocol 0x1fffff by default, and keeps the answer")
    func defaultNegotiation() throws {
        let milter = try ScriptedMilter()
        let answer = MilterAgreement(version: 6, actions: [.addHeaders, .setSymbolList], steps: [.noBody, .noReplyHelo],
                                       macroLists: [.connect: "j {daemon_addr}"])
        milter.reply(.negotiation(answer))
        #expect(try milter.client.negotiate() == answer)
        #expect(try milter.received() == [.optionNegotiation(version: 6, actions: MilterActions(rawValue: 0x1ff),
                                                             steps: MilterSteps(rawValue: 0x1f_ffff))])
        #expect(milter.client.negotiation == answer)
    }

    @Test("Offers what the options say")
    func configuredNegotiation() throws {
        var options = MTAClientOptions()
        options.version = 4
        options.actions = [.addHeaders]
        options.steps = [.noBody, .noHeaders]
        let milter = try ScriptedMilter(options: options)
        milter.reply(.negotiation(MilterAgreement(version: 2)))
        try milter.client.negotiate()
        #expect(try milter.received() == [.optionNegotiation(version: 4, actions: .addHeaders, steps: [.noBody, .noHeaders])])
    }

    @Test("Refuses a newer protocol version or actions that were not offered", arguments: [
        MilterAgreement(version: 7),
        MilterAgreement(version: 6, actions: MilterActions(rawValue: 0x200)),
    ])
    func refusedNegotiation(_ answer: MilterAgreement) throws {
        let milter = try ScriptedMilter()
        milter.reply(.negotiation(answer))
        #expect { try milter.client.negotiate() } throws: { isProtocolViolation($0) }
    }

    @Test("An event is negotiated first when negotiate() was not called")
    func implicitNegotiation() throws {
        let milter = try ScriptedMilter()
        milter.reply(.negotiation(MilterAgreement()), .decision(.continue))
        #expect(try milter.client.helo("a.example") == .continue)
        let sent = try milter.received()
        #expect(sent.first == .optionNegotiation(version: 6, actions: .postfixOffer, steps: .postfixOffer))
        #expect(sent.last == .helo("a.example"))
    }

    struct EventCase: Sendable, CustomTestStringConvertible {
        let name: String
        let off: MilterSteps
        let noReply: MilterSteps
        let command: MilterCommand
        let send: @Sendable (MTAClient) throws -> MilterDecision
        var testDescription: String { name }
    }

    static let events: [EventCase] = [
        EventCase(name: "connect", off: .noConnect, noReply: .noReplyConnect,
                  command: .connect(hostname: "[192.0.2.7]", family: .inet, port: 1234, address: "192.0.2.7"),
                  send: { try $0.connect(hostname: "[192.0.2.7]", address: .ip("192.0.2.7", port: 1234)) }),
        EventCase(name: "helo", off: .noHelo, noReply: .noReplyHelo, command: .helo("foo"), send: { try $0.helo("foo") }),
        EventCase(name: "mail", off: .noMail, noReply: .noReplyMail, command: .mail(["<a@example.org>", "SIZE=1"]),
                  send: { try $0.mail("<a@example.org>", parameters: ["SIZE=1"]) }),
        EventCase(name: "rcpt", off: .noRecipient, noReply: .noReplyRecipient, command: .recipient(["<b@example.com>"]),
                  send: { try $0.recipient("<b@example.com>") }),
        EventCase(name: "data", off: .noData, noReply: .noReplyData, command: .data, send: { try $0.data() }),
        EventCase(name: "header", off: .noHeaders, noReply: .noReplyHeader, command: .header(name: "Subject", value: "x"),
                  send: { try $0.header("Subject", "x") }),
        EventCase(name: "eoh", off: .noEndOfHeaders, noReply: .noReplyEndOfHeaders, command: .endOfHeaders,
                  send: { try $0.endOfHeaders() }),
        EventCase(name: "body", off: .noBody, noReply: .noReplyBody, command: .body(Array("x\r\n".utf8)), send: { try $0.body("x\r\n") }),
        EventCase(name: "unknown", off: .noUnknown, noReply: .noReplyUnknown, command: .unknown("XFOO"), send: { try $0.unknown("XFOO") }),
    ]

    @Test("Sent and answered when the milter wants it", arguments: events)
    func eventSent(_ event: EventCase) throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement())
        milter.reply(.decision(.reject))
        #expect(try event.send(milter.client) == .reject)
        #expect(milter.client.lastDisposition == .replied)
        #expect(try milter.received().last == event.command)
    }

    @Test("Not sent when the milter turned it off (SMFIP_NO*)", arguments: events)
    func eventOff(_ event: EventCase) throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement(steps: event.off))
        #expect(try event.send(milter.client) == .continue)
        #expect(milter.client.lastDisposition == .notSent)
        #expect(try !milter.received().contains(event.command))
        #expect(milter.client.transcript.last == .notSent(event.command))
    }

    @Test("Sent without waiting when the milter will not reply (SMFIP_NR_*)", arguments: events)
    func eventNoReply(_ event: EventCase) throws {
        // Nothing is queued: a client that waited would time out and throw.
        let milter = try ScriptedMilter(timeout: .seconds(5))
        try milter.negotiate(MilterAgreement(steps: event.noReply))
        let started = ContinuousClock.now
        #expect(try event.send(milter.client) == .continue)
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(milter.client.lastDisposition == .sentWithoutReply)
        #expect(try milter.received().last == event.command)
    }

    @Test("End of message is always sent and answered, even with every event turned off")
    func endOfMessageAlwaysSent() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement(steps: .postfixOffer))
        milter.reply(.decision(.accept))
        #expect(try milter.client.endOfMessage() == MilterEndOfMessage(requests: [], decision: .accept))
        #expect(try milter.received().last == .endOfMessage)
    }

    @Test("Macros: the milter's list replaces the default, only listed names with a value are sent, in list order, even for an event turned off")
    func macros() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement(steps: .noHelo,
                                               macroLists: [.connect: "{daemon_addr} j", .helo: "{x}", .mail: ""]))
        let values = ["j": "mx.example.com", "{daemon_addr}": "192.0.2.1", "v": "Postfix 3.7.11", "{x}": "1",
                      "{auth_type}": "PLAIN", "{auth_authen}": "alice", "{mail_addr}": "a@example.org"]
        milter.reply(.decision(.continue), .decision(.continue))
        try milter.client.connect(hostname: "[192.0.2.7]", address: .ip("192.0.2.7"), macros: values)
        try milter.client.helo("foo", macros: values)
        try milter.client.mail("<a@example.org>", macros: values)
        let c = UInt8(ascii: "C"), h = UInt8(ascii: "H"), m = UInt8(ascii: "M")
        #expect(try milter.received() == [
            .macros(commandCode: c, [MilterMacro("{daemon_addr}", "192.0.2.1"), MilterMacro("j", "mx.example.com")]),
            .connect(hostname: "[192.0.2.7]", family: .inet, port: 0, address: "192.0.2.7"),
            .macros(commandCode: h, [MilterMacro("{x}", "1")]),
            // An empty list from the milter leaves Postfix's default list in force.
            .macros(commandCode: m, [MilterMacro("{auth_type}", "PLAIN"), MilterMacro("{auth_authen}", "alice"), MilterMacro("{mail_addr}", "a@example.org")]),
            .mail(["<a@example.org>"]),
        ])
    }

    @Test("A stage with an empty macro list gets no macro packet")
    func noMacroPacket() throws {
        var options = MTAClientOptions()
        options.macroLists = [:]
        let milter = try ScriptedMilter(options: options)
        try milter.negotiate(MilterAgreement())
        milter.reply(.decision(.continue))
        try milter.client.helo("foo", macros: ["j": "x"])
        #expect(try milter.received() == [.helo("foo")])
    }

    @Test("End of message collects every request in order until the decision")
    func endOfMessageRequests() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement(actions: .postfixOffer))
        let requests: [MilterRequest] = [
            .progress,
            .insertHeader(index: 0, name: "X-Helo", value: "foo"),
            .addHeader(name: "X-A", value: "1"),
            .changeHeader(index: 1, name: "Subject", value: "new"),
            .addRecipient("<bcc@example.org>"),
            .addRecipientWithParameters("<r@example.org>", parameters: "NOTIFY=NEVER"),
            .deleteRecipient("<b@example.com>"),
            .changeSender("<s@example.org>", parameters: nil),
            .replaceBody(Array("new body\r\n".utf8)),
            .quarantine(reason: "held"),
        ]
        for request in requests { milter.reply(.request(request)) }
        milter.reply(.decision(.continue))
        #expect(try milter.client.endOfMessage() == MilterEndOfMessage(requests: requests, decision: .continue))
    }

    @Test("A modification before end of message is a protocol violation; quarantine and progress are not")
    func modificationTooEarly() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement(actions: .postfixOffer))
        milter.reply(.request(.progress), .request(.quarantine(reason: "hold")), .decision(.continue))
        #expect(try milter.client.recipient("<a@example.com>") == .continue)
        #expect(milter.client.lastRequests == [.progress, .quarantine(reason: "hold")])
        milter.reply(.request(.addHeader(name: "X", value: "y")), .decision(.continue))
        #expect { try milter.client.recipient("<b@example.com>") } throws: { isProtocolViolation($0) }
    }

    @Test("After SMFIR_SKIP the same event is not sent again until another event comes")
    func skip() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement(steps: .skip))
        milter.reply(.decision(.skip))
        #expect(try milter.client.body("one\r\n") == .skip)
        #expect(try milter.client.body("two\r\n") == .continue)
        #expect(milter.client.lastDisposition == .notSent)
        milter.reply(.decision(.accept))
        _ = try milter.client.endOfMessage()
        #expect(try milter.received().filter { if case .body = $0 { true } else { false } } == [.body(Array("one\r\n".utf8))])
    }

    @Test("Bodies are sent in chunks of at most 65535 bytes")
    func bodyChunks() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement())
        milter.reply(.decision(.continue), .decision(.continue))
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 70000)
        #expect(try milter.client.body(body) == .continue)
        let sizes = try milter.received().compactMap { if case .body(let chunk) = $0 { chunk.count } else { nil } }
        #expect(sizes == [65535, 70000 - 65535])
    }

    @Test("A silent milter times out at the deadline instead of hanging")
    func timeout() throws {
        let milter = try ScriptedMilter(timeout: .milliseconds(300))
        try milter.negotiate(MilterAgreement())
        let started = ContinuousClock.now
        #expect(throws: MTAClientError.timedOut(waitingFor: "the reply to SMFIC_RCPT", after: .milliseconds(300))) {
            try milter.client.recipient("<b@example.com>")
        }
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test("A reply split across reads is reassembled")
    func splitReply() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement())
        let bytes = MilterAnswer.decision(.replyCode("550 5.7.1 split")).packet.encoded()
        milter.write(Array(bytes[..<3]))
        milter.write(Array(bytes[3...]))
        #expect(try milter.client.recipient("<b@example.com>") == .replyCode("550 5.7.1 split"))
    }

    @Test("A milter that hangs up is reported as such")
    func hangUp() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement())
        milter.hangUp()
        #expect { try milter.client.recipient("<b@example.com>") } throws: { error in
            if case .connectionClosed = error as? MTAClientError { true } else { false }
        }
    }

    @Test("A reply nobody asked for (to an event negotiated without reply) is caught before the next event")
    func strayReply() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement(steps: .noReplyHelo))
        milter.reply(.decision(.continue))
        try milter.client.helo("foo")
        #expect { try milter.client.mail("<a@example.org>") } throws: { isProtocolViolation($0) }
    }

    @Test("An OPTNEG reply in the middle of a session is a protocol violation")
    func lateNegotiation() throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement())
        milter.reply(.negotiation(MilterAgreement()))
        #expect { try milter.client.helo("foo") } throws: { isProtocolViolation($0) }
    }

    @Test("Abort and quit are sent without waiting for a reply")
    func abortAndQuit() throws {
        let milter = try ScriptedMilter(timeout: .seconds(5))
        try milter.negotiate(MilterAgreement())
        try milter.client.abort()
        milter.client.quit()
        #expect(try milter.received() == [.abort, .quit])
    }

    @Test("Connect reports each address family", arguments: [
        (SMTPClientAddress.ip("2001:db8::7", port: 25), MilterCommand.connect(hostname: "h", family: .inet6, port: 25, address: "2001:db8::7")),
        (.ip("192.0.2.7", port: 25), .connect(hostname: "h", family: .inet, port: 25, address: "192.0.2.7")),
        (.local("/run/x"), .connect(hostname: "h", family: .unix, port: 0, address: "/run/x")),
        (.unknown, .connect(hostname: "h", family: .unknown, port: 0, address: "")),
    ])
    func connectFamilies(_ address: SMTPClientAddress, _ expected: MilterCommand) throws {
        let milter = try ScriptedMilter()
        try milter.negotiate(MilterAgreement(steps: .noReplyConnect))
        try milter.client.connect(hostname: "h", address: address)
        #expect(try milter.received().last == expected)
    }

    @Test("Connects over TCP to inet:port@host and inet6:port@host", arguments: [false, true])
    func tcp(_ ipv6: Bool) throws {
        let milter = try ScriptedMilter(overTCP: ipv6)
        milter.reply(.negotiation(MilterAgreement()), .decision(.replyCode("550 5.7.1 over tcp")))
        #expect(try milter.client.recipient("<b@example.com>") == .replyCode("550 5.7.1 over tcp"))
        #expect(try milter.received().last == .recipient(["<b@example.com>"]))
    }

    @Test("A bad socket specification is refused before connecting", arguments: ["/tmp/x.sock", "unix:relative", "inet:127.0.0.1:8891", "tcp:1@h"])
    func badSpec(_ spec: String) {
        #expect {
            try MTAClient(connectingTo: spec)
        } throws: { error in
            guard case .invalidSocketSpec(let text) = error as? MTAClientError else { return false }
            return text.contains(spec)
        }
    }

    @Test("Nobody listening: a connect error, at once")
    func nobodyListening() {
        #expect {
            try MTAClient(connectingTo: "unix:/nonexistent/heloguard-test.sock")
        } throws: { error in
            guard case .system(let call, let code) = error as? MTAClientError else { return false }
            return call.hasPrefix("connect unix:/nonexistent/") && code == ENOENT
        }
    }
}

private func isProtocolViolation(_ error: any Error) -> Bool {
    if case .protocolViolation = error as? MTAClientError { true } else { false }
}
