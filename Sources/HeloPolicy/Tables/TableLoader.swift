import PostfixSyntax

/// A table opened from its `type:name` spec, with everything found while loading it.
/// Diagnostics may contain errors even though a table was returned: Postfix keeps running with
/// a broken table (a `SurrogateTable`) and heloguard does the same, reporting the problem.
public struct LoadedTable: Sendable {
    public let table: any AccessTable
    public let diagnostics: [ConfigDiagnostic]

    public init(table: any AccessTable, diagnostics: [ConfigDiagnostic]) {
        self.table = table
        self.diagnostics = diagnostics
    }
}

/// Postfix's surrogate dictionary (`dict_surrogate.c`): the stand-in for a table that could
/// not be built. Every lookup fails, which the caller turns into `451 4.3.5 Server
/// configuration error`. Postfix flags surrogates as pattern tables, so they are consulted
/// for the full HELO name only, never for parent domains.
public struct SurrogateTable: AccessTable {
    public let spec: String
    /// Why the table is unusable, e.g. `/etc/postfix/t, line 3: duplicate entry: "x"`.
    public let reason: String
    public var matchesFixedStrings: Bool { false }
    /// None: every lookup fails.
    public var resultTexts: [TableResultText] { [] }

    public init(spec: String, reason: String) {
        self.spec = spec
        self.reason = reason
    }

    public func lookup(_ key: String) -> TableLookup {
        .failed(reason: "\(spec) is unavailable. \(reason)")
    }
}

/// Opens lookup tables from `type:name` specs as they appear in main.cf or heloguard's
/// configuration. Supported types: the postmap family (`hash`, `btree`, `lmdb`, `cdb`, `dbm`,
/// `sdbm` — read from the source text file, not the database), `texthash`, `inline`,
/// `static`, `cidr`, `regexp` and `pcre`. Problems that stop Postfix from starting or that
/// heloguard cannot reproduce (unknown type, unreadable file) are thrown; problems Postfix
/// lives with are returned as diagnostics next to the table.
public enum TableLoader {
    /// The table types heloguard implements, in the order listed in error messages.
    public static let supportedTypes: [String] =
        ["btree", "cdb", "cidr", "dbm", "hash", "inline", "lmdb", "pcre", "regexp", "sdbm",
         "static", "texthash"]

    /// Opens `spec` (`type:name`). `location` is where the spec was written; it is attached to
    /// thrown errors and to diagnostics about inline tables.
    public static func open(_ spec: String, at location: SourceLocation?) throws(ConfigError) -> LoadedTable {
        guard let colon = spec.firstIndex(of: ":") else {
            throw ConfigError(location, "expecting \"type:name\" form instead of \"\(spec)\"")
        }
        let type = String(spec[..<colon])
        let name = String(spec[spec.index(after: colon)...])
        guard !type.isEmpty, !name.isEmpty else {
            throw ConfigError(location, "expecting \"type:name\" form instead of \"\(spec)\"")
        }

        var diagnostics: [ConfigDiagnostic] = []
        let table: any AccessTable
        switch type {
        case "inline":
            table = InlineTable.load(spec: spec, name: name, location: location, diagnostics: &diagnostics)
        case "static":
            table = StaticTable.load(spec: spec, name: name, location: location, diagnostics: &diagnostics)
        case "cidr":
            let contents = try readFile(name, spec: spec, at: location)
            table = CIDRTable.load(spec: spec, path: name, contents: contents, diagnostics: &diagnostics)
        case "regexp":
            let contents = try readFile(name, spec: spec, at: location)
            table = RegexpTable.load(spec: spec, path: name, text: String(decoding: contents, as: UTF8.self),
                                     diagnostics: &diagnostics)
        case "pcre":
            let contents = try readFile(name, spec: spec, at: location)
            table = try PCRETable.load(spec: spec, path: name, text: String(decoding: contents, as: UTF8.self),
                                       diagnostics: &diagnostics)
        default:
            guard let kind = FixedStringTable.Kind(rawValue: type) else {
                throw ConfigError(location,
                    "unsupported lookup table type \"\(type)\" in \"\(spec)\"; heloguard supports "
                    + supportedTypes.map { "\($0):" }.joined(separator: ", "))
            }
            let path = kind.isIndexed ? sourcePath(name) : name
            let contents = try readFile(path, spec: spec, at: location)
            table = FixedStringTable.load(kind, spec: spec, path: path, contents: contents,
                                          diagnostics: &diagnostics)
        }
        return LoadedTable(table: table, diagnostics: diagnostics)
    }

    /// The postmap source file of an indexed table: the name with a database suffix
    /// (`.db`, `.cdb`, `.lmdb`) removed, in case the administrator wrote the database's name.
    static func sourcePath(_ name: String) -> String {
        for suffix in [".db", ".cdb", ".lmdb"] where name.hasSuffix(suffix) && name.count > suffix.count {
            return String(name.dropLast(suffix.count))
        }
        return name
    }

    /// Reads a whole file as bytes, throwing a `ConfigError` with the OS reason on failure
    /// (`cannot open SPEC: open PATH: REASON`).
    static func readFile(_ path: String, spec: String, at location: SourceLocation?) throws(ConfigError) -> [UInt8] {
        do throws(FileReadError) {
            return try FileContents.read(path)
        } catch {
            throw ConfigError(location, "cannot open \(spec): \(error.operation.rawValue) \(path): \(error.reason)")
        }
    }
}
