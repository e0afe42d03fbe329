import Testing
@testable import HeloPolicy
import PostfixSyntax

struct HeloNameTests {
    // MARK: - Tokenising and collapsing (spec §1.2 steps 1–2)

    struct ArgumentCase: Sendable, CustomTestStringConvertible {
        let label: String
        let raw: String
        let argument: String?
        var testDescription: String { label }
    }

    static let argumentCases: [ArgumentCase] = [
        ArgumentCase(label: "single name", raw: "mail.example.com", argument: "mail.example.com"),
        ArgumentCase(label: "leading and trailing blanks", raw: "  mail.example.com  ", argument: "mail.example.com"),
        ArgumentCase(label: "blank runs collapse", raw: "foo    bar", argument: "foo bar"),
        ArgumentCase(label: "three tokens", raw: " a  b   c ", argument: "a b c"),
        ArgumentCase(label: "TAB separates", raw: "tab\tsep.example", argument: "tab sep.example"),
        ArgumentCase(label: "CR, LF, VT, FF separate", raw: "a\rb\nc\u{0B}d\u{0C}e", argument: "a b c d e"),
        ArgumentCase(label: "empty", raw: "", argument: nil),
        ArgumentCase(label: "blanks only", raw: " \t  ", argument: nil),
        ArgumentCase(label: "quoted group keeps quotes and blanks", raw: "\"quoted  name\"", argument: "\"quoted  name\""),
        ArgumentCase(label: "quoted name", raw: "\"quoted.example.com\"", argument: "\"quoted.example.com\""),
        ArgumentCase(label: "angle group keeps brackets", raw: "<foo.example.com>", argument: "<foo.example.com>"),
        ArgumentCase(label: "angle group keeps blanks", raw: "<a  b>  c", argument: "<a  b> c"),
        ArgumentCase(label: "quote inside angle group protects >", raw: "<a \">\" b> c", argument: "<a \">\" b> c"),
        ArgumentCase(label: "nested angle group", raw: "<a <b c> d> e", argument: "<a <b c> d> e"),
        ArgumentCase(label: "< inside quotes is plain", raw: "\"a < b\" c", argument: "\"a < b\" c"),
        ArgumentCase(label: "group glued to text is one token", raw: "x<a b>y z", argument: "x<a b>y z"),
        ArgumentCase(label: "unclosed quote runs to the end", raw: "\"a   b", argument: "\"a   b"),
        ArgumentCase(label: "unclosed angle runs to the end", raw: "<a   b", argument: "<a   b"),
        ArgumentCase(label: "backslash protects a blank", raw: "a\\ b  c", argument: "a\\ b c"),
        ArgumentCase(label: "backslash protects a quote", raw: "a\\\"b c\"", argument: "a\\\"b c\""),
        ArgumentCase(label: "backslash inside quotes", raw: "\"a\\\" b\" c", argument: "\"a\\\" b\" c"),
        ArgumentCase(label: "trailing backslash kept", raw: "foo\\", argument: "foo\\"),
        ArgumentCase(label: "backslash in a name", raw: "back\\slash.example", argument: "back\\slash.example"),
        ArgumentCase(label: "to: ends a token", raw: "to:x", argument: "to: x"),
        ArgumentCase(label: "FROM: ends a token", raw: "FROM:<a@b>", argument: "FROM: <a@b>"),
        ArgumentCase(label: "other colons do not split", raw: "IPv6:::1", argument: "IPv6:::1"),
        ArgumentCase(label: "port suffix stays", raw: "foo.example.com:25", argument: "foo.example.com:25"),
        ArgumentCase(label: "NUL ends the line", raw: "foo\u{0}bar baz", argument: "foo"),
        ArgumentCase(label: "NUL first", raw: "\u{0}foo", argument: nil),
        ArgumentCase(label: "UTF-8 kept", raw: "bücher.example", argument: "bücher.example"),
        ArgumentCase(label: "address literal", raw: "[IPv6:::1]", argument: "[IPv6:::1]"),
    ]

    @Test(arguments: argumentCases)
    func commandArgument(_ c: ArgumentCase) {
        #expect(HeloName.commandArgument(c.raw) == c.argument)
    }

    @Test func commandArgumentKeepsRawBytes() {
        // Bytes are passed on unchanged, malformed UTF-8 included (the UTF-8 test is separate).
        #expect(HeloName.commandArgument(bytes: [0x66, 0xFC, 0x20, 0x20, 0x62]) == [0x66, 0xFC, 0x20, 0x62])
        #expect(HeloName.commandArgument(bytes: [0x09, 0x20]) == nil)
    }

    // MARK: - Stored name (spec §1.2 step 7, §8.1 additional verified rows)

    struct StoredCase: Sendable, CustomTestStringConvertible {
        let label: String
        let argument: String
        let stored: String
        var testDescription: String { label }
    }

    static let storedCases: [StoredCase] = [
        StoredCase(label: "plain name unchanged", argument: "mail.example.com", stored: "mail.example.com"),
        StoredCase(label: "space", argument: "foo bar", stored: "foo?bar"),
        StoredCase(label: "angle brackets", argument: "<foo.example.com>", stored: "?foo.example.com?"),
        StoredCase(label: "double quotes", argument: "\"quoted.example.com\"", stored: "?quoted.example.com?"),
        StoredCase(label: "at sign", argument: "foo@example.com", stored: "foo?example.com"),
        StoredCase(label: "parentheses", argument: "a(b)c.example", stored: "a?b?c.example"),
        StoredCase(label: "semicolon", argument: "x;y.example", stored: "x?y.example"),
        StoredCase(label: "backslash", argument: "back\\slash.example", stored: "back?slash.example"),
        StoredCase(label: "percent kept", argument: "foo%bar.example", stored: "foo%bar.example"),
        StoredCase(label: "UTF-8 kept", argument: "bücher.example", stored: "bücher.example"),
        StoredCase(label: "other punctuation kept", argument: "a:b/c*d[e]f,g'h", stored: "a:b/c*d[e]f,g'h"),
        StoredCase(label: "TAB", argument: "a\tb", stored: "a?b"),
        StoredCase(label: "CR and LF", argument: "a\rb\nc", stored: "a?b?c"),
        StoredCase(label: "NUL", argument: "a\u{0}b", stored: "a?b"),
        StoredCase(label: "control byte and DEL", argument: "a\u{1}b\u{7F}c", stored: "a?b?c"),
        StoredCase(label: "C1 control and snowman kept as UTF-8", argument: "\u{85}☃.example", stored: "\u{85}☃.example"),
        StoredCase(label: "empty", argument: "", stored: ""),
    ]

    @Test(arguments: storedCases)
    func stored(_ c: StoredCase) {
        #expect(HeloName.stored(c.argument) == c.stored)
    }

    /// The delay-on path of §8.1: tokenise and collapse, then sanitise (`tab<TAB>sep.example`
    /// becomes `tab?sep.example`).
    @Test(arguments: [
        StoredCase(label: "TAB-separated tokens", argument: "tab\tsep.example", stored: "tab?sep.example"),
        StoredCase(label: "blank runs", argument: "foo    bar", stored: "foo?bar"),
        StoredCase(label: "angle group with blank", argument: "<a b>", stored: "?a?b?"),
    ])
    func storedAfterCollapsing(_ c: StoredCase) {
        let argument = HeloName.commandArgument(c.argument)
        #expect(argument.map(HeloName.stored) == c.stored)
    }

    struct ByteCase: Sendable, CustomTestStringConvertible {
        let label: String
        let bytes: [UInt8]
        let stored: String
        var testDescription: String { label }
    }

    @Test(arguments: [
        ByteCase(label: "Latin-1 byte", bytes: [0x62, 0xFC, 0x63], stored: "b?c"),
        ByteCase(label: "truncated UTF-8", bytes: [0x61, 0xC3], stored: "a?"),
        ByteCase(label: "overlong encoding", bytes: [0xC0, 0xAF, 0x61], stored: "??a"),
        ByteCase(label: "UTF-16 surrogate", bytes: [0xED, 0xA0, 0x80], stored: "???"),
        ByteCase(label: "valid UTF-8 kept", bytes: Array("bücher.example".utf8), stored: "bücher.example"),
        ByteCase(label: "NUL, CR, LF", bytes: [0x61, 0x00, 0x0D, 0x0A, 0x62], stored: "a???b"),
    ])
    func storedFromBytes(_ c: ByteCase) {
        #expect(HeloName.stored(bytes: c.bytes) == c.stored)
    }

    @Test func storedHandles4KBNames() {
        let long = String(repeating: "a(b) c\t", count: 600)          // 4200 bytes
        let stored = HeloName.stored(long)
        #expect(stored.utf8.count == long.utf8.count)
        #expect(stored == String(repeating: "a?b??c?", count: 600))
        let junk = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let storedJunk = HeloName.stored(bytes: junk)
        #expect(!storedJunk.utf8.contains { $0 < 0x20 || $0 == 0x7F })
        #expect(!storedJunk.utf8.contains { HeloName.neuteredBytes.contains($0) })
        #expect(HeloName.commandArgument(String(repeating: "x", count: 4096))?.utf8.count == 4096)
    }

    // MARK: - UTF-8 validity (RFC 3629), as table keys are checked before case folding

    struct UTF8Case: Sendable, CustomTestStringConvertible {
        let label: String
        let bytes: [UInt8]
        let acceptable: Bool
        var testDescription: String { label }
    }

    @Test(arguments: [
        UTF8Case(label: "ASCII", bytes: Array("mail.example.com".utf8), acceptable: true),
        UTF8Case(label: "UTF-8 name", bytes: Array("bücher.example".utf8), acceptable: true),
        UTF8Case(label: "Latin-1 ü", bytes: [0x62, 0xFC, 0x63, 0x68, 0x65, 0x72], acceptable: false),
        UTF8Case(label: "truncated sequence", bytes: [0x61, 0xE2, 0x98], acceptable: false),
        UTF8Case(label: "overlong slash", bytes: [0xC0, 0xAF], acceptable: false),
        UTF8Case(label: "surrogate", bytes: [0xED, 0xB0, 0x80], acceptable: false),
        UTF8Case(label: "above U+10FFFF", bytes: [0xF4, 0x90, 0x80, 0x80], acceptable: false),
        UTF8Case(label: "control bytes are fine", bytes: [0x61, 0x01, 0x7F], acceptable: true),
        UTF8Case(label: "empty", bytes: [], acceptable: true),
    ])
    func validUTF8(_ c: UTF8Case) {
        #expect(Printable.isValidUTF8(c.bytes) == c.acceptable)
    }
}
