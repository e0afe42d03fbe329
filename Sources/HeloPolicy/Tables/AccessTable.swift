/// The answer of one table lookup. `failed` is Postfix's dictionary error: the caller turns it
/// into a temporary `451 4.3.5` reply, never a permanent one.
public enum TableLookup: Sendable, Equatable {
    /// The key matched; `line` is the source line of the entry or rule, when the table has lines.
    case found(value: String, line: Int?)
    case notFound
    case failed(reason: String)
}

/// One result a table can hand back, as the administrator wrote it, and where.
public struct TableResultText: Sendable, Hashable {
    /// The right-hand side of the entry or rule. Pattern tables give the replacement text
    /// before any `$n` is filled in, so the real answer may differ where the text uses groups.
    public let text: String
    /// The source line of the entry or rule; nil for tables written in main.cf (`inline:`,
    /// `static:`), which have no lines of their own.
    public let line: Int?

    public init(text: String, line: Int?) {
        self.text = text
        self.line = line
    }
}

/// A Postfix lookup table, loaded once into memory and read from any thread.
///
/// Fixed-string tables (hash, texthash, inline, ...) fold the key to lower case and are
/// consulted for parent domains too; pattern tables (regexp, pcre, cidr) see only the full
/// string, in its original case (postfix-helo-semantics §3.1).
public protocol AccessTable: Sendable {
    /// The table as the administrator wrote it, e.g. `hash:/etc/postfix/helo_access`.
    var spec: String { get }
    /// True for fixed-string tables, false for pattern tables.
    var matchesFixedStrings: Bool { get }
    /// Every result some lookup could return, for checks at load time (e.g. actions a milter
    /// cannot carry out). Ordered by source line; entries without a line are ordered by text.
    /// A table that answers every lookup with an error (`SurrogateTable`) has none.
    var resultTexts: [TableResultText] { get }
    func lookup(_ key: String) -> TableLookup
}

extension TableResultText {
    /// Orders results by line (those without a line last), then by text, so that findings
    /// about a table come out in a stable order whatever the table's storage is.
    static func sorted(_ results: [TableResultText]) -> [TableResultText] {
        results.sorted { a, b in
            switch (a.line, b.line) {
            case let (x?, y?) where x != y: return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.text < b.text
            }
        }
    }
}
