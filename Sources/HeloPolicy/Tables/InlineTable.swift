import PostfixSyntax

/// An `inline:{ key1=value1, key2=value2, { key3 = value with spaces } }` table written directly
/// in main.cf (postfix-helo-semantics §3.6, Postfix `dict_inline.c`).
///
/// Items are separated by commas or whitespace; an item wrapped in `{ }` may contain both, and
/// whitespace around its `=` and inside the braces is dropped. A later duplicate replaces an
/// earlier one. Keys are folded to lower case and keep any double quotes, as in hash tables.
/// An empty table or any syntax error makes Postfix use a table that fails every lookup, so
/// `load` then returns a `SurrogateTable` and an error diagnostic.
public struct InlineTable: KeyListingTable {
    public let spec: String
    public var matchesFixedStrings: Bool { true }
    private let entries: [ByteKey: StoredEntry]

    /// Number of distinct keys.
    public var count: Int { entries.count }

    /// The value of every item (the last one for a repeated key), without lines, by text.
    public var resultTexts: [TableResultText] { StoredEntry.resultTexts(entries) }

    public var keys: [TableKey] { StoredEntry.keys(entries) }

    public func lookup(_ key: String) -> TableLookup {
        guard let entry = entries[ByteKey(folding: key)] else { return .notFound }
        return .found(value: entry.value, line: entry.line)
    }

    private init(spec: String, entries: [ByteKey: StoredEntry]) {
        self.spec = spec
        self.entries = entries
    }

    /// Builds the table from `name`, the text after `inline:` (starting with `{`). `location`
    /// is where the table is named in the configuration, used for diagnostics.
    public static func load(
        spec: String, name: String, location: SourceLocation?,
        diagnostics: inout [ConfigDiagnostic]
    ) -> any AccessTable {
        let bytes = Array(name.utf8)
        let wholeLength = BraceText.balancedLength(bytes, 0..<bytes.count)
        guard let wholeLength, wholeLength == bytes.count, bytes.count > 2 else {
            let reason = "bad syntax: \"inline:\(name)\"; need \"inline:{name=value...}\""
            diagnostics.append(.error(location, reason))
            return SurrogateTable(spec: spec, reason: reason)
        }

        var entries: [ByteKey: StoredEntry] = [:]
        var error: String? = nil
        var itemCount = 0
        var cursor = 1
        let end = bytes.count - 1
        while let token = BraceText.nextToken(bytes, from: &cursor, end: end) {
            var item = token
            if bytes[token.lowerBound] == 0x7B /* { */ {
                switch BraceText.unwrap(bytes, token) {
                case .success(let inner): item = inner
                case .failure(let problem):
                    error = problem.message
                }
                if error != nil { break }
            }
            switch BraceText.splitNameValue(bytes, item) {
            case .failure(let problem):
                error = problem.message
            case .success(let pair):
                var key = Array(bytes[pair.key])
                TableBytes.fold(&key)
                entries[ByteKey(key)] = StoredEntry(value: TableBytes.string(bytes, pair.value), line: nil)
                itemCount += 1
            }
            if error != nil { break }
        }
        if error != nil || itemCount == 0 {
            let reason = "\(error ?? "empty table"): \"inline:\(name)\"; need \"inline:{name=value...}\""
            diagnostics.append(.error(location, reason))
            return SurrogateTable(spec: spec, reason: reason)
        }
        return InlineTable(spec: spec, entries: entries)
    }
}

/// A parse problem in brace-grouped configuration text; `message` uses Postfix's wording.
struct BraceTextProblem: Error {
    let message: String
}

/// Postfix's helpers for `{ }`-grouped text (`balpar`, `mystrtokq`, `extpar`,
/// `split_qnameval`), on byte ranges of one buffer.
enum BraceText {
    static let open: UInt8 = 0x7B
    static let close: UInt8 = 0x7D

    /// Length of the balanced `{ … }` group that starts at `range.lowerBound`, including both
    /// braces; nil when the text does not start with `{` or the group is never closed.
    static func balancedLength(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
        guard range.lowerBound < range.upperBound, bytes[range.lowerBound] == open else { return nil }
        var level = 1
        var index = range.lowerBound + 1
        while index < range.upperBound {
            if bytes[index] == close {
                level -= 1
                if level == 0 { return index - range.lowerBound + 1 }
            } else if bytes[index] == open {
                level += 1
            }
            index += 1
        }
        return nil
    }

    /// `mystrtokq` with separators comma and whitespace: skips separators, then returns the
    /// next token, which ends at a separator outside braces.
    static func nextToken(_ bytes: [UInt8], from cursor: inout Int, end: Int) -> Range<Int>? {
        func isSeparator(_ byte: UInt8) -> Bool {
            byte == 0x2C || byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
        }
        while cursor < end && isSeparator(bytes[cursor]) { cursor += 1 }
        guard cursor < end else { return nil }
        let start = cursor
        var level = 0
        while cursor < end {
            let byte = bytes[cursor]
            if byte == open {
                level += 1
            } else if level > 0 && byte == close {
                level -= 1
            } else if level == 0 && isSeparator(byte) {
                break
            }
            cursor += 1
        }
        let token = start..<cursor
        if cursor < end { cursor += 1 }
        return token
    }

    /// `extpar` with stripping: the inside of a `{ … }` token, trimmed. Text after the closing
    /// brace or a missing closing brace is an error.
    static func unwrap(_ bytes: [UInt8], _ token: Range<Int>) -> Result<Range<Int>, BraceTextProblem> {
        let text = TableBytes.string(bytes, token)
        guard let length = balancedLength(bytes, token) else {
            return .failure(BraceTextProblem(message: "missing '}' in \"\(text)\""))
        }
        if length != token.count {
            return .failure(BraceTextProblem(message: "syntax error after '}' in \"\(text)\""))
        }
        let inner = (token.lowerBound + 1)..<(token.lowerBound + length - 1)
        return .success(TableBytes.trimmed(bytes, inner))
    }

    /// `split_qnameval`: `key = value`, where the key ends at whitespace or `=` outside double
    /// quotes (a backslash protects the next byte) and the value is trimmed. The key keeps its
    /// quotes.
    static func splitNameValue(
        _ bytes: [UInt8], _ range: Range<Int>
    ) -> Result<(key: Range<Int>, value: Range<Int>), BraceTextProblem> {
        var keyStart = range.lowerBound
        while keyStart < range.upperBound && CLocale.isSpace(bytes[keyStart]) { keyStart += 1 }
        guard keyStart < range.upperBound else {
            return .failure(BraceTextProblem(message: "no key found; expected format: key = value"))
        }
        var keyEnd = keyStart
        var inQuotes = false
        while keyEnd < range.upperBound {
            let byte = bytes[keyEnd]
            if byte == 0x5C /* \ */ {
                keyEnd += 1
                if keyEnd >= range.upperBound { break }
            } else if CLocale.isSpace(byte) || byte == 0x3D /* = */ {
                if !inQuotes { break }
            } else if byte == 0x22 /* " */ {
                inQuotes.toggle()
            }
            keyEnd += 1
        }
        if inQuotes {
            return .failure(BraceTextProblem(message: "unbalanced '\"'"))
        }
        var equals = keyEnd
        while equals < range.upperBound && CLocale.isSpace(bytes[equals]) { equals += 1 }
        guard equals < range.upperBound, bytes[equals] == 0x3D else {
            return .failure(BraceTextProblem(message: "missing '=' after attribute name"))
        }
        let value = TableBytes.trimmed(bytes, (equals + 1)..<range.upperBound)
        return .success((key: keyStart..<min(keyEnd, range.upperBound), value: value))
    }
}
