// THROWAWAY STUBS — delete this file at merge. The real `RegexpTable` and `PCRETable` are
// written on another branch; these minimal stand-ins exist only so that TableLoader compiles
// and its tests run in the `tables` worktree. They match nothing.

/// Stand-in for the real `regexp:` table (see the note at the top of this file).
public struct RegexpTable: AccessTable {
    public let spec: String
    public var matchesFixedStrings: Bool { false }
    public func lookup(_ key: String) -> TableLookup { .notFound }

    public static func load(
        spec: String, path: String, text: String, diagnostics: inout [ConfigDiagnostic]
    ) -> RegexpTable {
        RegexpTable(spec: spec)
    }
}

/// Stand-in for the real `pcre:` table (see the note at the top of this file).
public struct PCRETable: AccessTable {
    public let spec: String
    public var matchesFixedStrings: Bool { false }
    public func lookup(_ key: String) -> TableLookup { .notFound }

    public static func load(
        spec: String, path: String, text: String, diagnostics: inout [ConfigDiagnostic]
    ) throws(ConfigError) -> PCRETable {
        PCRETable(spec: spec)
    }
}
