import FuzzSupport
import HeloPolicy

/// cidr: tables (address/prefix patterns, if/endif blocks). Keys are client addresses.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIDR(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let (text, keys) = TableFuzz.split(&input)
    var diagnostics: [ConfigDiagnostic] = []
    let table = CIDRTable.load(spec: "cidr:\(TableFuzz.path)", path: TableFuzz.path, contents: text,
                               diagnostics: &diagnostics)
    TableFuzz.check(table, diagnostics: diagnostics, text: text,
                    keys: keys + ["192.0.2.1", "10.1.2.3", "2001:db8::1", "::ffff:192.0.2.1"])
    return 0
}
