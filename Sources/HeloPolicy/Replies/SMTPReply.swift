import PostfixSyntax

/// An SMTP reply line such as `554 5.7.1 <h>: Helo command rejected: Access denied`.
///
/// Every refusal the restrictions produce is built in two steps, ``draft(code:dsn:text:)`` then
/// ``finish(_:softBounce:)`` (the evaluation's `refuse`, Postfix's `smtpd_check_reject()`), which
/// apply Postfix's reply rules, so replies stay byte-identical. Fixed texts use ``init(verbatim:)``.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    /// The whole reply line without CR LF.
    public let line: String

    /// Builds a reply without any checks; for fixed texts such as `503 5.5.1 Error: send HELO/EHLO first`.
    public init(verbatim line: String) {
        self.line = line
    }

    /// The three-digit reply code.
    public var code: Int { Int(line.prefix(3)) ?? 0 }

    /// The enhanced status code (`5.7.1`), when the line carries one.
    public var enhancedStatus: String? {
        let rest = line.dropFirst(4)
        let word = rest.prefix { $0 != " " }
        let length = SMTPReply.dsnLength(Array(word.utf8))
        return length > 0 && length == word.utf8.count ? String(word) : nil
    }

    /// The text after the code and enhanced status.
    public var text: String {
        var rest = Substring(line.dropFirst(4))
        if let status = enhancedStatus {
            rest = rest.dropFirst(status.count)
            if rest.first == " " { rest = rest.dropFirst() }
        }
        return String(rest)
    }

    public var isPermanent: Bool { line.first == "5" }
    public var description: String { line }

    /// What the reply constructor had to repair, for the log.
    public enum Repair: Sendable, Hashable {
        case badReplyCode(String)
        case badDSN(String)
    }

    /// The reply before the last two steps (soft bounce, DSN class), so that an active
    /// `defer_if_reject` can still look at the first digit as Postfix does.
    public struct Draft: Sendable, Hashable {
        public let line: String
        public let repair: Repair?
        public var isPermanent: Bool { line.first == "5" }
    }

    /// Steps 1-3 of Postfix's reply construction: format `code dsn text`, replace a code outside
    /// 400-599 or a malformed DSN by `450 4.7.1 Service unavailable`, and make every byte
    /// printable (spaces replace the rest).
    ///
    /// Postfix's source asks for a cut at 510 bytes, but its string "truncation" only moves the
    /// write position and leaves the terminator where it was, so the reply it sends and logs is
    /// the whole text: a real Postfix 3.7.11 answers a 743-byte reply, and 2 KB for a 2 KB HELO,
    /// on one line. heloguard gives the same, uncut.
    public static func draft(code: Int, dsn: String, text: String) -> Draft {
        var line = "\(code) \(dsn) \(text)"
        var repair: Repair? = nil
        if code < 400 || code > 599 {
            repair = .badReplyCode(line)
            line = "450 4.7.1 Service unavailable"
        } else if dsnLength(Array(line.utf8.dropFirst(4))) == 0 {
            repair = .badDSN(line)
            line = "450 4.7.1 Service unavailable"
        }
        let bytes = Printable.sanitized(Array(line.utf8), for: .postfix(replacement: UInt8(ascii: " ")))
        return Draft(line: String(decoding: bytes, as: UTF8.self), repair: repair)
    }

    /// The last steps: `soft_bounce` turns 5 into 4, and the DSN class follows the reply code.
    public static func finish(_ draft: Draft, softBounce: Bool) -> SMTPReply {
        var bytes = Array(draft.line.utf8)
        if softBounce && bytes.first == UInt8(ascii: "5") { bytes[0] = UInt8(ascii: "4") }
        if bytes.count > 4 { bytes[4] = bytes[0] }
        return SMTPReply(verbatim: String(decoding: bytes, as: UTF8.self))
    }

    /// Postfix's `dsn_valid()`: `[245].d{1,3}.d{1,3}` followed by the end or white space;
    /// returns the length of the status, 0 when there is none.
    public static func dsnLength(_ bytes: some Collection<UInt8>) -> Int {
        let b = Array(bytes)
        func isDigit(_ i: Int) -> Bool { i < b.count && b[i] >= 0x30 && b[i] <= 0x39 }
        guard b.count >= 2, [UInt8(ascii: "2"), UInt8(ascii: "4"), UInt8(ascii: "5")].contains(b[0]),
              b[1] == UInt8(ascii: ".") else { return 0 }
        var i = 2
        var digits = 0
        while isDigit(i) { i += 1; digits += 1 }
        guard digits >= 1, digits <= 3, i < b.count, b[i] == UInt8(ascii: ".") else { return 0 }
        i += 1
        digits = 0
        while isDigit(i) { i += 1; digits += 1 }
        guard digits >= 1, digits <= 3 else { return 0 }
        if i < b.count, !CLocale.isSpace(Unicode.Scalar(b[i])) { return 0 }
        return i
    }
}
