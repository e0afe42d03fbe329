/// Configuration parameter values after `$name` expansion: the main.cf assignments layered over a
/// table of defaults, every value expanded once when the configuration is loaded.
///
/// Expansion follows Postfix's `mac_parse()`/`mac_expand()` as used for main.cf (recursive mode):
///
/// - `$name`, `${name}` and `$(name)` insert the value of `name`, itself expanded again; a name
///   is `[A-Za-z0-9_]+`, and inside braces white space around it is allowed.
/// - `$$` stands for one `$`; it is never expanded again.
/// - `${name?text}` gives `text` (expanded) when `name` is non-empty, else nothing;
///   `${name:text}` gives `text` when `name` is empty or undefined, else nothing;
///   `${name?{text1}:{text2}}` (or `...:text2`) chooses between the two. Unbraced text runs to the
///   closing brace, so `${x?a:b}` gives `a:b` when `x` is non-empty. Braced text keeps its white
///   space; white space around the braces is skipped.
/// - An undefined name expands to the empty string. Postfix does that silently; heloguard adds a
///   warning naming the assignment whose value refers to it.
/// - More than 100 nested expansions (a reference loop such as `a = $b`, `b = $a`) stop with an
///   error instead of hanging; Postfix stops with "unreasonable macro call nesting" too.
/// - An expansion longer than 1,000,000 bytes, or that follows more than 10,000 references, stops
///   with an error. References that each use the next one twice (`a = $b$b`, `b = $c$c`, ...)
///   double the text at every level: 30 short lines would make a gigabyte. Postfix has no such
///   limit, but expands only the parameters it uses.
/// - Syntax errors (`${x`, a lone `$`, `${a b}`, garbage after `${x?{a}}`) are errors, as they are
///   fatal in Postfix. Postfix's relational expressions (`${{a} == {b}?...}`) and named functions
///   (`${name{text}}`) are refused as not supported, never silently ignored.
///
/// Parameters named in `rawNames` are used without expansion (Postfix reads those with
/// `get_mail_conf_raw()`, e.g. `default_rbl_reply`, whose `$rbl_code` is filled in at reply time).
public struct Parameters: Sendable {
    public let mainCf: MainCf
    public let defaults: [String: String]
    public let rawNames: Set<String>
    /// Warnings and errors found while expanding, each naming the assignment it concerns.
    public let diagnostics: [ConfigDiagnostic]
    private let expanded: [String: String]

    public init(mainCf: MainCf, defaults: [String: String], rawNames: Set<String> = []) {
        self.mainCf = mainCf
        self.defaults = defaults
        self.rawNames = rawNames
        var values: [String: String] = [:]
        var diagnostics: [ConfigDiagnostic] = []
        var seen = Set<ConfigDiagnostic>()
        let names = Set(mainCf.entries.keys).union(defaults.keys)
        for name in names.sorted() {
            let location = mainCf[name]?.location
            let raw = mainCf[name]?.rawValue ?? defaults[name] ?? ""
            if rawNames.contains(name) {
                values[name] = raw
                continue
            }
            var expander = MacroExpander(
                lookup: { mainCf[$0]?.rawValue ?? defaults[$0] },
                rawNames: rawNames)
            expander.expand(raw, owner: name)
            values[name] = expander.output
            for finding in expander.findings {
                let diagnostic = Self.diagnostic(for: finding, topName: name, topLocation: location, mainCf: mainCf)
                if seen.insert(diagnostic).inserted { diagnostics.append(diagnostic) }
            }
        }
        self.expanded = values
        self.diagnostics = diagnostics.sorted { lhs, rhs in
            (lhs.location?.file ?? "", lhs.location?.line ?? 0) < (rhs.location?.file ?? "", rhs.location?.line ?? 0)
        }
    }

    /// The expanded value; the empty string for a name that is neither set nor defaulted.
    public func value(_ name: String) -> String {
        expanded[name] ?? ""
    }

    /// The value as written in the file, or the default, before expansion.
    public func rawValue(_ name: String) -> String? {
        mainCf[name]?.rawValue ?? defaults[name]
    }

    /// Where the value in force was assigned; nil when it is the default.
    public func location(_ name: String) -> SourceLocation? {
        mainCf[name]?.location
    }

    /// True when the configuration file assigns the parameter.
    public func isSet(_ name: String) -> Bool {
        mainCf[name] != nil
    }

    /// Expands other text (a table's right-hand side, a command-line value) with these
    /// parameters; findings are reported at `location`.
    public func expand(_ text: String, at location: SourceLocation?) -> (String, [ConfigDiagnostic]) {
        var expander = MacroExpander(lookup: { mainCf[$0]?.rawValue ?? defaults[$0] }, rawNames: rawNames)
        expander.expand(text, owner: nil)
        let findings = expander.findings.map { finding -> ConfigDiagnostic in
            ConfigDiagnostic(finding.isError ? .error : .warning, at: location, finding.message)
        }
        return (expander.output, findings)
    }

    /// Findings are attributed to the assignment whose text holds the problem when it is in the
    /// file, otherwise to the parameter being expanded.
    private static func diagnostic(
        for finding: MacroExpander.Finding, topName: String, topLocation: SourceLocation?, mainCf: MainCf
    ) -> ConfigDiagnostic {
        let owner = finding.owner.flatMap { mainCf[$0] != nil ? $0 : nil } ?? topName
        let location = mainCf[owner]?.location ?? topLocation
        return ConfigDiagnostic(finding.isError ? .error : .warning, at: location,
                                "parameter \"\(owner)\": \(finding.message)")
    }
}

/// The expansion engine behind `Parameters`: a byte-level rendition of Postfix's `mac_parse()`
/// tokenizer and `mac_expand()` callback, in recursive mode for main.cf values and in
/// Postfix's non-recursive mode (`MAC_EXP_FLAG_NONE` with a filter) for reply templates.
struct MacroExpander {
    /// How a `$name` value is inserted.
    enum Mode {
        /// main.cf: the value is expanded again; an undefined name is a warning.
        case recursive
        /// Reply templates (`default_rbl_reply`): the value is inserted as it is, except that
        /// bytes outside `filter` become `_`; an unknown name is logged as Postfix's
        /// `smtpd_expand_lookup()` logs it, and using one plainly fails the expansion.
        case once(filter: ExpansionFilter)
    }

    struct Finding: Hashable {
        let isError: Bool
        /// The parameter whose value contains the problem (nil: the top-level text).
        let owner: String?
        let message: String
    }

    /// Postfix's limit on nested expansions.
    static let nestingLimit = 100
    /// heloguard's limits on one expansion: its length in bytes, the references it follows.
    static let lengthLimit = 1_000_000
    static let referenceLimit = 10_000

    let lookup: (String) -> String?
    let rawNames: Set<String>
    let mode: Mode
    private var result: [UInt8] = []
    private(set) var findings: [Finding] = []
    /// True when a plain `$name` named something the lookup does not know (Postfix's
    /// `MAC_PARSE_UNDEF`); only recorded in `.once` mode.
    private(set) var usedUndefinedName = false
    private var level = 0
    private var references = 0
    private var failed = false

    init(lookup: @escaping (String) -> String?, rawNames: Set<String>, mode: Mode = .recursive) {
        self.lookup = lookup
        self.rawNames = rawNames
        self.mode = mode
    }

    var output: String { String(decoding: result, as: UTF8.self) }

    mutating func expand(_ text: String, owner: String?) {
        parse(Array(text.utf8), owner: owner)
    }

    private static let space: Set<UInt8> = [0x20, 0x09, 0x0D, 0x0A]
    private static let dollar = UInt8(ascii: "$")

    private mutating func fail(_ owner: String?, _ message: String) {
        if !failed { findings.append(Finding(isError: true, owner: owner, message: message)) }
        failed = true
    }

    /// Adds expanded text to the result, failing once the result is longer than `lengthLimit`.
    private mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        result += bytes
        if result.count > Self.lengthLimit {
            fail(nil, "expansion longer than \(Self.lengthLimit) bytes (do $name references use each other more than once, doubling at every level?)")
        }
    }

    /// `mac_parse()`: split into literal text and `$` expressions.
    private mutating func parse(_ text: [UInt8], owner: String?) {
        let whole = String(decoding: text, as: UTF8.self)
        var literal: [UInt8] = []
        var index = 0
        while index < text.count, !failed {
            let byte = text[index]
            if byte != Self.dollar {
                literal.append(byte)
                index += 1
                continue
            }
            if index + 1 < text.count, text[index + 1] == Self.dollar {
                literal.append(Self.dollar)
                index += 2
                continue
            }
            append(literal)
            literal.removeAll()
            index += 1
            var expression: [UInt8]
            if index < text.count, text[index] == UInt8(ascii: "(") || text[index] == UInt8(ascii: "{") {
                let open = text[index]
                let close = open == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "}")
                var depth = 1
                var end = index + 1
                while end < text.count {
                    if text[end] == open { depth += 1 }
                    if text[end] == close { depth -= 1; if depth == 0 { break } }
                    end += 1
                }
                guard depth == 0 else {
                    fail(owner, "truncated macro reference: \"\(whole)\"")
                    return
                }
                expression = Array(text[(index + 1)..<end])
                index = end + 1
            } else {
                var end = index
                while end < text.count, MainCf.isNameByte(text[end]) { end += 1 }
                expression = Array(text[index..<end])
                index = end
            }
            if expression.isEmpty {
                fail(owner, "empty macro name: \"\(whole)\"")
                return
            }
            evaluate(expression, owner: owner)
        }
        if !failed { append(literal) }
    }

    private func skipSpace(_ text: [UInt8], _ index: Int) -> Int {
        var index = index
        while index < text.count, Self.space.contains(text[index]) { index += 1 }
        return index
    }

    /// `{...}` at `index` (already at the brace): the payload and the index after trailing space.
    private mutating func curlyPayload(_ text: [UInt8], at index: Int, owner: String?) -> ([UInt8], Int)? {
        var depth = 1
        var end = index + 1
        while end < text.count {
            if text[end] == UInt8(ascii: "{") { depth += 1 }
            if text[end] == UInt8(ascii: "}") { depth -= 1; if depth == 0 { break } }
            end += 1
        }
        guard end < text.count else {
            fail(owner, "unbalanced {} in attribute expression: \"\(String(decoding: text[index...], as: UTF8.self))\"")
            return nil
        }
        return (Array(text[(index + 1)..<end]), skipSpace(text, end + 1))
    }

    /// `mac_expand_callback()` for one expression (the text after `$`, without its brackets).
    private mutating func evaluate(_ text: [UInt8], owner: String?) {
        level += 1
        defer { level -= 1 }
        references += 1
        if references > Self.referenceLimit {
            fail(nil, "expansion follows more than \(Self.referenceLimit) $name references (do they use each other more than once, doubling at every level?)")
            return
        }
        if level > Self.nestingLimit {
            fail(nil, "unreasonable macro call nesting: \"\(String(decoding: text, as: UTF8.self))\" (a loop of $name references?)")
            return
        }
        guard let (name, op, index) = nameAndOperator(text, owner: owner) else { return }
        let value = lookup(name)
        if value == nil, case .once = mode {
            findings.append(Finding(isError: false, owner: owner, message: "unknown macro name \"\(name)\" in expansion request"))
        }
        let nonEmpty = !(value ?? "").isEmpty
        switch op {
        case UInt8(ascii: "?"):
            conditional(text, from: index, nonEmpty: nonEmpty, owner: owner)
        case UInt8(ascii: ":"):
            otherwise(text, from: index, nonEmpty: nonEmpty, owner: owner)
        default:
            substitute(name, value, owner: owner)
        }
    }

    /// The name at the start of an expression and the operator after it (`?`, `:`, or 0 for
    /// none), with the index after the operator; nil (reported) for what heloguard does not take.
    private mutating func nameAndOperator(_ text: [UInt8], owner: String?) -> (name: String, op: UInt8, next: Int)? {
        let shown = String(decoding: text, as: UTF8.self)
        var index = skipSpace(text, 0)
        if index < text.count, text[index] == UInt8(ascii: "{") {
            fail(owner, "relational expressions such as \"${\(shown)}\" are not supported by heloguard")
            return nil
        }
        let nameStart = index
        while true {
            let afterSpace = skipSpace(text, index)
            if afterSpace == text.count {
                return (String(decoding: text[nameStart..<index], as: UTF8.self), 0, index)
            }
            let next = text[afterSpace]
            if next == UInt8(ascii: "?") || next == UInt8(ascii: ":") {
                return (String(decoding: text[nameStart..<index], as: UTF8.self), next, afterSpace + 1)
            }
            if next == UInt8(ascii: "{") {
                fail(owner, "functions such as \"${\(shown)}\" are not supported by heloguard")
                return nil
            }
            guard MainCf.isNameByte(text[index]) else {
                fail(owner, "attribute name syntax error at: \"...\(String(decoding: text[..<index], as: UTF8.self))>>>\(String(decoding: text[index...].prefix(20), as: UTF8.self))\"")
                return nil
            }
            index += 1
        }
    }

    /// The text of an operand at `start`: a `{...}` payload, or the rest of the expression;
    /// with the index after it.
    private mutating func operand(_ text: [UInt8], _ start: Int, owner: String?) -> (text: [UInt8], next: Int)? {
        let brace = skipSpace(text, start)
        if brace < text.count, text[brace] == UInt8(ascii: "{") {
            return curlyPayload(text, at: brace, owner: owner)
        }
        return (Array(text[start...]), text.count)
    }

    /// `$name?value` or `${name?{value}:{other}}`: the first if the value is not empty, else the second.
    private mutating func conditional(_ text: [UInt8], from index: Int, nonEmpty: Bool, owner: String?) {
        guard let (ifTrue, next) = operand(text, index, owner: owner) else { return }
        if nonEmpty { parse(ifTrue, owner: owner) }
        if next == text.count || failed { return }
        guard text[next] == UInt8(ascii: ":") else {
            fail(owner, "\":\" expected at: \"...\(String(decoding: ifTrue, as: UTF8.self))}>>>\(String(decoding: text[next...].prefix(20), as: UTF8.self))\"")
            return
        }
        otherwise(text, from: next + 1, nonEmpty: nonEmpty, owner: owner)
    }

    /// `$name:value` (or the `:{other}` part of a conditional): the operand when the value is empty.
    private mutating func otherwise(_ text: [UInt8], from index: Int, nonEmpty: Bool, owner: String?) {
        guard let (ifFalse, end) = operand(text, index, owner: owner) else { return }
        if end != text.count {
            fail(owner, "unexpected input at: \"...\(String(decoding: ifFalse, as: UTF8.self))}>>>\(String(decoding: text[end...].prefix(20), as: UTF8.self))\"")
            return
        }
        if !nonEmpty { parse(ifFalse, owner: owner) }
    }

    /// A plain `$name`: its value expanded in turn (recursive mode) or filtered (once).
    private mutating func substitute(_ name: String, _ value: String?, owner: String?) {
        switch mode {
        case .recursive:
            guard let value else {
                findings.append(Finding(isError: false, owner: owner,
                    message: "undefined parameter \"$\(name)\" expands to an empty string"))
                return
            }
            if !value.isEmpty { parse(Array(value.utf8), owner: name) }
        case .once(let filter):
            guard let value else {
                usedUndefinedName = true
                return
            }
            append(filter.apply(value.utf8))
        }
    }
}
