/// The answer of one table lookup. `failed` is Postfix's dictionary error: the caller turns it
/// into a temporary `451 4.3.5` reply, never a permanent one.
public enum TableLookup: Sendable, Equatable {
    /// The key matched; `line` is the source line of the entry or rule, when the table has lines.
    case found(value: String, line: Int?)
    case notFound
    case failed(reason: String)
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
    func lookup(_ key: String) -> TableLookup
}
