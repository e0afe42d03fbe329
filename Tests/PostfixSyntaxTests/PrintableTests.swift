import Testing
import PostfixSyntax

struct PrintableTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let flavour: Printable.Flavour
        let input: [UInt8]
        let expected: String
        var testDescription: String { name }

        init(_ name: String, _ flavour: Printable.Flavour, _ input: String, _ expected: String) {
            self.init(name, flavour, Array(input.utf8), expected)
        }

        init(_ name: String, _ flavour: Printable.Flavour, _ input: [UInt8], _ expected: String) {
            self.name = name
            self.flavour = flavour
            self.input = input
            self.expected = expected
        }
    }

    static let question = Printable.Flavour.postfix(replacement: UInt8(ascii: "?"))

    static let cases: [Case] = [
        // SMTP reply: 7-bit printable.
        Case("reply: printable ASCII is kept", .smtpReply, "550 5.7.1 <a b>: ~x%", "550 5.7.1 <a b>: ~x%"),
        Case("reply: CR, LF and TAB become spaces", .smtpReply, "a\r\nb\tc", "a  b c"),
        Case("reply: NUL and DEL become spaces", .smtpReply, "a\0b\u{7F}c", "a b c"),
        Case("reply: each character outside ASCII is one ?", .smtpReply, "é☃😀", "???"),
        Case("reply: a combining mark is a character of its own", .smtpReply, "e\u{301}", "e?"),
        Case("reply: a C1 control is outside ASCII", .smtpReply, "a\u{85}b", "a?b"),
        Case("reply: each malformed byte is one ?", .smtpReply, [0x61, 0xFF, 0xC3, 0x62], "a??b"),
        // Log line: controls become ?, 8-bit text stays.
        Case("log: controls become ?", .logLine, "a\nb\rc\u{1B}[31m\u{7F}", "a?b?c?[31m?"),
        Case("log: UTF-8 is kept", .logLine, "héllo ☃ \u{85}", "héllo ☃ \u{85}"),
        // Terminal line: controls become spaces, 8-bit text stays.
        Case("terminal: controls become spaces", .terminalLine, "a\r\nb\u{7F}c\td", "a  b c d"),
        Case("terminal: UTF-8 is kept", .terminalLine, "réason ☃", "réason ☃"),
        // Terminal, escaped: what a name really holds.
        Case("escaped: controls as \\xNN", .terminalEscaped, "a\nb\u{1B}\0", "a\\x0ab\\x1b\\x00"),
        Case("escaped: DEL as \\x7f", .terminalEscaped, "\u{7F}", "\\x7f"),
        Case("escaped: C1 controls and separators as \\u{NNNN}", .terminalEscaped,
             "\u{80}\u{85}\u{9F}\u{2028}\u{2029}", "\\u{0080}\\u{0085}\\u{009f}\\u{2028}\\u{2029}"),
        Case("escaped: other characters are kept", .terminalEscaped, "é☃\u{A0}😀\u{202E}", "é☃\u{A0}😀\u{202E}"),
        // Postfix's printable().
        Case("printable: controls are replaced", question, [0x61, 0x00, 0x0A, 0x7F, 0x1F], "a????"),
        Case("printable: well-formed UTF-8 is kept", question, "é☃😀\u{85}", "é☃😀\u{85}"),
        Case("printable: the replacement is the caller's", .postfix(replacement: UInt8(ascii: " ")), "a\r\nb", "a  b"),
        Case("printable: a cut-short character is one replacement per byte", question, [0x61, 0xE2, 0x82, 0x62], "a??b"),
        Case("printable: an overlong form is malformed", question, [0xC0, 0xAF, 0xE0, 0x80, 0xAF], "?????"),
        Case("printable: a surrogate is malformed", question, [0xED, 0xA0, 0x80], "???"),
        Case("printable: nothing above U+10FFFF", question, [0xF4, 0x90, 0x80, 0x80], "????"),
        Case("printable: a character cut at the end", question, [0xF0, 0x9F, 0x98], "???"),
        Case("printable: a lone continuation byte", question, [0x80, 0x61], "?a"),
    ]

    @Test(arguments: cases)
    func bytes(_ c: Case) {
        #expect(Printable.sanitized(c.input, for: c.flavour) == Array(c.expected.utf8))
    }

    /// The String form gives what the byte form gives for the same (well-formed) text.
    @Test(arguments: cases)
    func text(_ c: Case) {
        let text = String(decoding: c.input, as: UTF8.self)
        let viaBytes = String(decoding: Printable.sanitized(Array(text.utf8), for: c.flavour), as: UTF8.self)
        #expect(Printable.sanitized(text, for: c.flavour) == viaBytes)
        if Printable.isValidUTF8(c.input) {
            #expect(Printable.sanitized(text, for: c.flavour) == c.expected)
        }
    }

    @Test(arguments: [
        ("ASCII", Array("abc".utf8), true),
        ("empty", [], true),
        ("two, three and four bytes", Array("é☃😀".utf8), true),
        ("the last scalar", [0xF4, 0x8F, 0xBF, 0xBF], true),
        ("NUL is ASCII", [0x00], true),
        ("a lone continuation byte", [0x80], false),
        ("an overlong slash", [0xC0, 0xAF], false),
        ("a surrogate", [0xED, 0xA0, 0x80], false),
        ("above U+10FFFF", [0xF4, 0x90, 0x80, 0x80], false),
        ("cut short", [0xE2, 0x82], false),
        ("0xFF", [0xFF], false),
    ] as [(String, [UInt8], Bool)])
    func validUTF8(_ name: String, _ bytes: [UInt8], _ expected: Bool) {
        #expect(Printable.isValidUTF8(bytes) == expected, "\(name)")
    }

    @Test(arguments: [Printable.Flavour.smtpReply, .logLine, .terminalLine, .terminalEscaped, question])
    func everyFlavourLeavesNoControlByte(_ flavour: Printable.Flavour) {
        let all = (0...255).map(UInt8.init)
        let out = Printable.sanitized(all, for: flavour)
        #expect(!out.contains { $0 < 0x20 || $0 == 0x7F })
        if flavour == .smtpReply {
            #expect(out.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        }
    }
}
