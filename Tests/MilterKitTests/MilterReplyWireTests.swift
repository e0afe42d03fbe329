import MilterKit
import Testing

/// Two problems FuzzMilterReply found (Fuzz/crashes/FuzzMilterReply/): text that Postfix reads
/// as a mismatched enhanced code, and a reply too long for the lines libmilter is given.
@Suite("MilterReply: what Postfix reads after the code, and libmilter's line count")
struct MilterReplyWireTests {
    @Test("text that starts with a digit gets the class's default enhanced code, so Postfix never reads it as a mismatched one", arguments: [
        ("550 4 items refused", "550 5.0.0 4 items refused"),
        ("450 5.7.1\tclass five after a tab", "450 4.0.0 5.7.1 class five after a tab"),
        ("550 5 is fine too", "550 5.0.0 5 is fine too"),
        ("550 no digit", "550 no digit"),
        ("554 5.7.1 42 with its own code", "554 5.7.1 42 with its own code"),
    ])
    func leadingDigit(_ line: String, _ expected: String) throws {
        let reply = try MilterReply(line: line)
        #expect(reply.smtpLines == [expected])
        // parse -> print -> parse gives the same reply.
        #expect(try MilterReply(line: reply.smtpLines[0]) == reply)
    }

    @Test("a reply never needs more lines than libmilter is given: text beyond eight lines is left out", arguments: [
        ([String(repeating: "a", count: 10_000)], [980, 980, 980, 980, 980, 980, 980, 980]),
        (Array(repeating: "line", count: 12), Array(repeating: 4, count: 8)),
        ([String(repeating: "b", count: 7_000), "tail"], [980, 980, 980, 980, 980, 980, 980, 140]),
    ])
    func lineCount(_ lines: [String], _ sizes: [Int]) throws {
        let reply = try MilterReply(code: "554", enhancedCode: "5.7.1", lines: lines)
        #expect(reply.wireLines.map(\.utf8.count) == sizes)
        #expect(reply.wireLines.count <= MilterReply.wireLineCountLimit)
    }
}
