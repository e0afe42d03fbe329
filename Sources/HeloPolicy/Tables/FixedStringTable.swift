import PostfixSyntax

/// A table key as raw bytes. Postfix compares keys byte for byte (after case folding),
/// while Swift `String` equality uses Unicode canonical equivalence, so fixed-string tables
/// key their dictionaries with bytes instead. Hashing feeds the whole buffer at once, which is
/// much cheaper than hashing an `[UInt8]` element by element.
struct ByteKey: Hashable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The lookup form of `text`: its UTF-8 bytes folded to lower case (see `TableBytes.fold`).
    init(folding text: String) {
        var bytes = Array(text.utf8)
        TableBytes.fold(&bytes)
        self.bytes = bytes
    }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

/// One value stored in a fixed-string table, with the source line it came from (nil for
/// tables written inline in main.cf).
struct StoredEntry: Sendable {
    let value: String
    let line: Int?

    /// The results of a fixed-string table's entries, in `TableResultText.sorted` order.
    static func resultTexts(_ entries: [ByteKey: StoredEntry]) -> [TableResultText] {
        TableResultText.sorted(entries.values.map { TableResultText(text: $0.value, line: $0.line) })
    }

    /// The keys of a fixed-string table (folded to lower case) with their source lines, by
    /// line and then by key.
    static func keys(_ entries: [ByteKey: StoredEntry]) -> [TableKey] {
        entries.map { TableKey(key: String(decoding: $0.key.bytes, as: UTF8.self), line: $0.value.line) }
            .sorted { ($0.line ?? Int.max, $0.key) < ($1.line ?? Int.max, $1.key) }
    }
}

/// One key of a table whose keys can be listed, with the source line it is on (nil for tables
/// written inline in main.cf).
public struct TableKey: Sendable, Hashable {
    public let key: String
    public let line: Int?
}

/// A table whose keys can be listed: the fixed-string tables. Postfix's domain lists
/// (`mydestination`, `virtual_mailbox_domains`, ...) use a table's keys as domain names.
public protocol KeyListingTable: AccessTable {
    var keys: [TableKey] { get }
}

/// Byte-level helpers shared by the table parsers. Table files can be large (100,000 entries
/// is not unusual), so the parsers work on `[UInt8]` and only build `String`s for results.
enum TableBytes {
    /// Case folding of a fixed-string key, as Postfix's `casefold()`. ASCII text is lower-cased
    /// byte by byte (Postfix's `lowercase()`). Smtpd opens access tables with UTF-8 support, and
    /// with the default `smtputf8_enable = yes` Postfix folds well-formed non-ASCII keys with
    /// ICU's default case folding (`STRAẞE` → `strasse`), which heloguard calls too. Bytes that
    /// are not well-formed UTF-8 (Postfix skips such keys) get the ASCII treatment only.
    static func fold(_ bytes: inout [UInt8]) {
        if bytes.allSatisfy({ $0 < 0x80 }) {
            CLocale.lowercase(&bytes)
        } else if Printable.isValidUTF8(bytes), let folded = ICU.foldCase(bytes) {
            bytes = folded
        } else {
            CLocale.lowercase(&bytes)
        }
    }

    /// `bytes[range]` with leading and trailing C-locale whitespace removed.
    static func trimmed(_ bytes: [UInt8], _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && CLocale.isSpace(bytes[lower]) { lower += 1 }
        while upper > lower && CLocale.isSpace(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    static func string(_ bytes: [UInt8], _ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    static func string<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        String(decoding: Array(bytes), as: UTF8.self)
    }

    /// Where the key of a `key whitespace value` line ends, following postmap/texthash: the
    /// first whitespace byte outside double quotes; a backslash protects the next byte. Returns
    /// nil when a double quote is left open. The key keeps its quotes and backslashes (Postfix
    /// stores it in quoted form).
    static func keyEnd(_ line: [UInt8]) -> Int? {
        var inQuotes = false
        var index = 0
        let count = line.count
        while index < count {
            let byte = line[index]
            if byte == 0x5C /* \ */ {
                index += 1
                if index >= count { break }
            } else if CLocale.isSpace(byte) {
                if !inQuotes { break }
            } else if byte == 0x22 /* " */ {
                inQuotes.toggle()
            }
            index += 1
        }
        return inQuotes ? nil : index
    }
}

/// A fixed-string lookup table built from a postmap source file: `hash:`, `btree:`, `lmdb:`,
/// `cdb:`, `dbm:`, `sdbm:` and `texthash:`.
///
/// Postfix reads the indexed types from a database built by `postmap`; heloguard reads the
/// administrator's source file instead and parses it exactly as `postmap` does
/// (postfix-helo-semantics §3.4/§3.5): keys are folded to lower case, duplicates keep the first
/// value with a warning — except in `texthash:`, where a duplicate makes the whole table fail
/// every lookup (`load` then returns a `SurrogateTable`). Lookups fold the key and cost one
/// hash-table probe.
public struct FixedStringTable: KeyListingTable {
    /// The Postfix table types this struct stands in for.
    public enum Kind: String, Sendable, CaseIterable {
        case hash, btree, lmdb, cdb, dbm, sdbm, texthash

        /// True for types Postfix reads from a database file built by postmap.
        public var isIndexed: Bool { self != .texthash }
    }

    public let spec: String
    public let kind: Kind
    /// The source file that was read.
    public let path: String
    public var matchesFixedStrings: Bool { true }
    private let entries: [ByteKey: StoredEntry]

    /// Number of distinct keys.
    public var count: Int { entries.count }

    /// The value of every entry (the first one for a duplicated key), ordered by line.
    public var resultTexts: [TableResultText] { StoredEntry.resultTexts(entries) }

    public var keys: [TableKey] { StoredEntry.keys(entries) }

    public func lookup(_ key: String) -> TableLookup {
        guard let entry = entries[ByteKey(folding: key)] else { return .notFound }
        return .found(value: entry.value, line: entry.line)
    }

    /// Parses `contents` (the source file at `path`) into a table. Findings go to
    /// `diagnostics`; a `texthash:` duplicate yields a `SurrogateTable` and an error.
    public static func load(
        _ kind: Kind, spec: String, path: String, contents: [UInt8],
        diagnostics: inout [ConfigDiagnostic]
    ) -> any AccessTable {
        var entries: [ByteKey: StoredEntry] = [:]
        entries.reserveCapacity(contents.count / 24)
        var failure: (reason: String, location: SourceLocation)? = nil

        LogicalLines.forEach(in: contents, warn: { diagnostics.append(.logicalLine($0, file: path)) }) {
            line, lineNumber in
            guard failure == nil else { return }
            let location = SourceLocation(file: path, line: lineNumber)
            guard let keyEnd = TableBytes.keyEnd(line) else {
                diagnostics.append(.warning(location,
                    "unbalanced '\"' in '\(TableBytes.string(line))' -- ignoring this line"))
                return
            }
            let valueRange = TableBytes.trimmed(line, min(keyEnd + 1, line.count)..<line.count)
            if keyEnd == 0 || valueRange.isEmpty {
                diagnostics.append(.warning(location,
                    "expected format: key whitespace value -- ignoring this line"))
                return
            }
            if line[keyEnd - 1] == 0x3A /* : */ {
                diagnostics.append(.warning(location,
                    "record is in \"key: value\" format; is this an alias file?"))
            }
            var keyBytes = Array(line[0..<keyEnd])
            TableBytes.fold(&keyBytes)
            let key = ByteKey(keyBytes)
            if entries[key] != nil {
                let message = "duplicate entry: \"\(TableBytes.string(keyBytes))\""
                if kind == .texthash {
                    failure = ("\(path), line \(lineNumber): \(message)", location)
                } else {
                    diagnostics.append(.warning(location, message + " (the first value is kept)"))
                }
                return
            }
            entries[key] = StoredEntry(value: TableBytes.string(line, valueRange), line: lineNumber)
        }

        if let failure {
            diagnostics.append(.error(failure.location,
                "\(failure.reason); Postfix refuses the whole table: every lookup fails"
                + " (451 4.3.5 Server configuration error)"))
            return SurrogateTable(spec: spec, reason: failure.reason)
        }
        return FixedStringTable(spec: spec, kind: kind, path: path, entries: entries)
    }

    private init(spec: String, kind: Kind, path: String, entries: [ByteKey: StoredEntry]) {
        self.spec = spec
        self.kind = kind
        self.path = path
        self.entries = entries
    }
}
