/// One logical line of a Postfix-syntax file, with the number of its first physical line.
public struct LogicalLine: Sendable, Equatable {
    public let text: String
    public let line: Int

    public init(text: String, line: Int) {
        self.text = text
        self.line = line
    }
}

/// Postfix's `readllines()`, the one reader of logical lines for main.cf, every table source and
/// `/file` lists:
///
/// - A physical line that starts with white space continues the previous logical line. It is
///   appended without the newline but *with* its leading white space (`a = b` then `␠␠c` gives
///   `a = b␠␠c`; Postfix does not squeeze it).
/// - Empty lines, white-space-only lines and lines whose first non-blank byte is `#` are
///   skipped, also between a line and its continuation. A `#` later in a line is text.
/// - A logical line that would start with white space (a continuation with nothing before it)
///   is dropped with a warning.
/// - C string handling ends a line at its first NUL byte: the rest of the logical line is
///   dropped with a warning.
/// - Lines end at the newline byte only: a CR before it stays part of the line (it is white
///   space, so the callers' trimming removes it, as Postfix's does).
///
/// Works on bytes; line numbers count from 1.
public enum LogicalLines {
    /// Something the reader passed over, at the first physical line of its logical line.
    public enum Warning: Sendable, Equatable {
        /// The logical line held a NUL byte; the text from it on was dropped.
        case textAfterNullByte(line: Int)
        /// The logical line started with white space and was dropped; `text` is the line.
        case leadingWhitespace(line: Int, text: [UInt8])

        /// The first physical line of the logical line concerned.
        public var line: Int {
            switch self {
            case .textAfterNullByte(let line), .leadingWhitespace(let line, _): return line
            }
        }

        /// Postfix's wording; the line (at most its first 30 bytes) is shown in quotes.
        public var message: String {
            switch self {
            case .textAfterNullByte:
                return "text after null byte may be ignored"
            case .leadingWhitespace(_, let text):
                let shown = String(decoding: text.prefix(30), as: UTF8.self)
                return "logical line must not start with whitespace: \"\(shown)\(text.count > 30 ? "..." : "")\""
            }
        }
    }

    /// Calls `body` with each logical line of `bytes` and the number of its first physical line,
    /// and `warn` for each line it drops or cuts, in file order. The line buffer is reused
    /// between calls, so large tables cost one allocation.
    public static func forEach(
        in bytes: [UInt8],
        warn: (Warning) -> Void,
        _ body: (_ line: [UInt8], _ lineNumber: Int) -> Void
    ) {
        var current: [UInt8] = []
        current.reserveCapacity(256)
        var haveCurrent = false
        var currentLine = 0
        var lineNumber = 0

        func finish() {
            guard haveCurrent else { return }
            haveCurrent = false
            if let nul = current.firstIndex(of: 0) {
                warn(.textAfterNullByte(line: currentLine))
                current.removeSubrange(nul...)
            }
            if let first = current.first, CLocale.isSpace(first) {
                warn(.leadingWhitespace(line: currentLine, text: current))
                return
            }
            body(current, currentLine)
        }

        let count = bytes.count
        var start = 0
        while start < count {
            var end = start
            while end < count && bytes[end] != 0x0A { end += 1 }
            lineNumber += 1
            var firstNonBlank = start
            while firstNonBlank < end && CLocale.isSpace(bytes[firstNonBlank]) { firstNonBlank += 1 }
            if firstNonBlank < end && bytes[firstNonBlank] != 0x23 /* # */ {
                if firstNonBlank > start && haveCurrent {
                    current.append(contentsOf: bytes[start..<end])
                } else {
                    finish()
                    current.removeAll(keepingCapacity: true)
                    current.append(contentsOf: bytes[start..<end])
                    haveCurrent = true
                    currentLine = lineNumber
                }
            }
            start = end + 1
        }
        finish()
    }

    /// All logical lines of `bytes` as text (malformed UTF-8 repaired as `String(decoding:)`
    /// does), for files small enough to hold whole: main.cf, regexp tables, `/file` lists.
    public static func all(in bytes: [UInt8], warn: (Warning) -> Void) -> [LogicalLine] {
        var lines: [LogicalLine] = []
        forEach(in: bytes, warn: warn) { line, number in
            lines.append(LogicalLine(text: String(decoding: line, as: UTF8.self), line: number))
        }
        return lines
    }
}
