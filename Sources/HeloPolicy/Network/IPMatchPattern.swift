/// Postfix's `ip_match` patterns, used after `=` in `reject_rhsbl_helo rbl.domain=pattern` to
/// say which A records of the block list count (`src/util/ip_match.c`): four dot-separated
/// fields, each a number 0-255 or `[...]` holding `;`-separated numbers and `n..m` ranges,
/// e.g. `127.0.0.2`, `127.0.0.[2..11]`, `127.0.[0;1].[2;4;10..20]`. The whole pattern may be
/// enclosed in brackets (`[127.0.0.2]`). IPv4 only, as in Postfix.
public struct IPMatchPattern: Sendable, Hashable {
    enum Field: Sendable, Hashable {
        case value(Int)
        /// Any of these ranges (a single number is a one-element range).
        case choice([ClosedRange<Int>])

        func matches(_ octet: Int) -> Bool {
            switch self {
            case .value(let value): return value == octet
            case .choice(let ranges): return ranges.contains { $0.contains(octet) }
            }
        }
    }

    let fields: [Field]

    /// True when `address` is an IPv4 address whose four bytes match the four fields.
    public func matches(_ address: String) -> Bool {
        guard let parsed = IPAddress(address), parsed.family == .v4 else { return false }
        return zip(fields, parsed.bytes).allSatisfy { $0.matches(Int($1)) }
    }

    /// A pattern that cannot be read, with Postfix's `ip_match_parse()` wording, e.g.
    /// `need decimal number 0..255 or "[" at "127.0.0.>x<"`.
    public struct SyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// Parses a pattern, as Postfix does when the restriction is first used.
    public static func parse(_ text: String) -> Result<IPMatchPattern, SyntaxError> {
        var bytes = Array(text.utf8)
        if bytes.first == UInt8(ascii: "[") {
            var level = 0
            var close: Int? = nil
            for (index, byte) in bytes.enumerated() {
                if byte == UInt8(ascii: "[") { level += 1 }
                if byte == UInt8(ascii: "]") { level -= 1; if level == 0 { close = index; break } }
            }
            guard let close else { return .failure(SyntaxError(description: "missing \"]\" character")) }
            if close == bytes.count - 1 { bytes = Array(bytes[1..<close]) }
        }
        guard !bytes.isEmpty else { return .failure(SyntaxError(description: "empty address pattern")) }
        var scanner = Scanner(bytes: bytes)
        var fields: [Field] = []
        while true {
            let token = scanner.next()
            switch token {
            case .number(let value):
                fields.append(.value(value))
            case .character(UInt8(ascii: "[")):
                var ranges: [ClosedRange<Int>] = []
                while true {
                    guard case .number(let low) = scanner.next() else {
                        return .failure(scanner.error("need decimal number 0..255"))
                    }
                    var lookAhead = scanner.next()
                    if lookAhead == .character(UInt8(ascii: ".")) {
                        guard scanner.next() == .character(UInt8(ascii: ".")),
                              case .number(let high) = scanner.next(), low <= high else {
                            return .failure(scanner.error("numeric range error"))
                        }
                        ranges.append(low...high)
                        lookAhead = scanner.next()
                    } else {
                        ranges.append(low...low)
                    }
                    if lookAhead == .character(UInt8(ascii: ";")) { continue }
                    if lookAhead == .character(UInt8(ascii: "]")) { break }
                    return .failure(scanner.error("need \";\" or \"]\""))
                }
                fields.append(.choice(ranges))
            default:
                return .failure(scanner.error("need decimal number 0..255 or \"[\""))
            }
            if fields.count == 4 {
                if !scanner.atEnd {
                    _ = scanner.next()
                    return .failure(scanner.error("garbage after pattern"))
                }
                return .success(IPMatchPattern(fields: fields))
            }
            guard scanner.next() == .character(UInt8(ascii: ".")) else {
                return .failure(scanner.error("need \".\""))
            }
        }
    }

    /// The tokenizer: a run of digits (a number, or too large), any other single byte, or the end.
    private struct Scanner {
        enum Token: Equatable {
            case number(Int)
            case tooLarge
            case character(UInt8)
            case end
        }

        let bytes: [UInt8]
        var position = 0
        /// Where the last token began, for error messages.
        var tokenStart = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { position >= bytes.count }

        mutating func next() -> Token {
            tokenStart = position
            guard position < bytes.count else { return .end }
            let first = bytes[position]
            guard first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9") else {
                position += 1
                return .character(first)
            }
            var value = 0
            var tooLarge = false
            while position < bytes.count, bytes[position] >= UInt8(ascii: "0"), bytes[position] <= UInt8(ascii: "9") {
                value = min(value * 10 + Int(bytes[position] - UInt8(ascii: "0")), 1000)
                if value > 255 { tooLarge = true }
                position += 1
            }
            return tooLarge ? .tooLarge : .number(value)
        }

        /// `reason at "<before>><last token><<rest>"`, as Postfix shows the place.
        func error(_ reason: String) -> SyntaxError {
            let before = String(decoding: bytes[..<tokenStart], as: UTF8.self)
            let token = String(decoding: bytes[tokenStart..<position], as: UTF8.self)
            let rest = String(decoding: bytes[position...], as: UTF8.self)
            return SyntaxError(description: "\(reason) at \"\(before)>\(token)<\(rest)\"")
        }
    }
}
