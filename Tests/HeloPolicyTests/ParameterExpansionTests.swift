import Testing
@testable import HeloPolicy

struct ParameterExpansionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        let parameter: String
        let expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "$name", config: "a = x\nb = <$a>", parameter: "b", expected: "<x>"),
        Case(name: "${name}", config: "a = x\nb = ${a}y", parameter: "b", expected: "xy"),
        Case(name: "$(name)", config: "a = x\nb = $(a)y", parameter: "b", expected: "xy"),
        Case(name: "white space inside braces", config: "a = x\nb = ${ a }", parameter: "b", expected: "x"),
        Case(name: "$name stops at a non-name character", config: "a = x\nb = $a.example", parameter: "b", expected: "x.example"),
        Case(name: "$$ is a dollar", config: "b = cost $$5", parameter: "b", expected: "cost $5"),
        Case(name: "$$ is not expanded again", config: "a = x\nb = $$a", parameter: "b", expected: "$a"),
        Case(name: "$$ inside a referenced value", config: "a = 1$$2\nb = $a", parameter: "b", expected: "1$2"),
        Case(name: "recursive", config: "a = $b\nb = $c\nc = deep", parameter: "a", expected: "deep"),
        Case(name: "defaults are referenced", config: "b = $smtpd_null_access_lookup_key", parameter: "b", expected: "<>"),
        Case(name: "default refers to another parameter", config: "reject_tempfail_action = defer",
             parameter: "unknown_helo_hostname_tempfail_action", expected: "defer"),
        Case(name: "${name?text} with a value", config: "a = x\nb = ${a?yes $a}", parameter: "b", expected: "yes x"),
        Case(name: "${name?text} empty", config: "a =\nb = ${a?yes}", parameter: "b", expected: ""),
        Case(name: "${name?text} undefined", config: "b = [${nope?yes}]", parameter: "b", expected: "[]"),
        Case(name: "${name:text} with a value", config: "a = x\nb = [${a:no}]", parameter: "b", expected: "[]"),
        Case(name: "${name:text} empty", config: "a =\nb = ${a:no}", parameter: "b", expected: "no"),
        Case(name: "${name:text} undefined", config: "b = ${nope:fallback}", parameter: "b", expected: "fallback"),
        Case(name: "unbraced ? text runs to the end", config: "a = x\nb = ${a?one:two}", parameter: "b", expected: "one:two"),
        Case(name: "${name?{a}:{b}} true", config: "a = x\nb = ${a?{one}:{two}}", parameter: "b", expected: "one"),
        Case(name: "${name?{a}:{b}} false", config: "a =\nb = ${a?{one}:{two}}", parameter: "b", expected: "two"),
        Case(name: "${name?{a}:b} false", config: "b = ${nope ? {one} : two}", parameter: "b", expected: " two"),
        Case(name: "braced text keeps its spaces", config: "a = x\nb = ${a?{ one }}", parameter: "b", expected: " one "),
        Case(name: "nested conditionals", config: "a = x\nc = y\nb = ${a?{${c?{both}}}}", parameter: "b", expected: "both"),
        Case(name: "Postfix default_rbl_reply stays raw", config: "",
             parameter: "default_rbl_reply", expected: KnownParameters.defaultRBLReply),
    ]

    @Test(arguments: cases)
    func expansion(_ c: Case) {
        let (mainCf, parseDiagnostics) = MainCf.parse(c.config, file: "main.cf")
        #expect(parseDiagnostics.isEmpty)
        let parameters = KnownParameters.parameters(from: mainCf, systemHostname: "mx.example.org", interfaces: [])
        #expect(parameters.value(c.parameter) == c.expected)
        #expect(!parameters.diagnostics.contains { $0.severity == .error })
    }

    struct ProblemCase: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        let expected: [String]
        var testDescription: String { name }
    }

    static let problemCases: [ProblemCase] = [
        ProblemCase(name: "undefined name warns at the line that refers to it", config: "a = 1\nb = x$nope",
                    expected: ["main.cf:2: warning: parameter \"b\": undefined parameter \"$nope\" expands to an empty string"]),
        ProblemCase(name: "undefined name inside a referenced value is blamed on that value",
                    config: "a = $nope\nb = $a",
                    expected: ["main.cf:1: warning: parameter \"a\": undefined parameter \"$nope\" expands to an empty string"]),
        ProblemCase(name: "self reference", config: "a = $a",
                    expected: ["main.cf:1: error: parameter \"a\": unreasonable macro call nesting: \"a\" (a loop of $name references?)"]),
        ProblemCase(name: "truncated reference", config: "\na = ${b",
                    expected: ["main.cf:2: error: parameter \"a\": truncated macro reference: \"${b\""]),
        ProblemCase(name: "lone dollar", config: "a = 5$",
                    expected: ["main.cf:1: error: parameter \"a\": empty macro name: \"5$\""]),
        ProblemCase(name: "space inside a name", config: "a = ${b c}",
                    expected: ["main.cf:1: error: parameter \"a\": attribute name syntax error at: \"...b>>> c\""]),
        ProblemCase(name: "garbage after braced text", config: "b = x\na = ${b?{y}z}",
                    expected: ["main.cf:2: error: parameter \"a\": \":\" expected at: \"...y}>>>z\""]),
        ProblemCase(name: "unbalanced braces", config: "b = x\na = ${b?{y}",
                    expected: ["main.cf:2: error: parameter \"a\": truncated macro reference: \"${b?{y}\""]),
        ProblemCase(name: "relational expressions are refused", config: "a = ${{1} == {1}?yes}",
                    expected: ["main.cf:1: error: parameter \"a\": relational expressions such as \"${{1} == {1}?yes}\" are not supported by heloguard"]),
    ]

    @Test(arguments: problemCases)
    func problems(_ c: ProblemCase) {
        let (mainCf, _) = MainCf.parse(c.config, file: "main.cf")
        let parameters = Parameters(mainCf: mainCf, defaults: [:])
        #expect(parameters.diagnostics.map(\.description) == c.expected)
    }

    @Test func loopBetweenTwoParametersIsAnErrorAtEachLine() {
        let (mainCf, _) = MainCf.parse("a = $b\nb = x $a", file: "main.cf")
        let parameters = Parameters(mainCf: mainCf, defaults: [:])
        let errors = parameters.diagnostics.filter { $0.severity == .error }
        #expect(errors.compactMap(\.location?.line).sorted() == [1, 2])
        #expect(errors.allSatisfy { $0.message.contains("unreasonable macro call nesting") })
    }

    /// `a = $b$b`, `b = $c$c`, ...: the text doubles at every level (40 levels would be a
    /// terabyte). Each expansion stops with an error after 10,000 references or 1,000,000 bytes,
    /// quickly; a long value made below the limits still expands whole.
    @Test(arguments: [(40, "x", true), (12, "x", false), (12, String(repeating: "y", count: 300), true)])
    func doublingReferencesStopAtTheLimits(levels: Int, leaf: String, refused: Bool) {
        let lines = (0..<levels).map { "p\($0) = $p\($0 + 1)$p\($0 + 1)" } + ["p\(levels) = \(leaf)"]
        let started = ContinuousClock.now
        let (mainCf, _) = MainCf.parse(lines.joined(separator: "\n"), file: "main.cf")
        let parameters = Parameters(mainCf: mainCf, defaults: [:])
        #expect(ContinuousClock.now - started < .seconds(5))
        let errors = parameters.diagnostics.filter { $0.severity == .error }
        if refused {
            #expect(!errors.isEmpty)
            let limit = leaf.count > 1 ? "expansion longer than 1000000 bytes" : "expansion follows more than 10000 $name references"
            #expect(errors.allSatisfy { $0.message.contains(limit) && $0.location?.file == "main.cf" }, "\(errors)")
            #expect(errors.contains { $0.location?.line == 1 })
        } else {
            #expect(errors.isEmpty, "\(errors)")
            #expect(parameters.value("p0") == String(repeating: leaf, count: 1 << levels))
        }
    }

    @Test func locationIsNilForDefaults() {
        let (mainCf, _) = MainCf.parse("\nsmtpd_helo_required = yes", file: "main.cf")
        let parameters = KnownParameters.parameters(from: mainCf, systemHostname: "mx.example.org", interfaces: [])
        #expect(parameters.location("smtpd_helo_required") == SourceLocation(file: "main.cf", line: 2))
        #expect(parameters.isSet("smtpd_helo_required"))
        #expect(parameters.location("smtpd_delay_reject") == nil)
        #expect(!parameters.isSet("smtpd_delay_reject"))
        #expect(parameters.value("smtpd_delay_reject") == "yes")
        #expect(parameters.value("no_such_parameter") == "")
    }

    @Test func expandOtherText() {
        let (mainCf, _) = MainCf.parse("a = x", file: "main.cf")
        let parameters = Parameters(mainCf: mainCf, defaults: [:])
        let (text, diagnostics) = parameters.expand("<$a$missing>", at: SourceLocation(file: "t", line: 9))
        #expect(text == "<x>")
        #expect(diagnostics.map(\.description) == ["t:9: warning: undefined parameter \"$missing\" expands to an empty string"])
    }
}
