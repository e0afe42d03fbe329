/// One logical line of a Postfix table source file, with the number of its first physical line.
public struct LogicalLine: Sendable, Equatable {
    public let text: String
    public let line: Int

    public init(text: String, line: Int) {
        self.text = text
        self.line = line
    }
}

/// Splits table source text into logical lines the way Postfix's `readllines()` does: a line
/// that starts with whitespace continues the previous one (joined without the newline, with its
/// leading whitespace), blank lines and lines whose first non-blank character is `#` are
/// skipped even inside a continuation, and a logical line that would start with whitespace is
/// dropped with a warning.
public enum PostmapSource {
    public static func logicalLines(
        _ text: String, file: String, warnings: inout [ConfigDiagnostic]
    ) -> [LogicalLine] {
        var result: [LogicalLine] = []
        var current: String? = nil
        var currentLine = 0
        var lineNumber = 0

        func finish() {
            guard let text = current else { return }
            current = nil
            if let first = text.unicodeScalars.first, CLocale.isSpace(first) {
                let shown = text.count > 30 ? String(text.prefix(30)) + "..." : text
                warnings.append(.warning(
                    SourceLocation(file: file, line: currentLine),
                    "logical line must not start with whitespace: \"\(shown)\""))
                return
            }
            result.append(LogicalLine(text: text, line: currentLine))
        }

        // Split on the newline byte: a Swift String treats CR LF as one character, and Postfix
        // keeps a CR before the newline as part of the line.
        var physical = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if let last = physical.last, last.isEmpty { physical.removeLast() }
        for raw in physical {
            lineNumber += 1
            let line = String(decoding: raw, as: UTF8.self)
            let firstNonBlank = line.unicodeScalars.first { !CLocale.isSpace($0) }
            if firstNonBlank == nil || firstNonBlank == "#" { continue }
            if let first = line.unicodeScalars.first, CLocale.isSpace(first), current != nil {
                current! += line
            } else {
                finish()
                current = line
                currentLine = lineNumber
            }
        }
        finish()
        return result
    }
}
