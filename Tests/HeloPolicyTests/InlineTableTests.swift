import Testing
@testable import HeloPolicy

struct InlineTableTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        /// The text after `inline:`.
        let body: String
        let lookups: [(String, TableLookup)]
        var testDescription: String { name }
    }

    static let goodCases: [Case] = [
        Case(name: "plain items separated by commas and spaces",
             body: "{ a.example=OK, B.Example=REJECT ,c.example=DUNNO\td.example=1 }",
             lookups: [("a.example", .found(value: "OK", line: nil)),
                       ("b.example", .found(value: "REJECT", line: nil)),
                       ("B.EXAMPLE", .found(value: "REJECT", line: nil)),
                       ("c.example", .found(value: "DUNNO", line: nil)),
                       ("d.example", .found(value: "1", line: nil)),
                       ("e.example", .notFound)]),
        Case(name: "braced item keeps spaces and commas in the value",
             body: "{ { spaced.example = REJECT spaced inline text }, {x.example=REJECT a, b} }",
             lookups: [("spaced.example", .found(value: "REJECT spaced inline text", line: nil)),
                       ("SPACED.example", .found(value: "REJECT spaced inline text", line: nil)),
                       ("x.example", .found(value: "REJECT a, b", line: nil))]),
        Case(name: "underscore value is one word (an unknown restriction later, not a parse error)",
             body: "{inline.example=REJECT_from_inline}",
             lookups: [("inline.example", .found(value: "REJECT_from_inline", line: nil))]),
        Case(name: "later duplicate replaces the earlier one",
             body: "{ dup.example=first, DUP.example=second }",
             lookups: [("dup.example", .found(value: "second", line: nil))]),
        Case(name: "whitespace around = is allowed in plain items too when it stays in one token",
             body: "{ k.example=v=w }",
             lookups: [("k.example", .found(value: "v=w", line: nil))]),
        Case(name: "empty value is stored as empty",
             body: "{ empty.example= }",
             lookups: [("empty.example", .found(value: "", line: nil))]),
    ]

    @Test(arguments: goodCases)
    func parses(_ c: Case) throws {
        var diagnostics: [ConfigDiagnostic] = []
        let table = InlineTable.load(spec: "inline:\(c.body)", name: c.body, location: nil, diagnostics: &diagnostics)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(table is InlineTable)
        #expect(table.matchesFixedStrings)
        for (key, expected) in c.lookups {
            #expect(table.lookup(key) == expected, "key \(key)")
        }
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        let body: String
        let reason: String
        var testDescription: String { "inline:\(body)" }
    }

    static let badCases: [BadCase] = [
        BadCase(body: "{ spaced.example=REJECT spaced text }", reason: "missing '=' after attribute name"),
        BadCase(body: "{ key = value }", reason: "missing '=' after attribute name"),
        BadCase(body: "{}", reason: "bad syntax"),
        BadCase(body: "{ }", reason: "empty table"),
        BadCase(body: "{ , , }", reason: "empty table"),
        BadCase(body: "a=b", reason: "bad syntax"),
        BadCase(body: "{ a=b }x", reason: "bad syntax"),
        BadCase(body: "{ a=b", reason: "bad syntax"),
        BadCase(body: "{ {a=b}c }", reason: "syntax error after '}' in \"{a=b}c\""),
        BadCase(body: "{ \"a b\"=c }", reason: "unbalanced '\"'"),
        BadCase(body: "{ {   } }", reason: "no key found"),
    ]

    @Test(arguments: badCases)
    func brokenInlineTableFailsEveryLookup(_ c: BadCase) {
        var diagnostics: [ConfigDiagnostic] = []
        let location = SourceLocation(file: "/etc/heloguard.conf", line: 7)
        let table = InlineTable.load(spec: "inline:\(c.body)", name: c.body, location: location,
                                     diagnostics: &diagnostics)
        #expect(table is SurrogateTable)
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.severity == .error)
        #expect(diagnostics.first?.location == location)
        #expect(diagnostics.first?.message.contains(c.reason) == true, "\(diagnostics)")
        guard case .failed(let reason) = table.lookup("a") else {
            Issue.record("lookup did not fail")
            return
        }
        #expect(reason.hasPrefix("inline:\(c.body) is unavailable. "))
    }
}

struct StaticTableTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let value: String?
        var testDescription: String { "static:\(name)" }
    }

    static let cases: [Case] = [
        Case(name: "REJECT", value: "REJECT"),
        Case(name: "{ REJECT with spaces, commas }", value: "REJECT with spaces, commas"),
        Case(name: "{REJECT}", value: "REJECT"),
        Case(name: "{ REJECT x", value: nil),
        Case(name: "{ REJECT } x", value: nil),
    ]

    @Test(arguments: cases)
    func everyKeyGivesTheValue(_ c: Case) {
        var diagnostics: [ConfigDiagnostic] = []
        let table = StaticTable.load(spec: "static:\(c.name)", name: c.name, location: nil, diagnostics: &diagnostics)
        if let value = c.value {
            #expect(diagnostics.isEmpty)
            #expect(table.matchesFixedStrings)
            #expect(table.lookup("anything.example") == .found(value: value, line: nil))
            #expect(table.lookup("") == .found(value: value, line: nil))
        } else {
            #expect(table is SurrogateTable)
            #expect(diagnostics.map(\.severity) == [.error])
            #expect(diagnostics.first?.message.hasPrefix("bad static:name syntax: ") == true)
            #expect(table.lookup("x") != .notFound)
        }
    }
}
