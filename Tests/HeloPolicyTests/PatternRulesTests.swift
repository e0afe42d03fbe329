import Testing
@testable import HeloPolicy

/// The rule-file grammar shared by regexp: and pcre: tables, tested with a stand-in engine
/// whose pattern matches exactly the string it spells (and has one group per `(`), so the
/// tests are about parsing, not about any regex library.
struct PatternRulesTests {
    struct StubMatcher: PatternMatcher {
        let pattern: String
        var groupCount: Int { pattern.filter { $0 == "(" }.count }

        func match(_ subject: [UInt8], groups: Int) -> PatternMatchResult {
            guard String(decoding: subject, as: UTF8.self) == pattern else { return .noMatch }
            return .matched(Array(repeating: 0..<subject.count, count: groups + 1))
        }
    }

    static let file = "/etc/postfix/rules"

    static func at(_ line: Int) -> HeloPolicy.SourceLocation {
        HeloPolicy.SourceLocation(file: file, line: line)
    }

    struct Loaded {
        let rules: PatternRuleSet<StubMatcher>
        let diagnostics: [ConfigDiagnostic]
        /// Every pattern handed to the engine, in order.
        let compiled: [PatternSource]
    }

    static func load(_ text: String, dialect: PatternDialect = .regexp) -> Loaded {
        var diagnostics: [ConfigDiagnostic] = []
        var compiled: [PatternSource] = []
        let rules = PatternRuleSet<StubMatcher>.load(
            text: text, file: file, dialect: dialect, diagnostics: &diagnostics
        ) { source in
            compiled.append(source)
            if source.text == "FAIL" { return .failure(PatternCompileFailure(message: "stub refused")) }
            return .success(StubMatcher(pattern: source.text))
        }
        return Loaded(rules: rules, diagnostics: diagnostics, compiled: compiled)
    }

    // MARK: Diagnostics

    struct DiagnosticCase: Sendable, CustomTestStringConvertible {
        let name: String
        let table: String
        let expected: [ConfigDiagnostic]
        var testDescription: String { name }
    }

    static let diagnosticCases: [DiagnosticCase] = [
        DiagnosticCase(name: "clean file", table: "/a/ OK\nif /b/\n/c/ OK\nendif\n", expected: []),
        DiagnosticCase(name: "missing result text",
                       table: "/a/ OK\n/b/\n",
                       expected: [.error(at(2), "no replacement text: using empty string (every lookup that reaches this rule fails)")]),
        DiagnosticCase(name: "unknown flag skips the rule",
                       table: "/a/q OK\n",
                       expected: [.warning(at(1), "unknown regexp option \"q\": skipping this rule")]),
        DiagnosticCase(name: "unclosed pattern",
                       table: "\n/abc OK\n",
                       expected: [.warning(at(2), "no closing regexp delimiter \"/\": skipping this rule")]),
        DiagnosticCase(name: "only negation, no pattern",
                       table: "!\n",
                       expected: [.warning(at(1), "no regexp: skipping this rule")]),
        DiagnosticCase(name: "bad $9: more than the groups",
                       table: "/(a)/ REJECT $9\n",
                       expected: [.warning(at(1), "out of range replacement index \"9\": skipping this rule")]),
        DiagnosticCase(name: "$0",
                       table: "/(a)/ REJECT $0\n",
                       expected: [.warning(at(1), "out-of-range replacement index \"0\""),
                                  .warning(at(1), "bad replacement syntax: skipping this rule")]),
        DiagnosticCase(name: "non-numeric names, each reported",
                       table: "/(a)/ REJECT $x ${y}\n",
                       expected: [.warning(at(1), "non-numeric replacement index \"x\""),
                                  .warning(at(1), "non-numeric replacement index \"y\""),
                                  .warning(at(1), "bad replacement syntax: skipping this rule")]),
        DiagnosticCase(name: "$n in a negated rule",
                       table: "!/(a)/ REJECT $1\n",
                       expected: [.warning(at(1), "$number found in negative match replacement text: skipping this rule")]),
        DiagnosticCase(name: "engine refusal is an error naming the line",
                       table: "/ok/ OK\n\n/FAIL/ REJECT\n",
                       expected: [.error(at(3), "stub refused: skipping this rule")]),
        DiagnosticCase(name: "diagnostic names the first line of a continued rule",
                       table: "# c\n/(a)/ REJECT\n  $2 here\n",
                       expected: [.warning(at(2), "out of range replacement index \"2\": skipping this rule")]),
        DiagnosticCase(name: "if without endif",
                       table: "/x/ OK\nif /a/\nif /b/\n/c/ OK\nendif\n",
                       expected: [.warning(at(2), "IF has no matching ENDIF")]),
        DiagnosticCase(name: "nested ifs without endif, innermost first",
                       table: "if /a/\nif /b/\n",
                       expected: [.warning(at(2), "IF has no matching ENDIF"),
                                  .warning(at(1), "IF has no matching ENDIF")]),
        DiagnosticCase(name: "endif without if",
                       table: "/a/ OK\nendif\n",
                       expected: [.warning(at(2), "ignoring ENDIF without matching IF")]),
        DiagnosticCase(name: "text after if",
                       table: "if /a/ /b/ OK\nendif\n",
                       expected: [.warning(at(1), "ignoring extra text after IF statement: \"/b/ OK\""),
                                  .warning(at(1), "do not prepend whitespace to statements between IF and ENDIF")]),
        DiagnosticCase(name: "text after endif",
                       table: "if /a/\nendif now\n",
                       expected: [.warning(at(2), "ignoring extra text after ENDIF")]),
        DiagnosticCase(name: "if whose pattern is refused leaves its endif unmatched",
                       table: "if /FAIL/\n/a/ OK\nendif\n",
                       expected: [.error(at(1), "stub refused: skipping this rule"),
                                  .warning(at(3), "ignoring ENDIF without matching IF")]),
        DiagnosticCase(name: "unrecognized word",
                       table: "ifx /a/\nreject\n",
                       expected: [.warning(at(1), "ignoring unrecognized request"),
                                  .warning(at(2), "ignoring unrecognized request")]),
        DiagnosticCase(name: "bare if has no pattern",
                       table: "if\n",
                       expected: [.warning(at(1), "no regexp: skipping this rule")]),
        DiagnosticCase(name: "truncated ${",
                       table: "/a/ R ${1\n",
                       expected: [.warning(at(1), "truncated macro reference: \"R ${1\""),
                                  .warning(at(1), "bad replacement syntax: skipping this rule")]),
        DiagnosticCase(name: "lone $ at the end",
                       table: "/a/ R $\n",
                       expected: [.warning(at(1), "empty macro name: \"R $\""),
                                  .warning(at(1), "bad replacement syntax: skipping this rule")]),
    ]

    @Test(arguments: diagnosticCases)
    func diagnostics(_ c: DiagnosticCase) {
        #expect(Self.load(c.table).diagnostics == c.expected)
    }

    // MARK: Lookups

    struct LookupCase: Sendable, CustomTestStringConvertible {
        let name: String
        let table: String
        let key: String
        let expected: TableLookup
        var testDescription: String { name }
    }

    static let lookupCases: [LookupCase] = [
        LookupCase(name: "keywords are case-insensitive",
                   table: "IF /a/\n/a/ OK\nEndIf\n", key: "a", expected: .found(value: "OK", line: 2)),
        LookupCase(name: "failed if skips to after its endif",
                   table: "if /a/\n/b/ IN\nendif\n/b/ OUT\n", key: "b", expected: .found(value: "OUT", line: 4)),
        LookupCase(name: "negated if enters on a mismatch",
                   table: "if !/a/\n/b/ IN\nendif\n/b/ OUT\n", key: "b", expected: .found(value: "IN", line: 2)),
        LookupCase(name: "nested: the inner failure skips only the inner block",
                   table: "if !/x/\nif /a/\n/b/ INNER\nendif\n/b/ OUTER\nendif\n",
                   key: "b", expected: .found(value: "OUTER", line: 5)),
        LookupCase(name: "nested: outer failure skips everything inside",
                   table: "if /x/\nif !/a/\n/b/ INNER\nendif\n/b/ OUTER\nendif\n/b/ AFTER\n",
                   key: "b", expected: .found(value: "AFTER", line: 7)),
        LookupCase(name: "a failed if without endif ends the table",
                   table: "if /x/\n/b/ IN\n", key: "b", expected: .notFound),
        LookupCase(name: "a later rule still counts after an unmatched endif",
                   table: "endif\n/b/ OK\n", key: "b", expected: .found(value: "OK", line: 2)),
        LookupCase(name: "indented if is a continuation of the previous rule",
                   table: "/b/ OK\n  if /c/\n", key: "b", expected: .found(value: "OK  if /c/", line: 1)),
        LookupCase(name: "double negation cancels",
                   table: "!!/b/ OK\n", key: "b", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "negation with blanks between",
                   table: "! /b/ NOT\n", key: "c", expected: .found(value: "NOT", line: 1)),
        LookupCase(name: "$$ is a dollar",
                   table: "/b/ REJECT costs $$5\n", key: "b", expected: .found(value: "REJECT costs $5", line: 1)),
        LookupCase(name: "${1} and $(1)",
                   table: "/(b)/ R ${1}-$(1)-$1\n", key: "(b)", expected: .found(value: "R (b)-(b)-(b)", line: 1)),
        LookupCase(name: "trailing blanks of the line are not part of the result",
                   table: "/b/ OK  \t\n", key: "b", expected: .found(value: "OK", line: 1)),
        LookupCase(name: "result keeps inner blanks",
                   table: "/b/   REJECT  two  spaces\n", key: "b", expected: .found(value: "REJECT  two  spaces", line: 1)),
        LookupCase(name: "missing result: lookup fails",
                   table: "/b/\n", key: "b",
                   expected: .failed(reason: "test:rules lookup of b returns an empty string result")),
        LookupCase(name: "rule skipped for a bad $9 never matches",
                   table: "/(b)/ R $9\n", key: "(b)", expected: .notFound),
        LookupCase(name: "legacy second pattern excludes (regexp)",
                   table: "/b/!/b/ R\n", key: "b", expected: .notFound),
    ]

    @Test(arguments: lookupCases)
    func lookup(_ c: LookupCase) {
        #expect(Self.load(c.table).rules.lookup(c.key, spec: "test:rules") == c.expected)
    }

    // MARK: Pattern extraction

    struct SourceCase: Sendable, CustomTestStringConvertible {
        let name: String
        let table: String
        let dialect: PatternDialect
        let expected: [PatternSource]
        var testDescription: String { name }
    }

    static func source(_ text: String, _ options: PatternOptions, negated: Bool = false) -> PatternSource {
        PatternSource(bytes: Array(text.utf8), options: options, negated: negated)
    }

    static let sourceCases: [SourceCase] = [
        SourceCase(name: "regexp defaults", table: "/a/ OK\n", dialect: .regexp,
                   expected: [source("a", [.caseless, .extended])]),
        SourceCase(name: "regexp flags toggle", table: "/a/ixm OK\n", dialect: .regexp,
                   expected: [source("a", [.multiline])]),
        SourceCase(name: "pcre defaults", table: "/a/ OK\n", dialect: .pcre,
                   expected: [source("a", [.caseless, .dotAll])]),
        SourceCase(name: "pcre flags toggle", table: "/a/isxmAEU OK\n", dialect: .pcre,
                   expected: [source("a", [.extended, .multiline, .anchored, .dollarEndOnly, .ungreedy])]),
        SourceCase(name: "escaped delimiter keeps its backslash", table: "/a\\/b/ OK\n", dialect: .regexp,
                   expected: [source("a\\/b", [.caseless, .extended])]),
        SourceCase(name: "any delimiter", table: ",a/b\\,c, OK\n", dialect: .pcre,
                   expected: [source("a/b\\,c", [.caseless, .dotAll])]),
        SourceCase(name: "legacy pair: flags end at !", table: "/a/i!/b/x R\n", dialect: .regexp,
                   expected: [source("a", [.extended]), source("b", [.caseless], negated: true)]),
        SourceCase(name: "negated if", table: "if !/a/\nendif\n", dialect: .pcre,
                   expected: [source("a", [.caseless, .dotAll], negated: true)]),
        SourceCase(name: "if needs no blank before the pattern", table: "if/a/\nendif\n", dialect: .regexp,
                   expected: [source("a", [.caseless, .extended])]),
        SourceCase(name: "trailing backslash closes a regexp pattern", table: "/a\\\n", dialect: .regexp,
                   expected: [source("a", [.caseless, .extended])]),
        SourceCase(name: "trailing backslash leaves a pcre pattern open", table: "/a\\\n", dialect: .pcre,
                   expected: []),
    ]

    @Test(arguments: sourceCases)
    func patternSources(_ c: SourceCase) {
        #expect(Self.load(c.table, dialect: c.dialect).compiled == c.expected)
    }

    // MARK: Replacement text

    struct ReplacementCase: Sendable, CustomTestStringConvertible {
        let name: String
        let text: String
        let pieces: [PatternReplacement.Piece]?
        let problems: [String]
        var testDescription: String { name }
    }

    static func lit(_ s: String) -> PatternReplacement.Piece { .literal(Array(s.utf8)) }

    static let replacementCases: [ReplacementCase] = [
        ReplacementCase(name: "plain text", text: "REJECT go away", pieces: [lit("REJECT go away")], problems: []),
        ReplacementCase(name: "$1", text: "REJECT dynamic host $1", pieces: [lit("REJECT dynamic host "), .group(1)], problems: []),
        ReplacementCase(name: "braces and parens", text: "${1}x$(2)", pieces: [.group(1), lit("x"), .group(2)], problems: []),
        ReplacementCase(name: "$$", text: "a$$b$$", pieces: [lit("a$b$")], problems: []),
        ReplacementCase(name: "leading zeros", text: "$01", pieces: [.group(1)], problems: []),
        ReplacementCase(name: "name runs over letters", text: "$1abc", pieces: nil,
                        problems: ["non-numeric replacement index \"1abc\""]),
        ReplacementCase(name: "underscore is part of a name", text: "$1_", pieces: nil,
                        problems: ["non-numeric replacement index \"1_\""]),
        ReplacementCase(name: "punctuation ends a name", text: "$1.x", pieces: [.group(1), lit(".x")], problems: []),
        ReplacementCase(name: "blank inside braces", text: "${ 1}", pieces: nil,
                        problems: ["non-numeric replacement index \" 1\""]),
        ReplacementCase(name: "int truncation as in atoi", text: "$4294967297", pieces: [.group(1)], problems: []),
    ]

    @Test(arguments: replacementCases)
    func replacementParsing(_ c: ReplacementCase) {
        var problems: [String] = []
        let parsed = PatternReplacement.parse(Array(c.text.utf8), dialect: .regexp, problems: &problems)
        #expect(parsed?.pieces == c.pieces)
        #expect(problems == c.problems)
    }

    @Test func expansionUsesTheSubjectBytes() throws {
        var problems: [String] = []
        let replacement = try #require(PatternReplacement.parse(Array("<$1|$2|$3>".utf8), dialect: .pcre, problems: &problems))
        #expect(replacement.highestGroup == 3)
        let subject = Array("HOST.example".utf8)
        let expanded = replacement.expand(subject: subject, groups: [0..<12, 0..<4, nil, 4..<4])
        #expect(expanded == "<HOST||>")
    }
}
