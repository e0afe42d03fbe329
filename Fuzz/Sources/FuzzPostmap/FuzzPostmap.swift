import FuzzSupport
import HeloPolicy

/// Postmap source files (hash:, btree:, ... read from their source text) and texthash:.
/// The first input byte chooses the kind.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPostmap(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    var input = FuzzInput(data + 1, size - 1)
    let kind: FixedStringTable.Kind = data[0] & 1 == 0 ? .hash : .texthash
    let (text, keys) = TableFuzz.split(&input)
    var diagnostics: [ConfigDiagnostic] = []
    let table = FixedStringTable.load(kind, spec: "\(kind.rawValue):\(TableFuzz.path)", path: TableFuzz.path,
                                      contents: text, diagnostics: &diagnostics)
    TableFuzz.check(table, diagnostics: diagnostics, text: text, keys: keys)
    return 0
}
