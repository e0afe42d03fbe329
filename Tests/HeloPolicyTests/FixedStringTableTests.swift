import Testing
@testable import HeloPolicy

/// Loads `text` as a table of `kind` without touching the file system.
func loadFixed(
    _ text: String, kind: FixedStringTable.Kind = .hash, path: String = "/etc/postfix/helo_access"
) -> (table: any AccessTable, diagnostics: [ConfigDiagnostic]) {
    var diagnostics: [ConfigDiagnostic] = []
    let table = FixedStringTable.load(kind, spec: "\(kind.rawValue):\(path)", path: path,
                                      contents: Array(text.utf8), diagnostics: &diagnostics)
    return (table, diagnostics)
}

struct FixedStringTableTests {
    struct LookupCase: Sendable, CustomTestStringConvertible {
        let key: String
        let expected: TableLookup
        var testDescription: String { "lookup \(key)" }
    }

    /// The hash: table of postfix-helo-semantics §8.2, one entry per line (lines 2–20; line 1
    /// is a comment).
    static let section82 = """
        # §8.2 table
        host.sub.example.net  REJECT k=full
        sub.example.net  REJECT k=parent-sub
        example.net           REJECT k=parent
        .example.org     REJECT k=dot-org
        example.org           REJECT k=org-nodot
        com              REJECT k=tld-com
        1.2.3.4               REJECT k=ip
        1.2.3            REJECT k=ipnet
        ::1                   REJECT k=ip6
        [5.6.7.8]        REJECT k=literal
        6.7.8]                REJECT k=weird-literal-parent
        [IPv6:::2] REJECT k=literal6
        MiXeD.example.info    REJECT k=mixedcase
        dunno.example.net DUNNO
        ok.example.net        OK
        relay.example.net RELAY
        numeric.example.net   12345

        \t# indented comment
        cont.example REJECT continued
          line here
        hash.example REJECT has # inside the value
        """

    static let section82Cases: [LookupCase] = [
        LookupCase(key: "host.sub.example.net", expected: .found(value: "REJECT k=full", line: 2)),
        LookupCase(key: "sub.example.net", expected: .found(value: "REJECT k=parent-sub", line: 3)),
        LookupCase(key: "example.net", expected: .found(value: "REJECT k=parent", line: 4)),
        LookupCase(key: ".example.org", expected: .found(value: "REJECT k=dot-org", line: 5)),
        LookupCase(key: "example.org", expected: .found(value: "REJECT k=org-nodot", line: 6)),
        LookupCase(key: "com", expected: .found(value: "REJECT k=tld-com", line: 7)),
        LookupCase(key: "1.2.3.4", expected: .found(value: "REJECT k=ip", line: 8)),
        LookupCase(key: "1.2.3", expected: .found(value: "REJECT k=ipnet", line: 9)),
        LookupCase(key: "::1", expected: .found(value: "REJECT k=ip6", line: 10)),
        LookupCase(key: "[5.6.7.8]", expected: .found(value: "REJECT k=literal", line: 11)),
        LookupCase(key: "6.7.8]", expected: .found(value: "REJECT k=weird-literal-parent", line: 12)),
        LookupCase(key: "[IPv6:::2]", expected: .found(value: "REJECT k=literal6", line: 13)),
        LookupCase(key: "[ipv6:::2]", expected: .found(value: "REJECT k=literal6", line: 13)),
        LookupCase(key: "MIXED.EXAMPLE.INFO", expected: .found(value: "REJECT k=mixedcase", line: 14)),
        LookupCase(key: "mixed.example.info", expected: .found(value: "REJECT k=mixedcase", line: 14)),
        LookupCase(key: "dunno.example.net", expected: .found(value: "DUNNO", line: 15)),
        LookupCase(key: "ok.example.net", expected: .found(value: "OK", line: 16)),
        LookupCase(key: "relay.example.net", expected: .found(value: "RELAY", line: 17)),
        LookupCase(key: "numeric.example.net", expected: .found(value: "12345", line: 18)),
        LookupCase(key: "cont.example", expected: .found(value: "REJECT continued  line here", line: 21)),
        LookupCase(key: "hash.example", expected: .found(value: "REJECT has # inside the value", line: 23)),
        // No parent walk, trailing dot or bracket stripping inside the table itself.
        LookupCase(key: "1.2.3.5", expected: .notFound),
        LookupCase(key: "[1.2.3.4]", expected: .notFound),
        LookupCase(key: "host.sub.example.net.", expected: .notFound),
        LookupCase(key: "x.host.sub.example.net", expected: .notFound),
        LookupCase(key: "# §8.2 table", expected: .notFound),
        LookupCase(key: "line", expected: .notFound),
        LookupCase(key: "", expected: .notFound),
    ]

    @Test(arguments: section82Cases)
    func section82Lookups(_ c: LookupCase) {
        let (table, diagnostics) = loadFixed(Self.section82)
        #expect(diagnostics.isEmpty)
        #expect(table.matchesFixedStrings)
        #expect(table.lookup(c.key) == c.expected)
    }

    @Test(arguments: section82Cases)
    func texthashParsesTheSameWay(_ c: LookupCase) {
        let (table, diagnostics) = loadFixed(Self.section82, kind: .texthash)
        #expect(diagnostics.isEmpty)
        #expect(table is FixedStringTable)
        #expect(table.lookup(c.key) == c.expected)
    }

    struct SourceCase: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let lookups: [(String, TableLookup)]
        /// Expected diagnostics as `severity line: message-fragment`.
        let diagnostics: [(ConfigDiagnostic.Severity, Int, String)]
        var testDescription: String { name }
    }

    static let sourceCases: [SourceCase] = [
        SourceCase(
            name: "quoted key keeps its quotes, whitespace inside quotes belongs to the key",
            text: "\"Two Words\" REJECT quoted\n\"a\\\"b\" OK\n",
            lookups: [("\"two words\"", .found(value: "REJECT quoted", line: 1)),
                      ("two words", .notFound),
                      ("\"a\\\"b\"", .found(value: "OK", line: 2))],
            diagnostics: []),
        SourceCase(
            name: "unbalanced quote ignores the line",
            text: "\"the answer is 42\nok.example OK\n",
            lookups: [("ok.example", .found(value: "OK", line: 2))],
            diagnostics: [(.warning, 1, "unbalanced '\"' in '\"the answer is 42'")]),
        SourceCase(
            name: "missing value is skipped with a warning",
            text: "novalue.example\nnovalue2.example   \t\nok.example OK\n",
            lookups: [("novalue.example", .notFound), ("novalue2.example", .notFound),
                      ("ok.example", .found(value: "OK", line: 3))],
            diagnostics: [(.warning, 1, "expected format: key whitespace value"),
                          (.warning, 2, "expected format: key whitespace value")]),
        SourceCase(
            name: "key ending in a colon warns but is kept",
            text: "xxx: yyy\n",
            lookups: [("xxx:", .found(value: "yyy", line: 1))],
            diagnostics: [(.warning, 1, "is this an alias file?")]),
        SourceCase(
            name: "hash duplicate keeps the first value (folded keys compare equal)",
            text: "aaa bbb\nAAA ccc\n",
            lookups: [("aaa", .found(value: "bbb", line: 1))],
            diagnostics: [(.warning, 2, "duplicate entry: \"aaa\"")]),
        SourceCase(
            name: "values keep inner whitespace, lose the surrounding whitespace and CR",
            text: "k.example \t REJECT  two  spaces \t\r\n",
            lookups: [("k.example", .found(value: "REJECT  two  spaces", line: 1))],
            diagnostics: []),
        SourceCase(
            name: "comment and blank lines inside a continuation are skipped",
            text: "c.example REJECT a\n# comment\n\n   \n  b\n",
            lookups: [("c.example", .found(value: "REJECT a  b", line: 1))],
            diagnostics: []),
        SourceCase(
            name: "a leading-whitespace line with nothing before it is dropped",
            text: "  orphan.example REJECT x\nok.example OK",
            lookups: [("orphan.example", .notFound), ("ok.example", .found(value: "OK", line: 2))],
            diagnostics: [(.warning, 1, "logical line must not start with whitespace")]),
        SourceCase(
            name: "non-ASCII letters are folded too (UTF-8 mode)",
            text: "MÜLLER.example REJECT umlaut\n",
            lookups: [("müller.example", .found(value: "REJECT umlaut", line: 1)),
                      ("MÜLLER.EXAMPLE", .found(value: "REJECT umlaut", line: 1)),
                      ("muller.example", .notFound)],
            diagnostics: []),
        SourceCase(
            name: "non-ASCII keys get ICU case folding, not lower-casing (ß folds to ss)",
            text: "STRAẞE.example REJECT capital sharp s\nfaß.example REJECT sharp s\nΣΟΦΟΣ.example OK\n",
            lookups: [("strasse.example", .found(value: "REJECT capital sharp s", line: 1)),
                      ("STRAẞE.example", .found(value: "REJECT capital sharp s", line: 1)),
                      ("straße.example", .found(value: "REJECT capital sharp s", line: 1)),
                      ("fass.example", .found(value: "REJECT sharp s", line: 2)),
                      ("FASS.EXAMPLE", .found(value: "REJECT sharp s", line: 2)),
                      ("fas.example", .notFound),
                      ("σοφοσ.example", .found(value: "OK", line: 3)),
                      ("σοφος.example", .found(value: "OK", line: 3))],
            diagnostics: []),
        SourceCase(
            name: "keys that fold to the same text are duplicates",
            text: "faß.example REJECT first\nFASS.example REJECT second\n",
            lookups: [("fass.example", .found(value: "REJECT first", line: 1))],
            diagnostics: [(.warning, 2, "duplicate entry: \"fass.example\"")]),
        SourceCase(
            name: "keys compare as bytes, not as canonically equivalent strings",
            text: "caf\u{E9}.example REJECT precomposed\n",
            lookups: [("caf\u{E9}.example", .found(value: "REJECT precomposed", line: 1)),
                      ("cafe\u{301}.example", .notFound)],
            diagnostics: []),
    ]

    @Test(arguments: sourceCases)
    func sourceFormat(_ c: SourceCase) {
        let (table, diagnostics) = loadFixed(c.text, path: "t")
        for (key, expected) in c.lookups {
            #expect(table.lookup(key) == expected, "key \(key)")
        }
        #expect(diagnostics.count == c.diagnostics.count, "\(diagnostics)")
        for (found, wanted) in zip(diagnostics, c.diagnostics) {
            #expect(found.severity == wanted.0)
            #expect(found.location == SourceLocation(file: "t", line: wanted.1))
            #expect(found.message.contains(wanted.2), "\(found.message)")
        }
    }

    @Test func texthashDuplicateBreaksTheWholeTable() {
        let (table, diagnostics) = loadFixed("aaa bbb\nother.example OK\nAaA ccc\n", kind: .texthash, path: "/etc/t")
        #expect(table is SurrogateTable)
        #expect(!table.matchesFixedStrings)
        let errors = diagnostics.filter { $0.severity == .error }
        #expect(errors.count == 1)
        #expect(errors.first?.location == SourceLocation(file: "/etc/t", line: 3))
        #expect(errors.first?.message.contains("duplicate entry: \"aaa\"") == true)
        for key in ["aaa", "other.example", "unrelated.example", ""] {
            guard case .failed(let reason) = table.lookup(key) else {
                Issue.record("lookup of \(key) did not fail")
                continue
            }
            #expect(reason == "texthash:/etc/t is unavailable. /etc/t, line 3: duplicate entry: \"aaa\"")
        }
    }

    @Test func largeTableLoadsQuicklyAndAnswers() throws {
        var text = "# generated\n"
        text.reserveCapacity(4_000_000)
        for index in 0..<100_000 {
            text += "Host\(index).Example.NET REJECT entry \(index)\n"
        }
        let clock = ContinuousClock()
        var result: (table: any AccessTable, diagnostics: [ConfigDiagnostic])!
        let elapsed = clock.measure { result = loadFixed(text) }
        let table = try #require(result.table as? FixedStringTable)
        #expect(result.diagnostics.isEmpty)
        #expect(table.count == 100_000)
        #expect(table.lookup("host0.example.net") == .found(value: "REJECT entry 0", line: 2))
        #expect(table.lookup("HOST99999.EXAMPLE.NET") == .found(value: "REJECT entry 99999", line: 100_001))
        #expect(table.lookup("host100000.example.net") == .notFound)
        // Debug builds are several times slower than release; this bound only catches
        // accidental quadratic behaviour. Release loads take well under a second.
        #expect(elapsed < .seconds(10), "loading took \(elapsed)")
    }
}
