import FuzzSupport
import HeloPolicy

/// regexp: tables (POSIX patterns, flags, `!/.../` second patterns, if/endif, `$n` results).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRegexp(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let (text, keys) = TableFuzz.split(&input)
    var diagnostics: [ConfigDiagnostic] = []
    let table = RegexpTable.load(spec: "regexp:\(TableFuzz.path)", path: TableFuzz.path,
                                 text: String(decoding: text, as: UTF8.self), diagnostics: &diagnostics)
    TableFuzz.check(table, diagnostics: diagnostics, text: text, keys: keys + ["mail.example.com"])
    return 0
}
