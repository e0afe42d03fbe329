import Testing
@testable import HeloPolicy

struct SMTPReplyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let code: Int
        let dsn: String
        let text: String
        let softBounce: Bool
        let expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "plain reject", code: 554, dsn: "5.7.1", text: "<h>: Helo command rejected: Access denied",
             softBounce: false, expected: "554 5.7.1 <h>: Helo command rejected: Access denied"),
        Case(name: "DSN class follows the code", code: 550, dsn: "4.7.1", text: "x",
             softBounce: false, expected: "550 5.7.1 x"),
        Case(name: "code below 400", code: 250, dsn: "2.0.0", text: "fine",
             softBounce: false, expected: "450 4.7.1 Service unavailable"),
        Case(name: "code above 599", code: 600, dsn: "5.0.0", text: "x",
             softBounce: false, expected: "450 4.7.1 Service unavailable"),
        Case(name: "malformed DSN", code: 550, dsn: "5.7", text: "x",
             softBounce: false, expected: "450 4.7.1 Service unavailable"),
        Case(name: "soft bounce turns 5 into 4", code: 554, dsn: "5.7.1", text: "x",
             softBounce: true, expected: "454 4.7.1 x"),
        Case(name: "control bytes become spaces", code: 550, dsn: "5.7.1", text: "a\u{01}b\tc",
             softBounce: false, expected: "550 5.7.1 a b c"),
    ]

    /// The refusal as the evaluation builds it (Postfix's `smtpd_check_reject()`), the path every
    /// restriction's reply takes.
    static func refusal(code: Int, dsn: String, text: String, softBounce: Bool) -> String? {
        let evaluation = Evaluation(config: PolicyConfig(softBounce: softBounce), resolver: UnavailableResolver(),
                                    facts: SessionFacts(), heloName: nil, recipient: nil)
        guard case .reject(let reply) = evaluation.refuse(.policy, code: code, dsn: dsn, text: text) else { return nil }
        return reply.line
    }

    @Test(arguments: cases)
    func restrictionReply(_ c: Case) {
        #expect(Self.refusal(code: c.code, dsn: c.dsn, text: c.text, softBounce: c.softBounce) == c.expected)
    }

    /// Postfix 3.7.11 sends long replies whole (its 510-byte cut never takes effect).
    @Test func longRepliesAreNotCut() {
        let line = Self.refusal(code: 550, dsn: "5.7.1", text: String(repeating: "x", count: 2000), softBounce: false)
        #expect(line == "550 5.7.1 " + String(repeating: "x", count: 2000))
    }

    @Test func partsOfAReply() {
        let reply = SMTPReply(verbatim: "451 4.3.5 Server configuration error")
        #expect(reply.code == 451)
        #expect(reply.enhancedStatus == "4.3.5")
        #expect(reply.text == "Server configuration error")
        #expect(SMTPReply(verbatim: "503 Error: send HELO/EHLO first").enhancedStatus == nil)
    }
}
