import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import HeloPolicy

struct MainCfTests {
    struct ValueCase: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let parameter: String
        let value: String
        let line: Int
        var testDescription: String { name }
    }

    static let valueCases: [ValueCase] = [
        ValueCase(name: "spaces around =", text: "a = b\n", parameter: "a", value: "b", line: 1),
        ValueCase(name: "no spaces around =", text: "a=b", parameter: "a", value: "b", line: 1),
        ValueCase(name: "value trimmed", text: "a =   b c \t\n", parameter: "a", value: "b c", line: 1),
        ValueCase(name: "empty value", text: "a =\n", parameter: "a", value: "", line: 1),
        ValueCase(name: "continuation keeps its leading white space", text: "a = b,\n  c\n\td\n",
                  parameter: "a", value: "b,  c\td", line: 1),
        ValueCase(name: "comment inside a continuation is skipped", text: "a = b\n# note\n  c\n",
                  parameter: "a", value: "b  c", line: 1),
        ValueCase(name: "indented comment is skipped", text: "  # note\na = b\n", parameter: "a", value: "b", line: 2),
        ValueCase(name: "blank lines are skipped", text: "\n   \n\na = b\n", parameter: "a", value: "b", line: 4),
        ValueCase(name: "hash later in a line is part of the value", text: "a = b # c\n",
                  parameter: "a", value: "b # c", line: 1),
        ValueCase(name: "later assignment wins and keeps its line", text: "a = 1\nb = 2\na = 3\n",
                  parameter: "a", value: "3", line: 3),
        ValueCase(name: "CR LF line ends", text: "a = b\r\nc = d\r\n", parameter: "c", value: "d", line: 2),
        ValueCase(name: "no final newline", text: "x = y", parameter: "x", value: "y", line: 1),
    ]

    @Test(arguments: valueCases)
    func values(_ c: ValueCase) {
        let (mainCf, _) = MainCf.parse(c.text, file: "main.cf")
        #expect(mainCf[c.parameter]?.rawValue == c.value)
        #expect(mainCf[c.parameter]?.location == SourceLocation(file: "main.cf", line: c.line))
    }

    struct ProblemCase: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let expected: String
        var testDescription: String { name }
    }

    static let problemCases: [ProblemCase] = [
        ProblemCase(name: "line without =", text: "a = b\nfoo bar\n",
                    expected: "/etc/heloguard/main.cf:2: error: missing '=' after attribute name: \"foo bar\""),
        ProblemCase(name: "line with only =", text: "\n\n= value\n",
                    expected: "/etc/heloguard/main.cf:3: error: missing attribute name: \"= value\""),
        ProblemCase(name: "bad characters in a name", text: "smtpd-helo = x\n",
                    expected: "/etc/heloguard/main.cf:1: error: bad parameter name \"smtpd-helo\": use only letters, digits and \"_\""),
        ProblemCase(name: "continuation reported at its first line", text: "a = b\nbad\n  more\n",
                    expected: "/etc/heloguard/main.cf:2: error: missing '=' after attribute name: \"bad  more\""),
        ProblemCase(name: "leading white space with nothing to continue", text: "  a = b\n",
                    expected: "/etc/heloguard/main.cf:1: warning: logical line must not start with whitespace: \"  a = b\""),
        ProblemCase(name: "override with another value warns", text: "a = 1\na = 2\n",
                    expected: "/etc/heloguard/main.cf:2: warning: overriding earlier entry: a=1 (from line 1)"),
        ProblemCase(name: "a NUL byte ends the logical line", text: "a = 1\n  2\0 3\n",
                    expected: "/etc/heloguard/main.cf:1: warning: text after null byte may be ignored"),
    ]

    @Test(arguments: problemCases)
    func problems(_ c: ProblemCase) {
        let (_, diagnostics) = MainCf.parse(c.text, file: "/etc/heloguard/main.cf")
        #expect(diagnostics.map(\.description) == [c.expected])
    }

    @Test func badLinesAreSkippedAndTheRestIsKept() {
        let (mainCf, diagnostics) = MainCf.parse("a = 1\nnonsense\nb = 2\n", file: "f")
        #expect(mainCf.entries.count == 2)
        #expect(mainCf["b"]?.rawValue == "2")
        #expect(diagnostics.count == 1)
    }

    @Test func textAfterANulByteIsNotPartOfTheValue() {
        let (mainCf, _) = MainCf.parse("a = 1\n  2\0 3\nb = 4\n", file: "f")
        #expect(mainCf["a"]?.rawValue == "1  2")
        #expect(mainCf["b"]?.location.line == 3)
    }

    @Test func overrideWithTheSameValueIsQuiet() {
        let (mainCf, diagnostics) = MainCf.parse("a = 1\na = 1\n", file: "f")
        #expect(diagnostics.isEmpty)
        #expect(mainCf["a"]?.location.line == 2)
    }

    @Test func loadReadsAFile() throws {
        let path = "/tmp/heloguard-maincf-\(getpid()).cf"
        let stream = fopen(path, "w")!
        fputs("# comment\nsmtpd_helo_required = yes\n", stream)
        fclose(stream)
        defer { unlink(path) }
        let (mainCf, diagnostics) = try MainCf.load(path: path)
        #expect(diagnostics.isEmpty)
        #expect(mainCf["smtpd_helo_required"]?.location == SourceLocation(file: path, line: 2))
    }

    @Test func loadOfAMissingFileNamesPathAndReason() {
        #expect {
            _ = try MainCf.load(path: "/nonexistent/heloguard/main.cf")
        } throws: { error in
            "\(error)" == "error: cannot open /nonexistent/heloguard/main.cf: No such file or directory"
        }
    }
}
