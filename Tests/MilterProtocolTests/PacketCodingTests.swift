import MilterKit
import MilterTesting
import Testing

/// A whole packet: 4-byte big-endian length, letter, payload. `payload` is written as text
/// with `\0` for the NULs; `binary` bytes go before it (numbers, family letters).
private func frame(_ letter: Character, _ binary: [UInt8] = [], _ payload: String = "") -> [UInt8] {
    let body = [letter.asciiValue!] + binary + Array(payload.utf8)
    let length = UInt32(body.count)
    return [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)] + body
}

private func number(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
}

struct CommandVector: Sendable, CustomTestStringConvertible {
    let command: MilterCommand
    let bytes: [UInt8]
    var testDescription: String { command.name }
}

struct ReplyVector: Sendable, CustomTestStringConvertible {
    let reply: MilterAnswer
    let bytes: [UInt8]
    var testDescription: String { "\(reply)" }
}

@Suite("Milter packet encoding and decoding")
struct PacketCodingTests {
    static let commands: [CommandVector] = [
        CommandVector(command: .optionNegotiation(version: 6, actions: .postfixOffer, steps: .postfixOffer),
                      bytes: frame("O", number(6) + number(0x1ff) + number(0x1f_ffff))),
        CommandVector(command: .connect(hostname: "[127.0.0.1]", family: .inet, port: 4242, address: "127.0.0.1"),
                      bytes: frame("C", Array("[127.0.0.1]\0".utf8) + [UInt8(ascii: "4"), 0x10, 0x92], "127.0.0.1\0")),
        CommandVector(command: .connect(hostname: "mail.example.net", family: .inet6, port: 25, address: "2001:db8::1"),
                      bytes: frame("C", Array("mail.example.net\0".utf8) + [UInt8(ascii: "6"), 0, 25], "2001:db8::1\0")),
        CommandVector(command: .connect(hostname: "localhost", family: .unix, port: 0, address: "/run/smtp.sock"),
                      bytes: frame("C", Array("localhost\0".utf8) + [UInt8(ascii: "L"), 0, 0], "/run/smtp.sock\0")),
        CommandVector(command: .connect(hostname: "somewhere", family: .unknown, port: 0, address: ""),
                      bytes: frame("C", [], "somewhere\0U")),
        CommandVector(command: .helo("foo bar"), bytes: frame("H", [], "foo bar\0")),
        CommandVector(command: .helo(""), bytes: frame("H", [], "\0")),
        CommandVector(command: .mail(["<a@example.org>", "SIZE=100"]), bytes: frame("M", [], "<a@example.org>\0SIZE=100\0")),
        CommandVector(command: .recipient(["<b@example.com>"]), bytes: frame("R", [], "<b@example.com>\0")),
        CommandVector(command: .macros(commandCode: UInt8(ascii: "R"), [MilterMacro("i", "4Fx1"), MilterMacro("{rcpt_addr}", "b@example.com")]),
                      bytes: frame("D", [], "Ri\u{0}4Fx1\u{0}{rcpt_addr}\u{0}b@example.com\0")),
        CommandVector(command: .macros(commandCode: UInt8(ascii: "H"), []), bytes: frame("D", [], "H")),
        CommandVector(command: .header(name: "Subject", value: "hi there"), bytes: frame("L", [], "Subject\0hi there\0")),
        CommandVector(command: .body(Array("line\r\n".utf8)), bytes: frame("B", [], "line\r\n")),
        CommandVector(command: .unknown("XFOO bar"), bytes: frame("U", [], "XFOO bar\0")),
        CommandVector(command: .data, bytes: frame("T")),
        CommandVector(command: .endOfHeaders, bytes: frame("N")),
        CommandVector(command: .endOfMessage, bytes: frame("E")),
        CommandVector(command: .abort, bytes: frame("A")),
        CommandVector(command: .quit, bytes: frame("Q")),
        CommandVector(command: .quitNewConnection, bytes: frame("K")),
    ]

    @Test("MTA commands encode byte for byte and decode back", arguments: commands)
    func command(_ vector: CommandVector) throws {
        #expect(vector.command.packet.encoded() == vector.bytes)
        let decoded = try #require(try MilterPacket.decode(vector.bytes[...]))
        #expect(decoded.length == vector.bytes.count)
        #expect(try MilterCommand(decoding: decoded.packet) == vector.command)
    }

    static let replies: [ReplyVector] = [
        ReplyVector(reply: .decision(.continue), bytes: frame("c")),
        ReplyVector(reply: .decision(.accept), bytes: frame("a")),
        ReplyVector(reply: .decision(.reject), bytes: frame("r")),
        ReplyVector(reply: .decision(.tempfail), bytes: frame("t")),
        ReplyVector(reply: .decision(.discard), bytes: frame("d")),
        ReplyVector(reply: .decision(.skip), bytes: frame("s")),
        ReplyVector(reply: .decision(.shutdown), bytes: frame("4")),
        ReplyVector(reply: .decision(.connectionFailure), bytes: frame("f")),
        ReplyVector(reply: .decision(.replyCode("504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname")),
                    bytes: frame("y", [], "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname\0")),
        ReplyVector(reply: .decision(.replyCode("550-5.7.1 first\r\n550 5.7.1 second")),
                    bytes: frame("y", [], "550-5.7.1 first\r\n550 5.7.1 second\0")),
        ReplyVector(reply: .negotiation(MilterAgreement(version: 6, actions: [.addHeaders, .quarantine],
                                                          steps: [.noHeaders, .noReplyHelo])),
                    bytes: frame("O", number(6) + number(0x21) + number(0x2020))),
        // libmilter appends one (stage number, NUL-terminated list) pair per smfi_setsymlist call, in stage order.
        ReplyVector(reply: .negotiation(MilterAgreement(version: 6, actions: .setSymbolList, steps: .noBody,
                                                          macroLists: [.connect: "j {daemon_addr}", .mail: "{auth_type} {auth_authen}", .recipient: "i"])),
                    bytes: frame("O", number(6) + number(0x100) + number(0x10) + number(0) + Array("j {daemon_addr}\0".utf8)
                                      + number(2) + Array("{auth_type} {auth_authen}\0".utf8) + number(3) + Array("i\0".utf8))),
        ReplyVector(reply: .request(.addHeader(name: "X-Helo", value: "checked")), bytes: frame("h", [], "X-Helo\0checked\0")),
        ReplyVector(reply: .request(.insertHeader(index: 0, name: "X-Top", value: "first")), bytes: frame("i", number(0), "X-Top\0first\0")),
        ReplyVector(reply: .request(.changeHeader(index: 2, name: "Subject", value: "")), bytes: frame("m", number(2), "Subject\0\0")),
        ReplyVector(reply: .request(.addRecipient("<bcc@example.org>")), bytes: frame("+", [], "<bcc@example.org>\0")),
        ReplyVector(reply: .request(.addRecipientWithParameters("<r@example.org>", parameters: "NOTIFY=NEVER")),
                    bytes: frame("2", [], "<r@example.org>\0NOTIFY=NEVER\0")),
        ReplyVector(reply: .request(.addRecipientWithParameters("<r@example.org>", parameters: nil)), bytes: frame("2", [], "<r@example.org>\0")),
        ReplyVector(reply: .request(.deleteRecipient("<b@example.com>")), bytes: frame("-", [], "<b@example.com>\0")),
        ReplyVector(reply: .request(.changeSender("<s@example.org>", parameters: nil)), bytes: frame("e", [], "<s@example.org>\0")),
        ReplyVector(reply: .request(.changeSender("<s@example.org>", parameters: "RET=HDRS")), bytes: frame("e", [], "<s@example.org>\0RET=HDRS\0")),
        ReplyVector(reply: .request(.replaceBody(Array("new\r\n".utf8))), bytes: frame("b", [], "new\r\n")),
        ReplyVector(reply: .request(.quarantine(reason: "held: bad helo")), bytes: frame("q", [], "held: bad helo\0")),
        ReplyVector(reply: .request(.progress), bytes: frame("p")),
    ]

    @Test("Milter replies decode byte for byte and encode back", arguments: replies)
    func reply(_ vector: ReplyVector) throws {
        let decoded = try #require(try MilterPacket.decode(vector.bytes[...]))
        #expect(decoded.length == vector.bytes.count)
        #expect(try MilterAnswer(decoding: decoded.packet) == vector.reply)
        #expect(vector.reply.packet.encoded() == vector.bytes)
    }

    static let malformedReplies: [(String, [UInt8])] = [
        ("continue with a payload", frame("c", [], "x")),
        ("reply code without NUL", frame("y", [], "550 5.7.1 x")),
        ("reply code with bytes after the NUL", frame("y", [], "550 5.7.1 x\0y")),
        ("unknown letter", frame("Z")),
        ("negotiation cut short", frame("O", number(6) + number(0x1ff))),
        ("macro list without its string", frame("O", number(6) + number(0) + number(0) + number(1))),
        ("insert header without index", frame("i", [0, 0], "")),
        ("add header without value", frame("h", [], "X-A\0")),
    ]

    @Test("Malformed replies are errors, not guesses", arguments: malformedReplies)
    func malformed(_ name: String, _ bytes: [UInt8]) throws {
        let decoded = try #require(try MilterPacket.decode(bytes[...]))
        #expect("\(name)") { try MilterAnswer(decoding: decoded.packet) } throws: { isMalformed($0) }
    }

    @Test("An unknown stage number in a macro list is ignored, as Postfix does")
    func unknownMacroStage() throws {
        let bytes = frame("O", number(6) + number(0) + number(0) + number(9) + Array("x\0".utf8) + number(3) + Array("i\0".utf8))
        let decoded = try #require(try MilterPacket.decode(bytes[...]))
        #expect(try MilterAnswer(decoding: decoded.packet) == .negotiation(MilterAgreement(macroLists: [.recipient: "i"])))
    }

    @Test("Framing: incomplete input waits for more, two packets come out one by one, length 0 is an error")
    func framing() throws {
        let two = frame("c") + frame("y", [], "550 5.7.1 no\0")
        for cut in 0..<5 { #expect(try MilterPacket.decode(two[..<cut]) == nil) }
        #expect(try MilterPacket.decode(frame("y", [], "550 x\0").dropLast()) == nil)
        let first = try #require(try MilterPacket.decode(two[...]))
        #expect(first.packet == MilterPacket(code: UInt8(ascii: "c")))
        let second = try #require(try MilterPacket.decode(two[first.length...]))
        #expect(try MilterAnswer(decoding: second.packet) == .decision(.replyCode("550 5.7.1 no")))
        #expect(first.length + second.length == two.count)
        #expect { try MilterPacket.decode([0, 0, 0, 0, 0x63][...]) } throws: { isMalformed($0) }
        #expect { try MilterPacket.decode([0x7f, 0, 0, 0, 0x63][...]) } throws: { isMalformed($0) }
    }

    @Test("Macro lists split on spaces and commas, as Postfix splits them")
    func macroListSplitting() {
        let negotiation = MilterAgreement(macroLists: [.connect: " j  {daemon_addr},{daemon_name}\t_ ", .helo: ""])
        #expect(negotiation.macroNames(at: .connect) == ["j", "{daemon_addr}", "{daemon_name}", "_"])
        #expect(negotiation.macroNames(at: .helo) == [])
        #expect(negotiation.macroNames(at: .mail) == nil)
    }
}

private func isMalformed(_ error: any Error) -> Bool {
    if case .malformedPacket = error as? MTAClientError { true } else { false }
}
