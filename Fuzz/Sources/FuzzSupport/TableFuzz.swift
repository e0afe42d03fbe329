import HeloPolicy

/// The checks every table target shares. Input: table text NUL key NUL key ...; the first word
/// of each line of the text is looked up too, so that lookups hit entries.
public enum TableFuzz {
    public static let path = "/fuzz/table"

    /// Splits the input into the table text and the keys to look up.
    public static func split(_ input: inout FuzzInput) -> (text: [UInt8], keys: [String]) {
        let text = input.field()
        var keys: [String] = []
        while keys.count < 8 {
            let key = input.field()
            if key.isEmpty { break }
            keys.append(String(decoding: key, as: UTF8.self))
        }
        for line in text.split(separator: UInt8(ascii: "\n")).prefix(8) {
            let word = line.prefix { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
            if !word.isEmpty { keys.append(String(decoding: word, as: UTF8.self)) }
        }
        return (text, keys)
    }

    /// Every diagnostic names the table's file and a line of it; every lookup answers with a
    /// line of the table; a fixed-string table only ever answers with a text it holds.
    public static func check(_ table: any AccessTable, diagnostics: [ConfigDiagnostic], text: [UInt8], keys: [String],
                             file: String = path) {
        let lineCount = text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
        for diagnostic in diagnostics {
            guard let location = diagnostic.location else {
                require(false, "diagnostic without a location: \(diagnostic)")
                return
            }
            require(location.file == file, "diagnostic names another file: \(diagnostic)")
            require(location.line >= 1 && location.line <= max(lineCount, 1), "diagnostic line out of range: \(diagnostic)")
        }
        let results = table.resultTexts
        for result in results {
            if let line = result.line {
                require(line >= 1 && line <= max(lineCount, 1), "result line \(line) out of range")
            }
        }
        for key in keys {
            switch table.lookup(key) {
            case .found(let value, let line):
                if let line {
                    require(line >= 1 && line <= max(lineCount, 1), "lookup line \(line) out of range")
                }
                if table.matchesFixedStrings {
                    require(results.contains { $0.text == value }, "fixed-string lookup returned a text the table does not hold: \(shown(value))")
                }
            case .notFound, .failed:
                break
            }
        }
    }
}
