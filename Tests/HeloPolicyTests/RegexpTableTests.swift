import Testing
@testable import HeloPolicy

struct RegexpTableTests {
    /// One table, one lookup key, one expected answer.
    struct LookupCase: Sendable, CustomTestStringConvertible {
        let name: String
        let table: String
        let key: String
        let expected: TableLookup
        var testDescription: String { name }
    }

    static func load(_ text: String) -> (RegexpTable, [ConfigDiagnostic]) {
        var diagnostics: [ConfigDiagnostic] = []
        let table = RegexpTable.load(spec: "regexp:/etc/postfix/helo.re", path: "/etc/postfix/helo.re",
                                     text: text, diagnostics: &diagnostics)
        return (table, diagnostics)
    }

    static let lookupCases: [LookupCase] = [
        LookupCase(name: "$1 from the original-case subject (verified vector)",
                   table: "/^(.+)\\.dyn\\.example\\.com$/ REJECT dynamic host $1\n",
                   key: "HOST.DYN.EXAMPLE.COM",
                   expected: .found(value: "REJECT dynamic host HOST", line: 1)),
        LookupCase(name: "flag i makes the pattern case-sensitive: exact case matches",
                   table: "/^UPPER\\.example$/i REJECT upper\n",
                   key: "UPPER.example", expected: .found(value: "REJECT upper", line: 1)),
        LookupCase(name: "flag i makes the pattern case-sensitive: other case misses",
                   table: "/^UPPER\\.example$/i REJECT upper\n",
                   key: "upper.example", expected: .notFound),
        LookupCase(name: "default is case-insensitive",
                   table: "/^upper\\.example$/ OK\n",
                   key: "UPPER.EXAMPLE", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "dot matches one byte of a UTF-8 subject",
                   table: "/^m..ller\\.example$/ REJECT bytes\n",
                   key: "müller.example", expected: .found(value: "REJECT bytes", line: 1)),
        LookupCase(name: "dot does not match a whole two-byte character",
                   table: "/^m.ller\\.example$/ REJECT chars\n",
                   key: "müller.example", expected: .notFound),
        LookupCase(name: "captured UTF-8 bytes are copied back intact",
                   table: "/^(..)ller/ REJECT $1\n",
                   key: "üller.example", expected: .found(value: "REJECT ü", line: 1)),
        LookupCase(name: "found carries the line of the matching rule",
                   table: "# comment\n/^a$/ OK\n\n/^b$/ REJECT b\n",
                   key: "b", expected: .found(value: "REJECT b", line: 4)),
        LookupCase(name: "first matching rule wins",
                   table: "/example/ REJECT first\n/example/ REJECT second\n",
                   key: "x.example", expected: .found(value: "REJECT first", line: 1)),
        LookupCase(name: "whole string only: no parent lookup",
                   table: "/^example\\.com$/ REJECT\n",
                   key: "host.example.com", expected: .notFound),
        LookupCase(name: "flag x switches to basic syntax: + is literal",
                   table: "/^a+$/x OK\n",
                   key: "a+", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "basic syntax: + is not a repetition",
                   table: "/^a+$/x OK\n",
                   key: "aa", expected: .notFound),
        LookupCase(name: "legacy /p1/!/p2/: p1 and not p2",
                   table: "/\\.example$/!/^mail\\./ REJECT not mail\n",
                   key: "www.example", expected: .found(value: "REJECT not mail", line: 1)),
        LookupCase(name: "legacy /p1/!/p2/: p2 excludes",
                   table: "/\\.example$/!/^mail\\./ REJECT not mail\n",
                   key: "mail.example", expected: .notFound),
        LookupCase(name: "negated rule matches what the pattern does not",
                   table: "!/\\./ REJECT no dot\n",
                   key: "localhost", expected: .found(value: "REJECT no dot", line: 1)),
        LookupCase(name: "rule without result text: lookup is an error",
                   table: "/^empty\\.example$/\n",
                   key: "empty.example",
                   expected: .failed(reason: "regexp:/etc/postfix/helo.re lookup of empty.example returns an empty string result")),
        LookupCase(name: "unmatched optional group expands to nothing",
                   table: "/^(x)?(y)$/ REJECT [$1]\n",
                   key: "y", expected: .found(value: "REJECT []", line: 1)),
        LookupCase(name: "bad pattern skips only its rule",
                   table: "/(/ REJECT broken\n/^ok$/ OK\n",
                   key: "ok", expected: .found(value: "OK", line: 2)),
        LookupCase(name: "flag m: REG_NEWLINE lets ^ match after a newline",
                   table: "/^b$/m OK\n",
                   key: "a\nb", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "without m, ^ does not match after a newline",
                   table: "/^b$/ OK\n",
                   key: "a\nb", expected: .notFound),
        LookupCase(name: "if block around rules",
                   table: "if /\\.example\\.org$/\n/^mail\\./ OK\n/./ REJECT in org\nendif\n/./ DUNNO\n",
                   key: "x.example.org", expected: .found(value: "REJECT in org", line: 3)),
        LookupCase(name: "${1}, $(2) and $$",
                   table: "/^([a-z]+)\\.([a-z]+)$/ REJECT ${1}$$$(2)\n",
                   key: "abc.def", expected: .found(value: "REJECT abc$def", line: 1)),
        LookupCase(name: "bad $9 skips the rule",
                   table: "/^(a)$/ REJECT $9\n/^a$/ OK\n",
                   key: "a", expected: .found(value: "OK", line: 2)),
        LookupCase(name: "negated if",
                   table: "if !/\\.example$/\n/./ REJECT outside\nendif\n",
                   key: "host.example", expected: .notFound),
        LookupCase(name: "if block skipped when the condition fails",
                   table: "if /\\.example\\.org$/\n/./ REJECT in org\nendif\n/./ DUNNO\n",
                   key: "x.example.net", expected: .found(value: "DUNNO", line: 4)),
        LookupCase(name: "trailing backslash closes a regexp pattern",
                   table: "/^abc\\\n",
                   key: "abc",
                   expected: .failed(reason: "regexp:/etc/postfix/helo.re lookup of abc returns an empty string result")),
    ]

    @Test(arguments: lookupCases)
    func lookup(_ c: LookupCase) {
        let (table, _) = Self.load(c.table)
        #expect(table.lookup(c.key) == c.expected)
    }

    @Test func isAPatternTable() {
        let (table, diagnostics) = Self.load("/x/ OK\n")
        #expect(table.matchesFixedStrings == false)
        #expect(table.spec == "regexp:/etc/postfix/helo.re")
        #expect(diagnostics.isEmpty)
    }

    @Test func badPatternIsAnErrorWithRegerrorText() throws {
        let (_, diagnostics) = Self.load("/^ok$/ OK\n/(unclosed/ REJECT\n")
        #expect(diagnostics.count == 1)
        let d = try #require(diagnostics.first)
        #expect(d.severity == .error)
        #expect(d.location == HeloPolicy.SourceLocation(file: "/etc/postfix/helo.re", line: 2))
        // glibc's regerror() text for an unbalanced parenthesis, then the consequence.
        #expect(d.message == "Unmatched ( or \\(: skipping this rule")
    }

    /// Found by FuzzRegexp (Fuzz/crashes/FuzzRegexp/stacked-plus): glibc's regcomp() takes time
    /// exponential in the repetition operators stacked on one atom, so such a rule is refused
    /// (file:line error, rule skipped) instead of keeping heloguard from starting.
    @Test(arguments: [
        ("/\\.e" + String(repeating: "+", count: 40) + "xample/ REJECT stacked\n", 40),
        ("/a*+?{2}{1,3}*+?*+/ REJECT mixed\n", 10),
        ("/a\\*" + String(repeating: "\\+", count: 12) + "/x REJECT basic syntax\n", 12),
    ])
    func stackedRepetitionsAreRefused(_ table: String, _ count: Int) throws {
        let started = ContinuousClock.now
        let (loaded, diagnostics) = Self.load(table + "/^ok$/ OK\n")
        #expect(ContinuousClock.now - started < .seconds(2))
        let d = try #require(diagnostics.first)
        #expect(diagnostics.count == 1)
        #expect(d.severity == .error)
        #expect(d.location == HeloPolicy.SourceLocation(file: "/etc/postfix/helo.re", line: 1))
        #expect(d.message.hasPrefix("\(count) repetition operators in a row (at most 8)"), "\(d.message)")
        #expect(loaded.lookup("ok") == .found(value: "OK", line: 2))
    }

    static let tooBig = "pattern too big: the C library's regcomp() would need tens of megabytes or more for it"
    static let tooSlow = "pattern too slow to compile: the C library's regcomp() would take seconds or more for it"

    /// Patterns glibc's regcomp() would choke on, each found by FuzzRegexp, are refused (file:line
    /// error, rule skipped) and the rest of the table still works. Too big
    /// (Fuzz/crashes/FuzzRegexp/interval-memory): its memory grows with the square of a
    /// repetition count (`a{1,32767}`: 8 GB). Too slow (Fuzz/crashes/FuzzRegexp/anchored-paths,
    /// over five minutes): after an anchor glibc follows every way through the parts that can
    /// match empty, and each `+` on such a part multiplies them.
    @Test(arguments: [
        ("/^a{1,32767}$/ REJECT big interval\n", tooBig),
        ("/heO?????{1,3421}ich/ REJECT the fuzzer's pattern\n", tooBig),
        ("/^a\\{1,32767\\}$/x REJECT basic syntax\n", tooBig),
        ("/^'^a*++++++b+++++k++++++c+++++/ REJECT the fuzzer's pattern in ASCII\n", tooSlow),
        ("/^(a*)+++++$/ REJECT stacked on a group\n", tooSlow),
        ("/^\\(a*\\)\\+\\+\\+\\+\\+/x REJECT basic syntax\n", tooSlow),
    ])
    func patternsRegcompWouldChokeOnAreRefused(_ table: String, _ message: String) throws {
        let started = ContinuousClock.now
        let (loaded, diagnostics) = Self.load("/^ok$/ OK\n" + table + "/^no$/ REJECT no\n")
        #expect(ContinuousClock.now - started < .seconds(2))
        let d = try #require(diagnostics.first)
        #expect(diagnostics.count == 1)
        #expect(d.severity == .error)
        #expect(d.location == HeloPolicy.SourceLocation(file: "/etc/postfix/helo.re", line: 2))
        #expect(d.message.hasPrefix(message), "\(d.message)")
        #expect(loaded.lookup("ok") == .found(value: "OK", line: 1))
        #expect(loaded.lookup("no") == .found(value: "REJECT no", line: 3))
        #expect(loaded.lookup("aaa") == .notFound)
    }

    @Test(arguments: [
        "/a{1,2}+*?+*?+/ REJECT eight\n",
        "/[+++++++++++]/ REJECT literal pluses in a bracket\n",
        "/[[:alpha:]+++++++++++]/ REJECT in a class bracket\n",
        "/\\+\\+\\+\\+\\+\\+\\+\\+\\+\\+/ REJECT escaped pluses\n",
        "/a++++++++++/x REJECT literal pluses in basic syntax\n",
        "/^[a-z0-9-]{1,63}(\\.[a-z0-9-]{1,63}){1,126}$/ REJECT a long hostname pattern\n",
        "/^a{1,32767}$/x REJECT literal braces in basic syntax\n",
    ])
    func otherPatternsAreKept(_ table: String) {
        let (_, diagnostics) = Self.load(table)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
    }

    @Test func warningsNameFileAndLine() {
        let (_, diagnostics) = Self.load("/^(a)$/ REJECT $9\n\n/^b$/\n")
        #expect(diagnostics.map(\.description) == [
            "/etc/postfix/helo.re:1: warning: out of range replacement index \"9\": skipping this rule",
            "/etc/postfix/helo.re:3: error: no replacement text: using empty string (every lookup that reaches this rule fails)",
        ])
    }

    @Test func aNulByteEndsTheRuleWithAWarning() {
        let (table, diagnostics) = Self.load("/^a$/ REJECT first\0/^b$/ OK\n/^c$/ OK\n")
        #expect(diagnostics.map(\.description) == [
            "/etc/postfix/helo.re:1: warning: text after null byte may be ignored",
        ])
        #expect(table.lookup("a") == .found(value: "REJECT first", line: 1))
        #expect(table.lookup("b") == .notFound)
        #expect(table.lookup("c") == .found(value: "OK", line: 2))
    }

    @Test func loadingAndDroppingTablesFreesPatterns() {
        // Loading and dropping many tables must not crash (regfree in deinit).
        for _ in 0..<50 {
            let (table, _) = Self.load("/^(a)(b)$/ REJECT $2$1\nif /x/\n/y/ OK\nendif\n")
            #expect(table.lookup("ab") == .found(value: "REJECT ba", line: 1))
        }
    }

    @Test func concurrentLookupsShareCompiledPatterns() async {
        let (table, _) = Self.load("/^(.+)\\.dyn\\.example\\.com$/ REJECT dynamic host $1\n")
        let results = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<64 {
                group.addTask {
                    table.lookup("h\(n).dyn.example.com") == .found(value: "REJECT dynamic host h\(n)", line: 1)
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0 })
    }
}
