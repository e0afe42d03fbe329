import FuzzSupport
import HeloPolicy

/// pcre: tables (PCRE2 patterns, flags, if/endif, `$n` results). Matching runs under a
/// backtracking limit of 100,000 steps instead of PCRE2's 10,000,000: the seeds hold patterns
/// such as `(.+.)+`, and at the default limit each such lookup costs a sizeable part of a
/// second, which held this target to a few hundred executions a second. Running into the
/// limit takes the same path as in production (the match fails, its rule does not apply).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPCRE(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let (text, keys) = TableFuzz.split(&input)
    var diagnostics: [ConfigDiagnostic] = []
    guard let table = try? PCRETable.load(spec: "pcre:\(TableFuzz.path)", path: TableFuzz.path,
                                          text: String(decoding: text, as: UTF8.self), diagnostics: &diagnostics,
                                          matchLimit: 100_000)
    else { return 0 }
    TableFuzz.check(table, diagnostics: diagnostics, text: text, keys: keys + ["mail.example.com"])
    return 0
}
