import Foundation
import MilterKit
import Testing

@Suite("MilterReply: what libmilter and the MTA accept")
struct MilterReplyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let line: String
        let code: String
        let enhanced: String?
        let text: String
        var testDescription: String { line }
    }

    @Test("a one-line reply splits into code, enhanced code and text", arguments: [
        Case(line: "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname", code: "504", enhanced: "5.5.2",
             text: "<foo>: Helo command rejected: need fully-qualified hostname"),
        Case(line: "450 4.7.1 <x>: Helo command rejected: Host not found", code: "450", enhanced: "4.7.1",
             text: "<x>: Helo command rejected: Host not found"),
        Case(line: "550 no enhanced code", code: "550", enhanced: nil, text: "no enhanced code"),
        Case(line: "554 5.7.1", code: "554", enhanced: "5.7.1", text: ""),
    ])
    func splits(_ c: Case) throws {
        let reply = try MilterReply(line: c.line)
        #expect(reply.code == c.code)
        #expect(reply.enhancedCode == c.enhanced)
        #expect(reply.lines == [c.text])
        #expect(reply.isPermanent == c.code.hasPrefix("5"))
    }

    @Test("replies the MTA would refuse are refused here", arguments: [
        ("250 2.0.0 ok", MilterReply.Problem.badCode("250")),
        ("5x0 bad", .badCode("5x0")),
        ("5500 bad", .badCode("5500")),
        ("550 4.7.1 mismatched", .classMismatch(code: "550", enhancedCode: "4.7.1")),
        ("451 5.7.1 mismatched", .classMismatch(code: "451", enhancedCode: "5.7.1")),
    ])
    func refuses(_ line: String, _ problem: MilterReply.Problem) {
        #expect(throws: problem) { try MilterReply(line: line) }
    }

    @Test("percent signs are doubled on the wire, CR and LF never reach it")
    func wireText() throws {
        let reply = try MilterReply(code: "550", enhancedCode: "5.7.1", lines: ["100% sure\r\nno"])
        #expect(reply.wireLines == ["100%% sure  no"])
        #expect(reply.smtpLines == ["550 5.7.1 100% sure  no"])
    }

    @Test("a text longer than libmilter's 980-byte limit is split into lines, never inside %% or a character", arguments: [
        (String(repeating: "a", count: 2000), [980, 980, 40]),
        (String(repeating: "%", count: 600), [980, 220]),
        ("x" + String(repeating: "ü", count: 600) + String(repeating: "%", count: 200), [979, 22]),
        (String(repeating: "b", count: 980), [980]),
    ])
    func longText(_ text: String, _ sizes: [Int]) throws {
        let reply = try MilterReply(code: "504", enhancedCode: "5.5.2", lines: [text])
        let wire = reply.wireLines
        #expect(wire.map(\.utf8.count) == sizes)
        #expect(wire.joined() == text.replacingOccurrences(of: "ü", with: "?").replacingOccurrences(of: "%", with: "%%"))
        #expect(wire.allSatisfy { !$0.hasSuffix("%") || $0.hasSuffix("%%") })
    }

    @Test("multi-line replies continue with a dash")
    func multiLine() throws {
        let reply = try MilterReply(code: "550", enhancedCode: "5.7.1", lines: ["first line", "second line"])
        #expect(reply.smtpLines == ["550-5.7.1 first line", "550 5.7.1 second line"])
    }

    @Test("a refusal travels with the status its class requires")
    func refuseStatus() throws {
        #expect(MilterResponse.refuse(try MilterReply(line: "554 5.7.1 no")) == .reject(try MilterReply(line: "554 5.7.1 no")))
        #expect(MilterResponse.refuse(try MilterReply(line: "450 4.7.1 later")) == .tempfail(try MilterReply(line: "450 4.7.1 later")))
    }
}

@Suite("MilterSocket: libmilter's socket specifications")
struct MilterSocketTests {
    @Test("accepted spellings", arguments: [
        ("unix:/run/heloguard/heloguard.sock", "/run/heloguard/heloguard.sock", false),
        ("local:/tmp/x.sock", "/tmp/x.sock", false),
        ("inet:8899@127.0.0.1", nil, true),
        ("inet:8899", nil, true),
        ("inet6:8899@::1", nil, true),
    ] as [(String, String?, Bool)])
    func accepted(_ text: String, _ path: String?, _ network: Bool) throws {
        let socket = try MilterSocket(parsing: text)
        #expect(socket.path == path)
        #expect(socket.isNetwork == network)
        #expect(socket.description == text)
    }

    @Test("refused spellings say why", arguments: [
        ("/run/heloguard.sock", "expected unix:/path"),
        ("tcp:8899@127.0.0.1", "expected unix:/path"),
        ("unix:relative.sock", "must be absolute"),
        ("inet:127.0.0.1:8899", "inet:port@host, not Postfix's inet:host:port"),
        ("inet:0@127.0.0.1", "from 1 to 65535"),
        ("inet:8899@", "empty host"),
        ("unix:/" + String(repeating: "a", count: 120), "shorter than 108 bytes"),
    ])
    func refused(_ text: String, _ reason: String) {
        do {
            _ = try MilterSocket(parsing: text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }
}
