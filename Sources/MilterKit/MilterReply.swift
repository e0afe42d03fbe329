import PostfixSyntax

/// A custom SMTP reply for the MTA to send: a 4xx or 5xx code, an optional enhanced status
/// code, and one or more lines of text. It knows nothing of HELO; it only keeps libmilter's
/// and the MTA's rules, so a reply it accepts is one the MTA relays rather than drops.
public struct MilterReply: Sendable, Hashable, CustomStringConvertible {
    /// Three digits, first 4 or 5.
    public let code: String
    /// `X.Y.Z` with X equal to the code's first digit, or nil.
    public let enhancedCode: String?
    /// The text of each line, without code and enhanced code.
    public let lines: [String]

    /// Why a reply cannot be sent as it is.
    public enum Problem: Error, Sendable, Hashable {
        case badCode(String)
        case badEnhancedCode(String)
        /// The enhanced code's class differs from the reply code's; Postfix would put the milter
        /// into its error state for the rest of the session.
        case classMismatch(code: String, enhancedCode: String)
        case noText
    }

    /// Checks the parts and makes the text 7-bit printable, whatever it was built from (a HELO
    /// name, a client name the MTA looked up, table text): see ``sevenBitPrintable(_:)``.
    public init(code: String, enhancedCode: String?, lines: [String]) throws(Problem) {
        let codeBytes = Array(code.utf8)
        guard codeBytes.count == 3, codeBytes[0] == UInt8(ascii: "4") || codeBytes[0] == UInt8(ascii: "5"),
              codeBytes.allSatisfy(CLocale.isDigit)
        else { throw .badCode(code) }
        if let enhancedCode {
            guard Self.isEnhancedCode(enhancedCode) else { throw .badEnhancedCode(enhancedCode) }
            guard enhancedCode.utf8.first == codeBytes[0] else { throw .classMismatch(code: code, enhancedCode: enhancedCode) }
        }
        // Postfix reads a digit right after the code as the start of an enhanced code and puts
        // the milter into its error state when the classes differ (`550 4 items`); such text
        // gets the class's default enhanced code, as libmilter gives every multi-line reply.
        let enhancedCode = enhancedCode ?? lines.first?.utf8.first.flatMap { first in
            CLocale.isDigit(first) ? String(decoding: [codeBytes[0]], as: UTF8.self) + ".0.0" : nil
        }

        guard !lines.isEmpty else { throw .noText }
        self.code = code
        self.enhancedCode = enhancedCode
        self.lines = lines.map(Self.sevenBitPrintable)
    }

    /// Splits a complete one-line reply (`550 5.7.1 text`) into its parts.
    public init(line: String) throws(Problem) {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        let code = parts[0]
        if parts.count >= 2, Self.isEnhancedCode(parts[1]) {
            try self.init(code: code, enhancedCode: parts[1], lines: [parts.count == 3 ? parts[2] : ""])
        } else {
            try self.init(code: code, enhancedCode: nil, lines: [parts.count >= 2 ? parts[1...].joined(separator: " ") : ""])
        }
    }

    /// True for 5xx (permanent), false for 4xx.
    public var isPermanent: Bool { code.utf8.first == UInt8(ascii: "5") }

    /// The reply as the SMTP client will see it (one line per element).
    public var smtpLines: [String] {
        lines.enumerated().map { index, text in
            let separator = index == lines.count - 1 ? " " : "-"
            return code + separator + (enhancedCode.map { $0 + " " } ?? "") + text
        }
    }

    public var description: String { smtpLines.joined(separator: "\r\n") }

    /// The most text libmilter takes for one line of a reply, in bytes.
    public static let wireLineLimit = 980
    /// The most lines libmilter takes for one reply (heloguard's C shim passes up to this many).
    public static let wireLineCountLimit = 8

    /// The text as libmilter must be given it: the MTA treats it as a format string, so each
    /// `%` is doubled (Postfix drops a single `%`, Sendmail discards the whole text). A line
    /// longer than libmilter's limit is split into several lines (never inside a `%%` pair or a
    /// character), so the client still receives the whole text rather than a failure. Text beyond
    /// ``wireLineCountLimit`` lines is left out: the reply keeps its code rather than becoming
    /// a failure of ours.
    public var wireLines: [String] {
        var result: [String] = []
        for line in lines where result.count < Self.wireLineCountLimit {
            var chunk = ""
            var chunkBytes = 0
            for character in line {
                let piece = character == "%" ? "%%" : String(character)
                let size = piece.utf8.count
                if chunkBytes + size > Self.wireLineLimit {
                    result.append(chunk)
                    chunk = ""
                    chunkBytes = 0
                }
                chunk += piece
                chunkBytes += size
            }
            result.append(chunk)
        }
        return Array(result.prefix(Self.wireLineCountLimit))
    }

    static func isEnhancedCode(_ text: String) -> Bool {
        let fields = text.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 3, let first = fields[0].first, "245".contains(first), fields[0].count == 1 else { return false }
        return fields[1...].allSatisfy { (1...3).contains($0.count) && $0.utf8.allSatisfy(CLocale.isDigit) }
    }

    /// The text as every reply goes on the wire (`heloguard test` shows it the same way): the
    /// sanitiser's `.smtpReply` flavour, every byte in 0x20...0x7E. CR, LF and other control
    /// bytes become spaces (libmilter refuses a reply containing CR or LF); each character
    /// outside ASCII becomes one `?` (SMTP replies are 7-bit; Sendmail hands the milter PTR
    /// names with any bytes; a malformed byte was already one U+FFFD character when decoded).
    public static func sevenBitPrintable(_ text: String) -> String {
        Printable.sanitized(text, for: .smtpReply)
    }
}
