import FuzzSupport
import HeloPolicy

/// main.cf syntax and `$name` expansion. Input: the file text NUL a text to expand with it.
/// Properties: every diagnostic names the file and one of its lines; printing the assignments
/// back as `name = value` lines parses to the same assignments (parse -> print -> parse); a value
/// without `$` expands to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMainCf(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let text = input.text()
    let extra = input.rest()
    let file = "/fuzz/main.cf"
    let (mainCf, diagnostics) = MainCf.parse(text, file: file)
    let lineCount = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
    for diagnostic in diagnostics {
        require(diagnostic.location?.file == file, "diagnostic without the file: \(diagnostic)")
        require((diagnostic.location?.line ?? 0) >= 1 && (diagnostic.location?.line ?? 0) <= lineCount,
                "diagnostic line out of range: \(diagnostic)")
    }

    // parse -> print -> parse
    let printed = mainCf.entries.sorted { $0.value.location.line < $1.value.location.line }
        .map { "\($0.key) = \($0.value.rawValue)\n" }.joined()
    let (again, againDiagnostics) = MainCf.parse(printed, file: file)
    require(againDiagnostics.allSatisfy { $0.severity == .warning } || !diagnostics.isEmpty,
            "printed file has errors the original had not: \(againDiagnostics)")
    require(Set(again.entries.keys) == Set(mainCf.entries.keys), "names differ after print and parse: \(shown(printed))")
    for (name, entry) in mainCf.entries {
        require(again[name]?.rawValue == entry.rawValue,
                "value of \(name) differs after print and parse: \(shown(entry.rawValue)) -> \(shown(again[name]?.rawValue ?? "nil"))")
    }

    // $name expansion over the file, with a few defaults that refer to each other.
    let defaults = ["myhostname": "mx.example.test", "mydomain": "example.test",
                    "myorigin": "$myhostname", "empty": ""]
    let parameters = Parameters(mainCf: mainCf, defaults: defaults, rawNames: ["default_rbl_reply"])
    for diagnostic in parameters.diagnostics {
        require(diagnostic.location == nil || diagnostic.location?.file == file, "expansion diagnostic names another file")
    }
    // Bytes, not Characters: `$` followed by a combining mark is one Character that is not "$".
    for (name, entry) in mainCf.entries where !entry.rawValue.utf8.contains(UInt8(ascii: "$")) {
        require(parameters.value(name) == entry.rawValue, "value without $ changed by expansion: \(name)")
    }
    let (expanded, _) = parameters.expand(extra, at: SourceLocation(file: file, line: 1))
    if !extra.utf8.contains(UInt8(ascii: "$")) {
        require(expanded == extra, "text without $ changed by expansion: \(shown(extra))")
    }
    return 0
}
