/// The one sanitiser for text that leaves heloguard: every byte is read as printable ASCII, an
/// ASCII control (0x00-0x1F, DEL), a well-formed UTF-8 character (RFC 3629), or a byte of
/// malformed UTF-8, and each ``Flavour`` says what becomes of each kind. Text from a client (a
/// HELO name, a PTR name, a sender) or from a table can hold any bytes; none of it may split a
/// reply or a log line, or move a terminal's cursor.
///
/// A Swift `String` is always well-formed UTF-8 (malformed input was already repaired to
/// U+FFFD when it was decoded), so only the byte form ever meets malformed bytes.
public enum Printable {
    /// What is kept and what is replaced; printable ASCII is always kept.
    public enum Flavour: Sendable, Hashable {
        /// An SMTP reply as it goes on the wire: 7-bit printable. Controls (CR and LF too:
        /// libmilter refuses a reply with either) become spaces; every character outside ASCII
        /// becomes one `?` (SMTP replies are 7-bit; Sendmail hands the milter PTR names with
        /// any bytes), so does each malformed byte.
        case smtpReply
        /// One log line: controls become `?`, so nothing a client sends can forge or split a
        /// line; 8-bit text is kept (syslog and the journal take UTF-8).
        case logLine
        /// Text stored and later printed on one terminal line: controls become spaces, 8-bit
        /// text is kept.
        case terminalLine
        /// Text shown to a person who must see exactly what it holds: controls as `\xNN`, C1
        /// controls (U+0080-U+009F) and the Unicode line and paragraph separators as
        /// `\u{NNNN}` (lower-case hex); everything else is kept.
        case terminalEscaped
        /// Postfix's `printable()`: controls and each byte of malformed UTF-8 become
        /// `replacement`; well-formed UTF-8 is kept.
        case postfix(replacement: UInt8)
    }

    /// `text` made safe for `flavour`; the same string when there is nothing to replace.
    public static func sanitized(_ text: String, for flavour: Flavour) -> String {
        if isUnchanged(text.utf8, by: flavour) { return text }
        return String(decoding: sanitized(Array(text.utf8), for: flavour), as: UTF8.self)
    }

    /// `bytes` made safe for `flavour`.
    public static func sanitized(_ bytes: [UInt8], for flavour: Flavour) -> [UInt8] {
        if isUnchanged(bytes, by: flavour) { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 {
                if CLocale.isControl(byte) { appendControl(byte, for: flavour, to: &out) } else { out.append(byte) }
                index += 1
                continue
            }
            let length = utf8SequenceLength(bytes, at: index)
            if length == 0 {
                switch flavour {
                case .smtpReply: out.append(UInt8(ascii: "?"))
                case .postfix(let replacement): out.append(replacement)
                case .logLine, .terminalLine, .terminalEscaped: out.append(byte)
                }
                index += 1
                continue
            }
            let character = bytes[index..<(index + length)]
            switch flavour {
            case .smtpReply:
                out.append(UInt8(ascii: "?"))
            case .terminalEscaped:
                let value = scalarValue(character)
                if (0x80..<0xA0).contains(value) || value == 0x2028 || value == 0x2029 {
                    out += Array("\\u{\(hex(value, digits: 4))}".utf8)
                } else {
                    out += character
                }
            case .logLine, .terminalLine, .postfix:
                out += character
            }
            index += length
        }
        return out
    }

    /// True when `flavour` would return `bytes` as they are: no control byte and, for the
    /// flavours that touch them, no byte outside ASCII.
    private static func isUnchanged(_ bytes: some Sequence<UInt8>, by flavour: Flavour) -> Bool {
        switch flavour {
        case .logLine, .terminalLine:
            return !bytes.contains(where: CLocale.isControl)
        case .smtpReply, .terminalEscaped, .postfix:
            return bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        }
    }

    private static func appendControl(_ byte: UInt8, for flavour: Flavour, to out: inout [UInt8]) {
        switch flavour {
        case .smtpReply, .terminalLine: out.append(UInt8(ascii: " "))
        case .logLine: out.append(UInt8(ascii: "?"))
        case .terminalEscaped: out += Array("\\x\(hex(UInt32(byte), digits: 2))".utf8)
        case .postfix(let replacement): out.append(replacement)
        }
    }

    /// `value` in lower-case hex, zero-padded to `digits`.
    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    /// The scalar value of one well-formed UTF-8 character.
    private static func scalarValue(_ character: ArraySlice<UInt8>) -> UInt32 {
        let lead = UInt32(character.first!)
        let leadBits: UInt32 = character.count == 2 ? lead & 0x1F : character.count == 3 ? lead & 0x0F : lead & 0x07
        return character.dropFirst().reduce(leadBits) { ($0 << 6) | (UInt32($1) & 0x3F) }
    }

    /// Length of the well-formed UTF-8 multi-byte character at `index` (RFC 3629: no overlong
    /// forms, no surrogates, nothing above U+10FFFF), or 0 when the bytes there are malformed.
    public static func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        var lowerBound: UInt8 = 0x80
        var upperBound: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lowerBound = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upperBound = 0x9F
        case 0xF0: length = 4; lowerBound = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upperBound = 0x8F
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        for offset in 1..<length {
            let byte = bytes[index + offset]
            let low: UInt8 = offset == 1 ? lowerBound : 0x80
            let high: UInt8 = offset == 1 ? upperBound : 0xBF
            if byte < low || byte > high { return 0 }
        }
        return length
    }

    /// True when the bytes are well-formed UTF-8 (the test Postfix applies to command lines).
    public static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var index = 0
        while index < bytes.count {
            if bytes[index] < 0x80 { index += 1; continue }
            let length = utf8SequenceLength(bytes, at: index)
            if length == 0 { return false }
            index += length
        }
        return true
    }
}
