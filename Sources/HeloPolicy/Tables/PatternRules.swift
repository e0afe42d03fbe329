import PostfixSyntax

/// The two Postfix pattern-table dialects. Their rule files share one grammar, but Postfix
/// parses them with two separate copies of the code (`dict_regexp.c`, `dict_pcre.c`) that
/// differ in small ways this type records: the option letters, the legacy two-pattern form
/// (regexp only) and a few warning texts.
enum PatternDialect: Sendable {
    case regexp
    case pcre

    /// Options in force before any flag letter is applied (postfix-helo-semantics §3.7, §3.8).
    var defaultOptions: PatternOptions {
        switch self {
        case .regexp: [.caseless, .extended]
        case .pcre: [.caseless, .dotAll]
        }
    }

    /// Only regexp tables accept `/pattern1/flags!/pattern2/flags`; in a pcre table the `!`
    /// is read as an (unknown) option letter.
    var allowsSecondPattern: Bool { self == .regexp }

    /// The verb of the "no closing delimiter" warning, which the two parsers spell differently.
    var unclosedVerb: String { self == .regexp ? "skipping" : "ignoring" }

    /// Whether a backslash that ends the line closes the pattern (regexp) or leaves it
    /// unterminated (pcre) — an accident of the two scanners, kept for identical behaviour.
    var trailingBackslashCloses: Bool { self == .regexp }

    /// The spelling of "out of range" in the warning for `$0`.
    var zeroIndexWording: String { self == .regexp ? "out-of-range" : "out of range" }

    enum FlagEffect {
        case toggle(PatternOptions)
        /// Accepted but without effect, with this warning (pcre's `X`, gone in PCRE2).
        case ignored(String)
    }

    /// What one option letter after the closing delimiter does; nil for an unknown letter.
    func flag(_ letter: UInt8) -> FlagEffect? {
        switch (self, letter) {
        case (_, UInt8(ascii: "i")): .toggle(.caseless)
        case (_, UInt8(ascii: "m")): .toggle(.multiline)
        case (_, UInt8(ascii: "x")): .toggle(.extended)
        case (.pcre, UInt8(ascii: "s")): .toggle(.dotAll)
        case (.pcre, UInt8(ascii: "A")): .toggle(.anchored)
        case (.pcre, UInt8(ascii: "E")): .toggle(.dollarEndOnly)
        case (.pcre, UInt8(ascii: "U")): .toggle(.ungreedy)
        case (.pcre, UInt8(ascii: "X")): .ignored("ignoring obsolete regexp option \"X\"")
        default: nil
        }
    }
}

/// Compile options of one pattern, engine-neutral. For regexp tables `extended` is
/// REG_EXTENDED and `multiline` is REG_NEWLINE; for pcre tables they are PCRE2_EXTENDED and
/// PCRE2_MULTILINE. `dotAll`, `anchored`, `dollarEndOnly` and `ungreedy` exist only for pcre.
struct PatternOptions: OptionSet, Sendable, Hashable {
    let rawValue: UInt32
    static let caseless = PatternOptions(rawValue: 1 << 0)
    static let multiline = PatternOptions(rawValue: 1 << 1)
    static let extended = PatternOptions(rawValue: 1 << 2)
    static let dotAll = PatternOptions(rawValue: 1 << 3)
    static let anchored = PatternOptions(rawValue: 1 << 4)
    static let dollarEndOnly = PatternOptions(rawValue: 1 << 5)
    static let ungreedy = PatternOptions(rawValue: 1 << 6)
}

/// One pattern as written in a rule: the bytes between the delimiters (backslashes kept, as
/// Postfix hands them to the engine unchanged), its options and whether it is negated.
struct PatternSource: Sendable, Equatable {
    var bytes: [UInt8]
    var options: PatternOptions
    var negated: Bool

    /// The pattern as text, for messages and tests.
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

/// A compiled pattern that can be matched from any thread.
protocol PatternMatcher: Sendable {
    /// Number of capturing groups in the pattern.
    var groupCount: Int { get }
    /// Matches the whole subject (bytes, no terminating NUL). On a match returns the byte
    /// ranges of group 0 through `groups` (nil for a group that took no part).
    func match(_ subject: [UInt8], groups: Int) -> PatternMatchResult
}

/// The outcome of one match attempt.
enum PatternMatchResult: Sendable, Equatable {
    case matched([Range<Int>?])
    case noMatch
    /// The engine failed (e.g. a PCRE2 resource limit). Postfix logs a warning and treats
    /// the condition as false, whichever way the rule is negated.
    case failed(String)
}

/// The result text of a rule, split into literal bytes and `$n` references; `$$` has already
/// become `$`. Built with Postfix's `mac_parse()` rules: `$name` takes letters, digits and
/// `_`, `${...}` and `$(...)` take everything up to the balancing bracket, and each name
/// must consist of digits only and be at least 1.
struct PatternReplacement: Sendable, Equatable {
    enum Piece: Sendable, Equatable {
        case literal([UInt8])
        case group(Int)
    }

    let pieces: [Piece]

    /// The result text as written in the rule: `$n` references unexpanded, `$$` still doubled.
    let text: String

    /// The largest group number used, 0 when the text is constant. Kept as Postfix's
    /// unsigned value so that absurd indexes end up "out of range" as they do there.
    let highestGroup: UInt64

    /// The empty result, which Postfix accepts at load time and treats as an error at lookup.
    var isEmpty: Bool { pieces.isEmpty }

    /// Splits `text`; nil after a syntax error, which has been reported in `problems`
    /// (each a message without place; the caller adds file and line).
    static func parse(_ text: [UInt8], dialect: PatternDialect, problems: inout [String]) -> PatternReplacement? {
        var pieces: [Piece] = []
        var literal: [UInt8] = []
        var failed = false
        var highest: UInt64 = 0
        let shown = String(decoding: text, as: UTF8.self)
        let dollar = UInt8(ascii: "$")
        var i = 0

        scan: while i < text.count {
            let byte = text[i]
            if byte != dollar {
                literal.append(byte)
                i += 1
                continue
            }
            if i + 1 < text.count, text[i + 1] == dollar {
                literal.append(dollar)
                i += 2
                continue
            }
            if !literal.isEmpty {
                pieces.append(.literal(literal))
                literal = []
            }
            i += 1
            var name: ArraySlice<UInt8>
            if i < text.count, text[i] == UInt8(ascii: "(") || text[i] == UInt8(ascii: "{") {
                let open = text[i]
                let close = open == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "}")
                i += 1
                var depth = 1
                var end = i
                while depth > 0 {
                    if end == text.count {
                        problems.append("truncated macro reference: \"\(shown)\"")
                        failed = true
                        break scan
                    }
                    if text[end] == open { depth += 1 }
                    if text[end] == close { depth -= 1 }
                    end += 1
                }
                name = text[i..<(end - 1)]
                i = end
            } else {
                var end = i
                while end < text.count, CLocale.isAlnum(text[end]) || text[end] == UInt8(ascii: "_") {
                    end += 1
                }
                name = text[i..<end]
                i = end
            }
            if name.isEmpty {
                problems.append("empty macro name: \"\(shown)\"")
                failed = true
                break scan
            }
            let nameText = String(decoding: name, as: UTF8.self)
            // Like mac_parse, a bad name marks the text as broken but the scan goes on, so
            // every bad name of the line is reported.
            guard name.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                problems.append("non-numeric replacement index \"\(nameText)\"")
                failed = true
                continue
            }
            let index = postfixIndex(name)
            if index < 1 {
                problems.append("\(dialect.zeroIndexWording) replacement index \"\(nameText)\"")
                failed = true
                continue
            }
            highest = max(highest, index)
            pieces.append(.group(Int(clamping: index)))
        }
        if failed { return nil }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return PatternReplacement(pieces: pieces, text: shown, highestGroup: highest)
    }

    /// The result for one match: literal text with each `$n` replaced by the bytes group `n`
    /// captured from `subject` (nothing when the group took no part or matched nothing).
    func expand(subject: [UInt8], groups: [Range<Int>?]) -> String {
        var out: [UInt8] = []
        for piece in pieces {
            switch piece {
            case .literal(let bytes):
                out += bytes
            case .group(let n):
                if n < groups.count, let range = groups[n], !range.isEmpty {
                    out += subject[range]
                }
            }
        }
        // A group can end inside a multi-byte character (pattern tables match bytes); such a
        // fragment cannot be held in a String and shows up as U+FFFD.
        return String(decoding: out, as: UTF8.self)
    }

    /// `atoi()` as Postfix applies it to a digit string, seen as the `size_t` it is stored
    /// in: the value saturates at the long range, is cut to an int, and a negative int
    /// becomes a huge unsigned number.
    private static func postfixIndex(_ digits: ArraySlice<UInt8>) -> UInt64 {
        var value: Int64 = 0
        for digit in digits {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(digit - UInt8(ascii: "0")))
            if o1 || o2 { value = .max; break }
            value = sum
        }
        let asInt = Int32(truncatingIfNeeded: value)
        return UInt64(bitPattern: Int64(asInt))
    }
}

/// A loaded regexp: or pcre: rule file: the rules in file order, each already compiled, and
/// the lookup walk Postfix performs over them.
///
/// Loading follows `dict_regexp_open()`/`dict_pcre_open()`: a rule with any problem is
/// skipped with a diagnostic naming file and line (the first line of the logical line) and
/// the rest of the file still counts. A pattern the engine refuses is reported as an error,
/// because the rule silently never applies; everything else is a warning, as in Postfix.
struct PatternRuleSet<Matcher: PatternMatcher>: Sendable {
    /// A condition: a compiled pattern, possibly negated.
    struct Condition: Sendable {
        let matcher: Matcher
        let negated: Bool
    }

    enum Rule: Sendable {
        /// `[!]/first/ [!/second/] result`: the first and (legacy) second pattern must both
        /// hold; `replacement.highestGroup` groups of the first are made available.
        case match(first: Condition, second: Condition?, replacement: PatternReplacement, line: Int)
        /// `if [!]/pattern/`: when the condition fails the walk continues after the rule at
        /// `endif`, or ends (not found) when the block was never closed.
        case ifBlock(Condition, endif: Int?, line: Int)
        case endif(line: Int)
    }

    let rules: [Rule]

    /// The replacement text of every match rule, as written, in file order.
    var resultTexts: [TableResultText] {
        rules.compactMap { rule in
            guard case .match(_, _, let replacement, let line) = rule else { return nil }
            return TableResultText(text: replacement.text, line: line)
        }
    }

    /// Reads a rule file. `compile` turns one pattern into a matcher or returns the engine's
    /// complaint (reported as an error for that line).
    static func load(
        text: String, file: String, dialect: PatternDialect,
        diagnostics: inout [ConfigDiagnostic],
        compile: (PatternSource) -> Result<Matcher, PatternCompileFailure>
    ) -> PatternRuleSet {
        var rules: [Rule] = []
        var openIfs: [Int] = []   // indexes in `rules` of the if rules not yet closed

        let lines = LogicalLines.all(in: Array(text.utf8)) { diagnostics.append(.logicalLine($0, file: file)) }
        for logical in lines {
            var bytes = Array(logical.text.utf8)
            while let last = bytes.last, CLocale.isSpace(last) { bytes.removeLast() }
            if bytes.isEmpty { continue }
            var parser = LineParser<Matcher>(
                bytes: bytes, dialect: dialect,
                location: SourceLocation(file: file, line: logical.line))
            defer { diagnostics += parser.diagnostics }

            switch parser.parse(openIfs: openIfs.count, compile: compile) {
            case nil:
                continue
            case .match(let first, let second, let replacement)?:
                rules.append(.match(first: first, second: second, replacement: replacement, line: logical.line))
            case .ifBlock(let condition)?:
                openIfs.append(rules.count)
                rules.append(.ifBlock(condition, endif: nil, line: logical.line))
            case .endif?:
                let opener = openIfs.removeLast()
                if case .ifBlock(let condition, _, let line) = rules[opener] {
                    rules[opener] = .ifBlock(condition, endif: rules.count, line: line)
                }
                rules.append(.endif(line: logical.line))
            }
        }
        for opener in openIfs.reversed() {
            if case .ifBlock(_, _, let line) = rules[opener] {
                diagnostics.append(.warning(SourceLocation(file: file, line: line), "IF has no matching ENDIF"))
            }
        }
        return PatternRuleSet(rules: rules)
    }

    /// Postfix's lookup walk: the first match rule that holds gives the result; an `if` whose
    /// condition fails skips to its `endif`. `spec` and `key` only feed the error text for an
    /// empty result, which Postfix's `maps_find()` refuses (postfix-helo-semantics §3.2).
    func lookup(_ key: String, spec: String) -> TableLookup {
        // Postfix hands the engines a C string: anything after a NUL byte is invisible.
        var subject = Array(key.utf8)
        if let nul = subject.firstIndex(of: 0) { subject.removeSubrange(nul...) }

        var index = 0
        while index < rules.count {
            switch rules[index] {
            case .match(let first, let second, let replacement, let line):
                let wanted = Int(clamping: replacement.highestGroup)
                guard let groups = Self.holds(first, subject, groups: wanted) else { break }
                if let second, Self.holds(second, subject, groups: 0) == nil { break }
                let value = replacement.expand(subject: subject, groups: groups)
                if value.isEmpty {
                    return .failed(reason: "\(spec) lookup of \(key) returns an empty string result")
                }
                return .found(value: value, line: line)
            case .ifBlock(let condition, let endif, _):
                if Self.holds(condition, subject, groups: 0) != nil { break }
                guard let endif else { return .notFound }
                index = endif
            case .endif:
                break
            }
            index += 1
        }
        return .notFound
    }

    /// Whether a condition holds; for a positive pattern also the captured groups.
    private static func holds(_ condition: Condition, _ subject: [UInt8], groups: Int) -> [Range<Int>?]? {
        switch condition.matcher.match(subject, groups: groups) {
        case .matched(let captured): condition.negated ? nil : captured
        case .noMatch: condition.negated ? [] : nil
        case .failed: nil
        }
    }
}

/// Why an engine refused a pattern; `message` is what Postfix logs after `file, line N:`.
struct PatternCompileFailure: Error, Sendable, Equatable {
    let message: String
}

/// Parses one logical line (trailing blanks already removed) of a pattern table.
private struct LineParser<Matcher: PatternMatcher> {
    enum Parsed {
        case match(PatternRuleSet<Matcher>.Condition, PatternRuleSet<Matcher>.Condition?, PatternReplacement)
        case ifBlock(PatternRuleSet<Matcher>.Condition)
        case endif
    }

    let bytes: [UInt8]
    let dialect: PatternDialect
    let location: SourceLocation
    var diagnostics: [ConfigDiagnostic] = []
    var position = 0

    init(bytes: [UInt8], dialect: PatternDialect, location: SourceLocation) {
        self.bytes = bytes
        self.dialect = dialect
        self.location = location
    }

    private mutating func warn(_ message: String) {
        diagnostics.append(.warning(location, message))
    }

    private var atEnd: Bool { position >= bytes.count }
    private var current: UInt8? { atEnd ? nil : bytes[position] }

    private mutating func skipSpace() {
        while let byte = current, CLocale.isSpace(byte) { position += 1 }
    }

    private func hasKeyword(_ word: String) -> Bool {
        let letters = Array(word.utf8)
        guard bytes.count >= letters.count else { return false }
        for (offset, letter) in letters.enumerated() where bytes[offset] | 0x20 != letter | 0x20 {
            return false
        }
        return bytes.count == letters.count || !CLocale.isAlnum(bytes[letters.count])
    }

    mutating func parse(
        openIfs: Int, compile: (PatternSource) -> Result<Matcher, PatternCompileFailure>
    ) -> Parsed? {
        guard let first = bytes.first else { return nil }
        if !CLocale.isAlnum(first) {
            return parseMatchRule(compile: compile)
        }
        if hasKeyword("if") {
            position = 2
            skipSpace()
            guard let pattern = parsePattern() else { return nil }
            skipSpace()
            if !atEnd {
                let rest = String(decoding: bytes[position...], as: UTF8.self)
                warn("ignoring extra text after IF statement: \"\(rest)\"")
                warn("do not prepend whitespace to statements between IF and ENDIF")
            }
            guard let matcher = compiled(pattern, compile) else { return nil }
            return .ifBlock(.init(matcher: matcher, negated: pattern.negated))
        }
        if hasKeyword("endif") {
            position = 5
            if openIfs == 0 {
                warn("ignoring ENDIF without matching IF")
                return nil
            }
            skipSpace()
            if !atEnd { warn("ignoring extra text after ENDIF") }
            return .endif
        }
        warn("ignoring unrecognized request")
        return nil
    }

    private mutating func parseMatchRule(
        compile: (PatternSource) -> Result<Matcher, PatternCompileFailure>
    ) -> Parsed? {
        guard let firstPattern = parsePattern() else { return nil }
        var secondPattern: PatternSource? = nil
        if dialect.allowsSecondPattern, current == UInt8(ascii: "!") {
            guard let pattern = parsePattern() else { return nil }
            secondPattern = pattern
        }
        skipSpace()
        if atEnd {
            // Postfix only warns here, but every lookup that reaches this rule then fails
            // (an empty result is an error), so check-config treats it as an error.
            diagnostics.append(.error(location, "no replacement text: using empty string (every lookup that reaches this rule fails)"))
        }

        var problems: [String] = []
        let parsed = PatternReplacement.parse(Array(bytes[position...]), dialect: dialect, problems: &problems)
        problems.forEach { warn($0) }
        guard let replacement = parsed else {
            warn("bad replacement syntax: skipping this rule")
            return nil
        }
        if replacement.highestGroup > 0, firstPattern.negated {
            warn("$number found in negative match replacement text: skipping this rule")
            return nil
        }
        guard let firstMatcher = compiled(firstPattern, compile) else { return nil }
        if replacement.highestGroup > UInt64(firstMatcher.groupCount) {
            // Postfix prints the index through an int conversion.
            let shown = Int32(truncatingIfNeeded: replacement.highestGroup)
            warn("out of range replacement index \"\(shown)\": skipping this rule")
            return nil
        }
        var second: PatternRuleSet<Matcher>.Condition? = nil
        if let secondPattern {
            guard let matcher = compiled(secondPattern, compile) else { return nil }
            second = .init(matcher: matcher, negated: secondPattern.negated)
        }
        return .match(.init(matcher: firstMatcher, negated: firstPattern.negated), second, replacement)
    }

    private mutating func compiled(
        _ pattern: PatternSource, _ compile: (PatternSource) -> Result<Matcher, PatternCompileFailure>
    ) -> Matcher? {
        switch compile(pattern) {
        case .success(let matcher):
            return matcher
        case .failure(let failure):
            diagnostics.append(.error(location, "\(failure.message): skipping this rule"))
            return nil
        }
    }

    /// `[!...]<delim>pattern<delim>flags`: leading `!`s (and blanks) toggle negation, the
    /// delimiter is the next byte, a backslash protects the byte after it, and the flags run
    /// to the next blank (for regexp also to a `!` that starts a second pattern).
    private mutating func parsePattern() -> PatternSource? {
        var negated = false
        while let byte = current, byte == UInt8(ascii: "!") || CLocale.isSpace(byte) {
            if byte == UInt8(ascii: "!") { negated.toggle() }
            position += 1
        }
        guard let delimiter = current else {
            warn("no regexp: skipping this rule")
            return nil
        }
        position += 1
        let start = position
        while let byte = current {
            if byte == UInt8(ascii: "\\") {
                if position + 1 >= bytes.count {
                    // A backslash as the last byte: dict_regexp.c stops on it and then
                    // treats it as the closing delimiter; dict_pcre.c runs off the end.
                    if !dialect.trailingBackslashCloses { position = bytes.count }
                    break
                }
                position += 2
                continue
            }
            if byte == delimiter { break }
            position += 1
        }
        guard !atEnd else {
            let shown = delimiter < 0x80
                ? String(UnicodeScalar(delimiter)) : String(decoding: [delimiter], as: UTF8.self)
            warn("no closing regexp delimiter \"\(shown)\": \(dialect.unclosedVerb) this rule")
            return nil
        }
        let pattern = Array(bytes[start..<position])
        position += 1

        var options = dialect.defaultOptions
        while let byte = current, !CLocale.isSpace(byte),
              !(dialect.allowsSecondPattern && byte == UInt8(ascii: "!")) {
            switch dialect.flag(byte) {
            case .toggle(let option)?:
                options.formSymmetricDifference(option)
            case .ignored(let message)?:
                warn(message)
            case nil:
                let shown = byte < 0x80
                    ? String(UnicodeScalar(byte)) : String(decoding: [byte], as: UTF8.self)
                warn("unknown regexp option \"\(shown)\": skipping this rule")
                return nil
            }
            position += 1
        }
        return PatternSource(bytes: pattern, options: options, negated: negated)
    }
}
