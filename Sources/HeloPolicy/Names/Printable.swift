/// Postfix's `printable()`: every byte that is not printable ASCII and not part of a well-formed
/// UTF-8 character is replaced. Works on bytes, because HELO names and table text may hold any.
public enum Printable {
    public static func replacingNonPrintable(_ bytes: [UInt8], with replacement: UInt8) -> [UInt8] {
        var out = bytes
        var index = 0
        while index < out.count {
            let byte = out[index]
            if byte < 0x80 {
                if byte < 0x20 || byte == 0x7F { out[index] = replacement }
                index += 1
                continue
            }
            let length = utf8SequenceLength(out, at: index)
            if length == 0 {
                out[index] = replacement
                index += 1
            } else {
                index += length
            }
        }
        return out
    }

    public static func replacingNonPrintable(_ text: String, with replacement: Character) -> String {
        let bytes = replacingNonPrintable(Array(text.utf8), with: replacement.asciiValue ?? 0x3F)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Length of the well-formed UTF-8 multi-byte character at `index` (RFC 3629: no overlong
    /// forms, no surrogates, nothing above U+10FFFF), or 0 when the bytes there are malformed.
    static func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
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
