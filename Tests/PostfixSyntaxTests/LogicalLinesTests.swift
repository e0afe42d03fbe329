import Testing
import PostfixSyntax

struct LogicalLinesTests {
    /// What the reader reports, in the order it reports it.
    enum Event: Equatable, CustomStringConvertible {
        case line(String, Int)
        case warning(String, Int)

        var description: String {
            switch self {
            case .line(let text, let number): return "line \(number): \(text.debugDescription)"
            case .warning(let message, let number): return "warning \(number): \(message)"
            }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let input: [UInt8]
        let expected: [Event]
        var testDescription: String { name }

        init(_ name: String, _ input: String, _ expected: [Event]) {
            self.init(name, Array(input.utf8), expected)
        }

        init(_ name: String, _ input: [UInt8], _ expected: [Event]) {
            self.name = name
            self.input = input
            self.expected = expected
        }
    }

    static let long = " " + String(repeating: "x", count: 40)

    static let cases: [Case] = [
        Case("empty input", "", []),
        Case("a lone newline", "\n", []),
        Case("lines keep their numbers", "a\nb\n", [.line("a", 1), .line("b", 2)]),
        Case("no final newline", "a\nb", [.line("a", 1), .line("b", 2)]),
        Case("continuation keeps its leading white space", "a = b\n  c\n\td\n", [.line("a = b  c\td", 1)]),
        Case("vertical tab and form feed continue a line too", "a\n\u{0B}b\n\u{0C}c\n", [.line("a\u{0B}b\u{0C}c", 1)]),
        Case("comments and blank lines are skipped, also inside a continuation",
             "a\n# note\n\n   \n b\nc\n", [.line("a b", 1), .line("c", 6)]),
        Case("an indented comment is a comment", "  # note\na\n", [.line("a", 2)]),
        Case("a hash later in a line is text", "a = b # c\n", [.line("a = b # c", 1)]),
        Case("CR stays in the line", "a\r\nb\r\n", [.line("a\r", 1), .line("b\r", 2)]),
        Case("a line of CR only is blank", "a\n\r\nb\n", [.line("a", 1), .line("b", 3)]),
        Case("a continuation with nothing before it is dropped with a warning", "  a = b\nc\n",
             [.warning("logical line must not start with whitespace: \"  a = b\"", 1), .line("c", 2)]),
        Case("the dropped line is shown cut to 30 bytes", long + "\n",
             [.warning("logical line must not start with whitespace: \"\(long.prefix(30))...\"", 1)]),
        Case("the cut counts bytes, not characters", " " + String(repeating: "é", count: 20) + "\n",
             [.warning("logical line must not start with whitespace: \" \(String(repeating: "é", count: 14))\u{FFFD}...\"", 1)]),
        Case("a NUL byte ends the line", Array("a\0b\nc\n".utf8),
             [.warning("text after null byte may be ignored", 1), .line("a", 1), .line("c", 2)]),
        Case("a NUL byte in a continuation cuts the logical line", Array("a\n b\0c\n d\ne\n".utf8),
             [.warning("text after null byte may be ignored", 1), .line("a b", 1), .line("e", 4)]),
        Case("a NUL byte first leaves an empty line", Array("\0x\n".utf8),
             [.warning("text after null byte may be ignored", 1), .line("", 1)]),
        Case("a NUL cut comes before the white-space test", Array(" \0x\n".utf8),
             [.warning("text after null byte may be ignored", 1),
              .warning("logical line must not start with whitespace: \" \"", 1)]),
        Case("malformed UTF-8 is repaired in the text", [0x61, 0xFF, 0x0A, 0x62, 0xE2, 0x82],
             [.line("a\u{FFFD}", 1), .line("b\u{FFFD}", 2)]),
        Case("warnings come in file order among the lines", "  x\ny\0q\n z\nw\n",
             [.warning("logical line must not start with whitespace: \"  x\"", 1),
              .warning("text after null byte may be ignored", 2), .line("y", 2), .line("w", 4)]),
    ]

    @Test(arguments: cases)
    func forEachReportsLinesAndWarningsInOrder(_ c: Case) {
        var events: [Event] = []
        LogicalLines.forEach(in: c.input, warn: { events.append(.warning($0.message, $0.line)) }) { line, number in
            events.append(.line(String(decoding: line, as: UTF8.self), number))
        }
        #expect(events == c.expected)
    }

    @Test(arguments: cases)
    func allGivesTheSameLines(_ c: Case) {
        var warnings: [Event] = []
        let lines = LogicalLines.all(in: c.input) { warnings.append(.warning($0.message, $0.line)) }
        #expect(lines.map { Event.line($0.text, $0.line) } == c.expected.filter { if case .line = $0 { true } else { false } })
        #expect(warnings == c.expected.filter { if case .warning = $0 { true } else { false } })
    }
}
