import FuzzSupport
import HeloPolicy

/// inline:{ key=value, { key = text with spaces } } tables as written in main.cf.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInline(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let name = input.text()
    var keys: [String] = []
    while keys.count < 8 {
        let key = input.text()
        if key.isEmpty { break }
        keys.append(key)
    }
    let location = SourceLocation(file: "/fuzz/heloguard.conf", line: 7)
    var diagnostics: [ConfigDiagnostic] = []
    let table = InlineTable.load(spec: "inline:" + name, name: name, location: location, diagnostics: &diagnostics)
    for diagnostic in diagnostics {
        require(diagnostic.location == location, "inline diagnostic not at the spec's location: \(diagnostic)")
    }
    for key in keys {
        if case .found(let value, _) = table.lookup(key) {
            require(table.resultTexts.contains { $0.text == value }, "inline lookup returned a text the table does not hold")
        }
    }
    // Through the loader as the configuration opens it.
    if let loaded = try? TableLoader.open("inline:" + name, at: location) {
        require(loaded.diagnostics == diagnostics, "loader and direct load disagree")
    }
    return 0
}
