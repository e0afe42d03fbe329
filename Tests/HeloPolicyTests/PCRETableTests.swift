import Testing
@testable import HeloPolicy

struct PCRETableTests {
    /// One table, one lookup key, one expected answer.
    struct LookupCase: Sendable, CustomTestStringConvertible {
        let name: String
        let table: String
        let key: String
        let expected: TableLookup
        var testDescription: String { name }
    }

    static let spec = "pcre:/etc/postfix/helo.pcre"

    static func load(_ text: String) throws -> (PCRETable, [ConfigDiagnostic]) {
        var diagnostics: [ConfigDiagnostic] = []
        let table = try PCRETable.load(spec: spec, path: "/etc/postfix/helo.pcre",
                                       text: text, diagnostics: &diagnostics)
        return (table, diagnostics)
    }

    static let lookupCases: [LookupCase] = [
        LookupCase(name: "flag i: exact case matches (verified vector)",
                   table: "/^CaSe\\.pcre$/i REJECT case\n",
                   key: "CaSe.pcre", expected: .found(value: "REJECT case", line: 1)),
        LookupCase(name: "flag i: other case misses (verified vector)",
                   table: "/^CaSe\\.pcre$/i REJECT case\n",
                   key: "case.pcre", expected: .notFound),
        LookupCase(name: "default is case-insensitive",
                   table: "/^case\\.pcre$/ OK\n",
                   key: "CASE.PCRE", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "$1 from the original-case subject",
                   table: "/^(.+)\\.dyn\\.example\\.com$/ REJECT dynamic host $1\n",
                   key: "HOST.DYN.EXAMPLE.COM",
                   expected: .found(value: "REJECT dynamic host HOST", line: 1)),
        LookupCase(name: "${1} and $(2)",
                   table: "/^(\\w+)\\.(\\w+)$/ REJECT ${1}x$(2)\n",
                   key: "a.b", expected: .found(value: "REJECT axb", line: 1)),
        LookupCase(name: "no UTF mode: dot is one byte",
                   table: "/^m..ller$/ OK\n",
                   key: "müller", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "no UTF mode: one dot misses a two-byte character",
                   table: "/^m.ller$/ OK\n",
                   key: "müller", expected: .notFound),
        LookupCase(name: "DOTALL by default: dot matches a newline",
                   table: "/^a.b$/ OK\n",
                   key: "a\nb", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "flag s turns DOTALL off",
                   table: "/^a.b$/s OK\n",
                   key: "a\nb", expected: .notFound),
        LookupCase(name: "flag m: MULTILINE",
                   table: "/^b$/m OK\n",
                   key: "a\nb", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "flag x: EXTENDED ignores pattern whitespace",
                   table: "/^a b$/x OK\n",
                   key: "ab", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "flag A: ANCHORED",
                   table: "/b/A OK\n",
                   key: "ab", expected: .notFound),
        LookupCase(name: "flag E: DOLLAR_ENDONLY refuses a final newline",
                   table: "/^a$/E OK\n",
                   key: "a\n", expected: .notFound),
        LookupCase(name: "without E, $ matches before a final newline",
                   table: "/^a$/ OK\n",
                   key: "a\n", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "flag U: UNGREEDY",
                   table: "/^(a+)/U REJECT $1\n",
                   key: "aaa", expected: .found(value: "REJECT a", line: 1)),
        LookupCase(name: "flag X is ignored, rule kept",
                   table: "/^x$/X OK\n",
                   key: "x", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "negated rule",
                   table: "!/\\./ REJECT no dot\n",
                   key: "localhost", expected: .found(value: "REJECT no dot", line: 1)),
        LookupCase(name: "no legacy /p1/!/p2/ in pcre: rule skipped",
                   table: "/\\.example$/!/^mail\\./ REJECT\n",
                   key: "www.example", expected: .notFound),
        LookupCase(name: "nested negated if blocks",
                   table: "if /example/\nif !/^mail\\./\n/./ REJECT not mail\nendif\n/./ OK mail\nendif\n",
                   key: "mail.example", expected: .found(value: "OK mail", line: 5)),
        LookupCase(name: "empty result is an error",
                   table: "/^e$/\n",
                   key: "e", expected: .failed(reason: "\(spec) lookup of e returns an empty string result")),
        LookupCase(name: "a result that expands to nothing is an error too",
                   table: "/^(x?)e$/ $1\n",
                   key: "e", expected: .failed(reason: "\(spec) lookup of e returns an empty string result")),
        LookupCase(name: "bad pattern skips only its rule",
                   table: "/a(b/ REJECT\n/b/ OK\n",
                   key: "ab", expected: .found(value: "OK", line: 2)),
    ]

    @Test(arguments: lookupCases)
    func lookup(_ c: LookupCase) throws {
        let (table, _) = try Self.load(c.table)
        #expect(table.lookup(c.key) == c.expected)
    }

    struct DiagnosticCase: Sendable, CustomTestStringConvertible {
        let name: String
        let table: String
        let expected: [ConfigDiagnostic]
        var testDescription: String { name }
    }

    static func at(_ line: Int) -> HeloPolicy.SourceLocation { HeloPolicy.SourceLocation(file: "/etc/postfix/helo.pcre", line: line) }

    static let diagnosticCases: [DiagnosticCase] = [
        DiagnosticCase(name: "compile error names offset and line",
                       table: "/ok/ OK\n/a(b/ REJECT\n",
                       expected: [.error(at(2), "error in regex at offset 3: missing closing parenthesis: skipping this rule")]),
        DiagnosticCase(name: "X is obsolete",
                       table: "/x/X OK\n",
                       expected: [.warning(at(1), "ignoring obsolete regexp option \"X\"")]),
        DiagnosticCase(name: "! after the flags is an unknown option",
                       table: "/a/!/b/ OK\n",
                       expected: [.warning(at(1), "unknown regexp option \"!\": skipping this rule")]),
        DiagnosticCase(name: "unclosed pattern uses pcre's wording",
                       table: "/abc OK\n",
                       expected: [.warning(at(1), "no closing regexp delimiter \"/\": ignoring this rule")]),
        DiagnosticCase(name: "trailing backslash leaves a pcre pattern open",
                       table: "/abc\\\n",
                       expected: [.warning(at(1), "no closing regexp delimiter \"/\": ignoring this rule")]),
        DiagnosticCase(name: "$0 uses pcre's wording",
                       table: "/(a)/ R $0\n",
                       expected: [.warning(at(1), "out of range replacement index \"0\""),
                                  .warning(at(1), "bad replacement syntax: skipping this rule")]),
        DiagnosticCase(name: "index beyond the groups",
                       table: "/(a)/ R $2\n",
                       expected: [.warning(at(1), "out of range replacement index \"2\": skipping this rule")]),
    ]

    @Test(arguments: diagnosticCases)
    func diagnostics(_ c: DiagnosticCase) throws {
        let (_, diagnostics) = try Self.load(c.table)
        #expect(diagnostics == c.expected)
    }

    @Test func isAPatternTable() throws {
        let (table, diagnostics) = try Self.load("/x/ OK\n")
        #expect(table.matchesFixedStrings == false)
        #expect(table.spec == Self.spec)
        #expect(diagnostics.isEmpty)
    }

    @Test func concurrentLookupsUseTheirOwnMatchData() async throws {
        let (table, _) = try Self.load("/^(.+)\\.(dyn)\\.example$/ REJECT $2 $1\n")
        let results = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<64 {
                group.addTask {
                    table.lookup("h\(n).dyn.example") == .found(value: "REJECT dyn h\(n)", line: 1)
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0 })
    }

    /// A pattern that backtracks exponentially against a key it cannot match: under a low
    /// match limit the match fails and its rule does not apply (the next one does, as in
    /// Postfix, whose dict_pcre treats a matching error as "no decision"); with PCRE2's own
    /// limit (nil, as Postfix) the search ends in "no match", so the negated rule holds.
    @Test(arguments: [(limit: UInt32?(1_000), expected: TableLookup.found(value: "DUNNO fallback", line: 2)),
                      (limit: UInt32?.none, expected: TableLookup.found(value: "REJECT never nested", line: 1))])
    func matchLimitFailsOnlyTheRuleThatRunsIntoIt(limit: UInt32?, expected: TableLookup) throws {
        var diagnostics: [ConfigDiagnostic] = []
        let table = try PCRETable.load(spec: Self.spec, path: "/etc/postfix/helo.pcre",
                                       text: "!/^(a+)+$/ REJECT never nested\n/^a/ DUNNO fallback\n",
                                       diagnostics: &diagnostics, matchLimit: limit)
        #expect(diagnostics.isEmpty)
        // 16 a's and a b: `(a+)+` tries every way to split the a's before it gives up.
        #expect(table.lookup(String(repeating: "a", count: 16) + "b") == expected)
        // A key the pattern matches at once is unaffected by a low limit: the negated rule fails.
        #expect(table.lookup("aaaa") == .found(value: "DUNNO fallback", line: 2))
    }
}
