import CPCRE2

/// A Postfix `pcre:` table (pcre_table(5)): Perl-compatible regular expressions (PCRE2, 8-bit,
/// no UTF mode, so patterns and lookup strings are bytes) tried in file order against the
/// whole lookup string in its original case; the first match wins.
///
/// Same rule file grammar as `regexp:` except that there is no `/p1/!/p2/` form. Default
/// options are CASELESS and DOTALL; the flags `i`, `m`, `s`, `x`, `A`, `E`, `U` toggle
/// CASELESS, MULTILINE, DOTALL, EXTENDED, ANCHORED, DOLLAR_ENDONLY and UNGREEDY, and `X`
/// (PCRE1's EXTRA) is ignored with a warning (postfix-helo-semantics §3.8). A pattern PCRE2
/// refuses only loses its own rule, as in `dict_pcre.c`; heloguard reports it as an error.
public struct PCRETable: AccessTable {
    public let spec: String
    public var matchesFixedStrings: Bool { false }
    let rules: PatternRuleSet<PCREPattern>

    /// Parses and compiles the rule file `text` read from `path`; every finding (with
    /// `path:line`) is appended to `diagnostics`. Throws only when PCRE2 itself cannot work
    /// (no memory for match data), where Postfix gives up with a fatal error.
    ///
    /// `matchLimit`: nil keeps PCRE2's limit on backtracking steps (10,000,000 by default), as
    /// Postfix does; the fuzz harness sets a lower one. A match that runs into the limit fails,
    /// and its rule does not apply, as in Postfix.
    public static func load(
        spec: String, path: String, text: String, diagnostics: inout [ConfigDiagnostic],
        matchLimit: UInt32? = nil
    ) throws(ConfigError) -> PCRETable {
        var outOfMemory = false
        let rules = PatternRuleSet<PCREPattern>.load(
            text: text, file: path, dialect: .pcre, diagnostics: &diagnostics,
            compile: { source in
                let result = PCREPattern.compile(source, matchLimit: matchLimit ?? 0)
                if case .failure(let failure) = result, failure.message == PCREPattern.outOfMemory {
                    outOfMemory = true
                }
                return result
            })
        if outOfMemory {
            // The loader has already recorded the error with its file and line.
            throw ConfigError(diagnostics.filter { $0.message.hasPrefix(PCREPattern.outOfMemory) })
        }
        return PCRETable(spec: spec, rules: rules)
    }

    /// The replacement text of every rule, as written (`$n` not filled in), in file order.
    public var resultTexts: [TableResultText] { rules.resultTexts }

    public func lookup(_ key: String) -> TableLookup {
        rules.lookup(key, spec: spec)
    }
}

/// One compiled PCRE2 pattern, released with `pcre2_code_free()` (through the shim) when the
/// last rule using it goes away.
///
/// `@unchecked Sendable`: PCRE2 never writes to compiled code while matching; all per-match
/// state lives in match data that `CPCRE2_match` creates and frees inside each call, so
/// concurrent lookups never share anything mutable.
final class PCREPattern: PatternMatcher, @unchecked Sendable {
    private let code: UnsafeMutableRawPointer
    let groupCount: Int
    /// Backtracking steps allowed per match; 0: PCRE2's default.
    private let matchLimit: UInt32

    static let outOfMemory = "out of memory in pcre2_match_data_create_from_pattern()"

    private init(code: UnsafeMutableRawPointer, matchLimit: UInt32) {
        self.code = code
        self.groupCount = Int(CPCRE2_capture_count(code))
        self.matchLimit = matchLimit
    }

    deinit {
        CPCRE2_free(code)
    }

    /// The PCRE2 compile options for a pattern's options.
    static func options(for options: PatternOptions) -> UInt32 {
        var bits: UInt32 = 0
        if options.contains(.caseless) { bits |= CPCRE2_OPT_CASELESS }
        if options.contains(.multiline) { bits |= CPCRE2_OPT_MULTILINE }
        if options.contains(.dotAll) { bits |= CPCRE2_OPT_DOTALL }
        if options.contains(.extended) { bits |= CPCRE2_OPT_EXTENDED }
        if options.contains(.anchored) { bits |= CPCRE2_OPT_ANCHORED }
        if options.contains(.dollarEndOnly) { bits |= CPCRE2_OPT_DOLLAR_ENDONLY }
        if options.contains(.ungreedy) { bits |= CPCRE2_OPT_UNGREEDY }
        return bits
    }

    /// PCRE2's text for an error code, or Postfix's fallback wording.
    static func errorMessage(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let length = CPCRE2_error_message(code, &buffer, buffer.count)
        guard length > 0 else { return "unexpected pcre2 error code \(code)" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Compiles a pattern; a refusal carries Postfix's text
    /// `error in regex at offset N: <PCRE2 message>`.
    static func compile(_ source: PatternSource, matchLimit: UInt32 = 0) -> Result<PCREPattern, PatternCompileFailure> {
        var errorCode: Int32 = 0
        var errorOffset = 0
        // NUL-terminated so that even an empty pattern has an address; the length excludes it.
        let bytes = source.bytes.map { CChar(bitPattern: $0) } + [0]
        let compiled = bytes.withUnsafeBufferPointer { buffer in
            CPCRE2_compile(buffer.baseAddress, buffer.count - 1, options(for: source.options),
                           &errorCode, &errorOffset)
        }
        guard let compiled else {
            return .failure(PatternCompileFailure(
                message: "error in regex at offset \(errorOffset): \(errorMessage(errorCode))"))
        }
        let pattern = PCREPattern(code: compiled, matchLimit: matchLimit)
        // Postfix creates the match data right after compiling and dies if it cannot; do the
        // same probe so that a table never loads half-working.
        if CPCRE2_match(compiled, "", 0, nil, 0, 0) == CPCRE2_RESULT_NOMEMORY {
            return .failure(PatternCompileFailure(message: outOfMemory))
        }
        return .success(pattern)
    }

    func match(_ subject: [UInt8], groups: Int) -> PatternMatchResult {
        let pairs = groups > 0 ? min(groups, groupCount) + 1 : 0
        var offsets = [Int](repeating: 0, count: max(2 * pairs, 2))
        let chars = subject.map { CChar(bitPattern: $0) } + [0]
        let result = chars.withUnsafeBufferPointer { buffer in
            CPCRE2_match(code, buffer.baseAddress, buffer.count - 1, &offsets, pairs, matchLimit)
        }
        if result == CPCRE2_RESULT_NOMATCH { return .noMatch }
        guard result > 0 else { return .failed(Self.errorMessage(result)) }
        return .matched((0..<pairs).map { pair in
            let start = offsets[2 * pair], end = offsets[2 * pair + 1]
            // CPCRE2_UNSET_OFFSET (SIZE_MAX) reads as -1 through Int.
            return start < 0 || end < start ? nil : start..<end
        })
    }
}
