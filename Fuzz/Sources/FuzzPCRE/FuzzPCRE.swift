import FuzzSupport
import HeloPolicy

/// pcre: tables (PCRE2 patterns, flags, if/endif, `$n` results).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPCRE(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let (text, keys) = TableFuzz.split(&input)
    var diagnostics: [ConfigDiagnostic] = []
    guard let table = try? PCRETable.load(spec: "pcre:\(TableFuzz.path)", path: TableFuzz.path,
                                          text: String(decoding: text, as: UTF8.self), diagnostics: &diagnostics)
    else { return 0 }
    TableFuzz.check(table, diagnostics: diagnostics, text: text, keys: keys + ["mail.example.com"])
    return 0
}
