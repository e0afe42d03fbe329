/// A place in a configuration or table file, shown to administrators as `file:line`.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// One finding while loading configuration or tables: a warning (heloguard carries on) or an
/// error (`check-config` fails). Messages always carry the file and line when there is one.
public struct ConfigDiagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case warning
        case error
    }

    public let severity: Severity
    public let location: SourceLocation?
    public let message: String

    public init(_ severity: Severity, at location: SourceLocation?, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public static func warning(_ location: SourceLocation?, _ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(.warning, at: location, message)
    }

    public static func error(_ location: SourceLocation?, _ message: String) -> ConfigDiagnostic {
        ConfigDiagnostic(.error, at: location, message)
    }

    public var description: String {
        let place = location.map { "\($0): " } ?? ""
        return "\(place)\(severity.rawValue): \(message)"
    }
}

/// Thrown when a configuration cannot be used at all; carries every finding, errors first.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public let diagnostics: [ConfigDiagnostic]

    public init(_ diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    public init(_ location: SourceLocation?, _ message: String) {
        self.diagnostics = [.error(location, message)]
    }

    public var description: String {
        diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "\n")
    }
}
