#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A Postfix `regexp:` table (regexp_table(5)): POSIX regular expressions tried in file order
/// against the whole lookup string, in its original case, first match wins.
///
/// Patterns are compiled with the C library's `regcomp()` under the C locale, so they match
/// bytes: `.` is one byte of a UTF-8 HELO, as in Postfix (postfix-helo-semantics §9). Default
/// options are REG_EXTENDED|REG_ICASE; the flags `i`, `x` and `m` toggle REG_ICASE,
/// REG_EXTENDED and REG_NEWLINE. A pattern `regcomp()` refuses only loses its own rule — the
/// table stays usable, exactly as `dict_regexp.c` does — but heloguard reports it as an error.
public struct RegexpTable: AccessTable {
    public let spec: String
    public var matchesFixedStrings: Bool { false }
    let rules: PatternRuleSet<POSIXPattern>

    /// Parses and compiles the rule file `text` read from `path`; every finding (with
    /// `path:line`) is appended to `diagnostics`.
    public static func load(
        spec: String, path: String, text: String, diagnostics: inout [ConfigDiagnostic]
    ) -> RegexpTable {
        let rules = PatternRuleSet<POSIXPattern>.load(
            text: text, file: path, dialect: .regexp, diagnostics: &diagnostics,
            compile: POSIXPattern.compile)
        return RegexpTable(spec: spec, rules: rules)
    }

    /// The replacement text of every rule, as written (`$n` not filled in), in file order.
    public var resultTexts: [TableResultText] { rules.resultTexts }

    public func lookup(_ key: String) -> TableLookup {
        rules.lookup(key, spec: spec)
    }
}

/// The C locale, made once. `regcomp()` builds its case-folding and character tables from
/// the calling thread's locale, so heloguard switches the thread to this locale (and back)
/// around every call instead of trusting whatever locale the process runs in.
nonisolated(unsafe) private let cLocale: locale_t? = newlocale(
    Int32(LC_CTYPE_MASK | LC_COLLATE_MASK | LC_MESSAGES_MASK), "C", nil)

/// REG_NOMATCH: glibc defines it through an enum Swift sees as `_REG_NOMATCH`.
#if canImport(Glibc)
private let regNoMatch = Int32(_REG_NOMATCH.rawValue)
#else
private let regNoMatch = REG_NOMATCH
#endif

private func inCLocale<T>(_ body: () -> T) -> T {
    guard let cLocale else { return body() }
    let previous = uselocale(cLocale)
    defer { uselocale(previous) }
    return body()
}

/// One compiled POSIX pattern, freed with `regfree()` when the last rule using it goes away.
///
/// `@unchecked Sendable`: after `regcomp()` the `regex_t` is only read. glibc's `regexec()`
/// keeps its per-match state on the caller's stack/heap and takes a lock inside the pattern
/// where it must touch shared data, so many threads may match one compiled pattern at once
/// (POSIX requires regexec to be thread-safe as well).
final class POSIXPattern: PatternMatcher, @unchecked Sendable {
    private let regex: UnsafeMutablePointer<regex_t>
    let groupCount: Int

    private init(regex: UnsafeMutablePointer<regex_t>) {
        self.regex = regex
        self.groupCount = Int(regex.pointee.re_nsub)
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    /// The `regcomp()` flags for a pattern's options.
    static func flags(for options: PatternOptions) -> Int32 {
        var flags: Int32 = 0
        if options.contains(.extended) { flags |= REG_EXTENDED }
        if options.contains(.caseless) { flags |= REG_ICASE }
        if options.contains(.multiline) { flags |= REG_NEWLINE }
        return flags
    }

    /// Compiles a pattern; on failure returns the `regerror()` text, which Postfix logs as the
    /// whole warning.
    static func compile(_ source: PatternSource) -> Result<POSIXPattern, PatternCompileFailure> {
        let analysis = RegcompCost.analyze(source.bytes, extended: source.options.contains(.extended))
        guard analysis.stackedRepetitions <= maximumStackedRepetitions else {
            return .failure(PatternCompileFailure(message:
                "\(analysis.stackedRepetitions) repetition operators in a row (at most \(maximumStackedRepetitions)): the C library's regcomp() would take hours to compile this"))
        }
        guard analysis.cost <= RegcompCost.limit else {
            return .failure(PatternCompileFailure(message:
                "pattern too big: the C library's regcomp() would need tens of megabytes or more for it (its memory grows with the square of a repetition count such as {1,1000}, of a run of optional parts, of the number of alternatives)"))
        }
        guard analysis.anchoredPaths <= RegcompCost.pathLimit else {
            return .failure(PatternCompileFailure(message:
                "pattern too slow to compile: the C library's regcomp() would take seconds or more for it (it follows each way through the parts that can match empty after an anchor such as ^ or \\b, and each + or {n,m} on such a part multiplies them, as in ^(a*)+++++)"))
        }
        let regex = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        let cString = source.bytes.map { CChar(bitPattern: $0) } + [0]
        let status = inCLocale { regcomp(regex, cString, flags(for: source.options)) }
        guard status == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            _ = inCLocale { regerror(status, regex, &buffer, buffer.count) }
            regex.deallocate()
            let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return .failure(PatternCompileFailure(message: message))
        }
        return .success(POSIXPattern(regex: regex))
    }

    /// glibc's `regcomp()` takes time exponential in the number of repetition operators stacked
    /// on one atom (`e+++…`: 20 take a second, 30 would take a quarter of an hour), so a table
    /// could stop heloguard (and Postfix) from starting. More than this many are refused.
    static let maximumStackedRepetitions = 8

    func match(_ subject: [UInt8], groups: Int) -> PatternMatchResult {
        let wanted = groups > 0 ? min(groups, groupCount) + 1 : 0
        var slots = [regmatch_t](repeating: regmatch_t(), count: max(wanted, 1))
        let cString = subject.map { CChar(bitPattern: $0) } + [0]
        let status = inCLocale { regexec(regex, cString, wanted, &slots, 0) }
        if status == regNoMatch { return .noMatch }
        guard status == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            _ = regerror(status, regex, &buffer, buffer.count)
            return .failed(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        guard wanted > 0 else { return .matched([]) }
        return .matched(slots.prefix(wanted).map { slot in
            slot.rm_so < 0 ? nil : Int(slot.rm_so)..<Int(slot.rm_eo)
        })
    }
}
