import PostfixSyntax

/// The right-hand side of an access(5) table entry, split into its first word (the command,
/// matched case-insensitively) and the rest, as Postfix's `check_table_result()` reads it.
struct AccessAction: Sendable, Hashable {
    enum Command: Sendable, Hashable {
        case dunno, reject, `defer`, hangup, info, warn, filter, hold, discard, redirect, bcc
        case deferIfPermit, deferIfReject, prepend
        /// A value of digits only: Postfix reads it as OK.
        case numericPermit
        /// `4NN text` or `5NN text`.
        case replyCode(Int)
        case ok
        /// Anything else: a list of restriction names.
        case restrictions
    }

    let command: Command
    /// The text after the first word, leading white space removed.
    let text: String

    init(_ value: String) {
        let scalars = Array(value.unicodeScalars)
        let wordEnd = scalars.firstIndex { $0 == " " || $0 == "\t" } ?? scalars.count
        let word = String(String.UnicodeScalarView(scalars[..<wordEnd])).uppercased()
        var textStart = wordEnd
        while textStart < scalars.count, CLocale.isSpace(scalars[textStart]) { textStart += 1 }
        text = String(String.UnicodeScalarView(scalars[textStart...]))

        switch word {
        case "DUNNO": command = .dunno
        case "REJECT": command = .reject
        case "DEFER": command = .defer
        case "HANGUP": command = .hangup
        case "INFO": command = .info
        case "WARN": command = .warn
        case "FILTER": command = .filter
        case "HOLD": command = .hold
        case "DISCARD": command = .discard
        case "REDIRECT": command = .redirect
        case "BCC": command = .bcc
        case "DEFER_IF_PERMIT": command = .deferIfPermit
        case "DEFER_IF_REJECT": command = .deferIfReject
        case "PREPEND": command = .prepend
        default:
            let digits = value.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            let wordBytes = Array(word.utf8)
            if !value.isEmpty && digits {
                command = .numericPermit
            } else if wordBytes.count == 3, !text.isEmpty,
                      wordBytes[0] == UInt8(ascii: "4") || wordBytes[0] == UInt8(ascii: "5"),
                      wordBytes[1...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                command = .replyCode(Int(word)!)
            } else if word == "OK" || word == "RELAY" {
                command = .ok
            } else {
                command = .restrictions
            }
        }
    }

    /// Postfix's `dsn_split()`: an enhanced status code at the start of the text, or the default.
    static func splitDSN(_ text: String, default defaultDSN: String) -> (dsn: String, text: String) {
        let trimmed = Substring(text).drop { CLocale.isSpace($0.unicodeScalars.first!) }
        let length = SMTPReply.dsnLength(Array(trimmed.utf8))
        guard length > 0 else { return (defaultDSN, String(trimmed)) }
        let dsn = String(decoding: Array(trimmed.utf8)[..<length], as: UTF8.self)
        let rest = String(decoding: Array(trimmed.utf8)[length...], as: UTF8.self)
        return (dsn, String(Substring(rest).drop { CLocale.isSpace($0.unicodeScalars.first!) }))
    }

    /// Postfix's `smtpd_dsn_fix()`: an address status (`X.1.Y`) makes no sense for a HELO name
    /// or a client, so it becomes `X.0.0`; for sender and recipient refusals it is mapped to the
    /// matching sender or recipient status.
    static func fixDSN(_ dsn: String, for replyClass: ReplyClass, events: inout [PolicyLogEvent]) -> String {
        let bytes = Array(dsn.utf8)
        guard bytes.count >= 5, bytes[0] >= 0x30, bytes[0] <= 0x39,
              bytes[1] == UInt8(ascii: "."), bytes[2] == UInt8(ascii: "1"), bytes[3] == UInt8(ascii: ".") else {
            return dsn
        }
        let detail = String(decoding: bytes[4...], as: UTF8.self)
        let senderMap = ["1": "4.1.7", "2": "4.1.8", "3": "4.1.7", "4": "4.1.7", "5": "4.1.0",
                         "6": "4.1.7", "7": "4.1.7", "8": "4.1.8"]
        let recipientMap = ["1": "4.1.1", "2": "4.1.2", "3": "4.1.3", "4": "4.1.4", "5": "4.1.5",
                            "6": "4.1.6", "7": "4.1.3", "8": "4.1.2"]
        let replacement: String
        switch replyClass {
        case .sender: replacement = senderMap[detail] ?? "4.1.0"
        case .recipient: replacement = recipientMap[detail] ?? "4.1.0"
        case .helo, .client: replacement = "4.0.0"
        }
        let first = String(UnicodeScalar(bytes[0]))
        let fixed = first + replacement.dropFirst()
        if dsn.dropFirst(2) != replacement.dropFirst(2) {
            events.append(PolicyLogEvent(.note, "mapping DSN status \(dsn) into \(replyClass.rawValue) status \(fixed)"))
        }
        return fixed
    }

    /// Postfix's `is_header()`: a header name of visible ASCII, optional blanks, then a colon.
    static func isHeader(_ text: String) -> Bool {
        var sawName = false
        var afterName = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ":") { return sawName }
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                guard sawName else { return false }
                afterName = true
                continue
            }
            if byte < 0x21 || byte > 0x7E || afterName { return false }
            sawName = true
        }
        return false
    }
}
