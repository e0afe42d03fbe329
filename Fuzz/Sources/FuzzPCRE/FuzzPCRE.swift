import FuzzSupport
import HeloPolicy

/// pcre: tables (PCRE2 patterns, flags, if/endif, `$n` results). Matching runs under a
/// backtracking limit of 10,000 steps instead of PCRE2's 10,000,000: the seeds hold patterns
/// such as `(.+.)+`, and PCRE2 copies a frame as wide as the pattern's capture groups at each
/// step, so the corpus drifts towards many-group patterns that run into any limit. At 100,000
/// this target fell from 3,500 to 430 executions a second (nearly all of it memcpy in
/// pcre2_match). Running into the limit takes the same path as in production (the match
/// fails, its rule does not apply).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPCRE(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let (text, keys) = TableFuzz.split(&input)
    var diagnostics: [ConfigDiagnostic] = []
    guard let table = try? PCRETable.load(spec: "pcre:\(TableFuzz.path)", path: TableFuzz.path,
                                          text: String(decoding: text, as: UTF8.self), diagnostics: &diagnostics,
                                          matchLimit: 10_000)
    else { return 0 }
    TableFuzz.check(table, diagnostics: diagnostics, text: text, keys: keys + ["mail.example.com"])
    return 0
}
