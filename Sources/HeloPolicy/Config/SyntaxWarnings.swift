import PostfixSyntax

extension ConfigDiagnostic {
    /// A warning of the logical-line reader, at its line of `file`.
    static func logicalLine(_ warning: LogicalLines.Warning, file: String) -> ConfigDiagnostic {
        .warning(SourceLocation(file: file, line: warning.line), warning.message)
    }
}
