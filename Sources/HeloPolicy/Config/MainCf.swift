import PostfixSyntax

/// The assignments of a configuration file in Postfix `main.cf` syntax, before `$name` expansion.
///
/// The file format is Postfix's (`dict_load_fp()` reading logical lines with `readllines()`, each
/// split by `split_nameval()`), so an administrator can paste lines from a real main.cf:
///
/// - `name = value`; white space around `=` is optional and the value is trimmed at both ends.
/// - A physical line that starts with white space continues the previous logical line. The lines
///   are joined without the newline but *with* the continuation line's leading white space, so
///   `a = b` followed by `␠␠c` gives the value `b␠␠c` (Postfix does not squeeze it to one space).
/// - Empty lines, white-space-only lines and lines whose first non-blank character is `#` are
///   ignored, also between a line and its continuation. A `#` later in a line is part of the value.
/// - A logical line that would start with white space (a continuation with nothing before it) is
///   ignored with a warning, as Postfix does; text after a NUL byte is dropped with a warning.
///   (Logical lines are read by PostfixSyntax's `LogicalLines`, as every table is.)
/// - A later assignment replaces an earlier one; when the value differs, a warning is given
///   (Postfix: "overriding earlier entry").
///
/// Where Postfix stops with a fatal error (no `=`, no name) this type reports an error naming the
/// file and the first physical line of the logical line. Postfix accepts any non-blank bytes in
/// a name; heloguard also refuses names outside `[A-Za-z0-9_]`, because `$name` expansion could
/// never refer to them and they are always typing mistakes.
public struct MainCf: Sendable {
    /// One assignment: the value as written (not expanded) and where it was written.
    public struct Entry: Sendable, Equatable {
        public let rawValue: String
        public let location: SourceLocation

        public init(rawValue: String, location: SourceLocation) {
            self.rawValue = rawValue
            self.location = location
        }
    }

    /// The assignment in force for each name (the last one in the file).
    public var entries: [String: Entry]

    public init(entries: [String: Entry] = [:]) {
        self.entries = entries
    }

    public subscript(name: String) -> Entry? { entries[name] }

    /// Parses main.cf text; `file` names the source in diagnostics. Lines that cannot be used are
    /// reported and skipped, so one call reports every problem of the file.
    public static func parse(_ text: String, file: String) -> (MainCf, [ConfigDiagnostic]) {
        var diagnostics: [ConfigDiagnostic] = []
        var entries: [String: Entry] = [:]
        let lines = LogicalLines.all(in: Array(text.utf8)) {
            diagnostics.append(.logicalLine($0, file: file))
        }
        for line in lines {
            let location = SourceLocation(file: file, line: line.line)
            switch splitNameValue(line.text) {
            case .failure(let problem):
                diagnostics.append(.error(location, "\(problem.message): \"\(line.text)\""))
            case .success(let (name, value)):
                guard isValidName(name) else {
                    diagnostics.append(.error(location,
                        "bad parameter name \"\(name)\": use only letters, digits and \"_\""))
                    continue
                }
                if let old = entries[name], old.rawValue != value {
                    diagnostics.append(.warning(location,
                        "overriding earlier entry: \(name)=\(old.rawValue) (from line \(old.location.line))"))
                }
                entries[name] = Entry(rawValue: value, location: location)
            }
        }
        return (MainCf(entries: entries), diagnostics)
    }

    /// Reads and parses a file. An unreadable file is a `ConfigError` naming the path and the
    /// reason; problems inside the file are returned as diagnostics.
    public static func load(path: String) throws(ConfigError) -> (MainCf, [ConfigDiagnostic]) {
        do throws(FileReadError) {
            return parse(String(decoding: try FileContents.read(path), as: UTF8.self), file: path)
        } catch {
            throw ConfigError(nil, error.description)
        }
    }

    /// True for a name `$name` expansion can refer to: letters, digits and `_` only.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { isNameByte($0) }
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        CLocale.isAlnum(byte) || byte == UInt8(ascii: "_")
    }

    struct SplitProblem: Error { let message: String }

    /// Postfix's `split_nameval()`: the name runs to the first white space or `=`; only white
    /// space may stand between it and the `=`; the value is trimmed.
    static func splitNameValue(_ text: String) -> Result<(String, String), SplitProblem> {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count, CLocale.isSpace(bytes[index]) { index += 1 }
        let nameStart = index
        if index == bytes.count || bytes[index] == UInt8(ascii: "=") {
            return .failure(SplitProblem(message: "missing attribute name"))
        }
        while index < bytes.count, !CLocale.isSpace(bytes[index]), bytes[index] != UInt8(ascii: "=") {
            index += 1
        }
        let nameEnd = index
        while index < bytes.count, CLocale.isSpace(bytes[index]) { index += 1 }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
            return .failure(SplitProblem(message: "missing '=' after attribute name"))
        }
        index += 1
        while index < bytes.count, CLocale.isSpace(bytes[index]) { index += 1 }
        var valueEnd = bytes.count
        while valueEnd > index, CLocale.isSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        let name = String(decoding: bytes[nameStart..<nameEnd], as: UTF8.self)
        let value = String(decoding: bytes[index..<valueEnd], as: UTF8.self)
        return .success((name, value))
    }
}
