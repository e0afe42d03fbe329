/// `static:value`: every key finds the same value (Postfix `dict_static.c`). The
/// `static:{ value with spaces }` form strips the braces and the whitespace inside them, so a
/// value may contain spaces or commas in main.cf. It is a fixed-string table, so it also
/// answers parent-domain lookups (postfix-helo-semantics §3.10).
public struct StaticTable: AccessTable {
    public let spec: String
    public let value: String
    public var matchesFixedStrings: Bool { true }

    public init(spec: String, value: String) {
        self.spec = spec
        self.value = value
    }

    /// The one value, which has no line: it is written in main.cf.
    public var resultTexts: [TableResultText] { [TableResultText(text: value, line: nil)] }

    public func lookup(_ key: String) -> TableLookup {
        .found(value: value, line: nil)
    }

    /// Builds the table from `name`, the text after `static:`. A malformed `{ … }` form gives
    /// a `SurrogateTable` and an error, as in Postfix.
    public static func load(
        spec: String, name: String, location: SourceLocation?,
        diagnostics: inout [ConfigDiagnostic]
    ) -> any AccessTable {
        var value = name
        let bytes = Array(name.utf8)
        if bytes.first == BraceText.open {
            switch BraceText.unwrap(bytes, 0..<bytes.count) {
            case .failure(let problem):
                let reason = "bad static:name syntax: \(problem.message)"
                diagnostics.append(.error(location, reason))
                return SurrogateTable(spec: spec, reason: reason)
            case .success(let inner):
                value = TableBytes.string(bytes, inner)
            }
        }
        if value.isEmpty {
            diagnostics.append(.warning(location,
                "\(spec) returns an empty value for every key, which Postfix treats as a lookup error"))
        }
        return StaticTable(spec: spec, value: value)
    }
}
