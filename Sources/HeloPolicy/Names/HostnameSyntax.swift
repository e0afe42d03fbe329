import PostfixSyntax

/// Postfix's syntax tests for host names and numeric addresses (`src/util/valid_hostname.c`,
/// `src/global/valid_mailhost_addr.c`, `src/util/valid_utf8_hostname.c`), reproduced byte for byte.
///
/// The HELO syntax restrictions are built from these tests, so every odd corner matters: `_` is a
/// label character, a dotted quad is not a host name, and the IPv6 test counts colons instead of
/// parsing the address. All tests look at the UTF-8 bytes of their input; a NUL byte (which
/// cannot reach these tests in Postfix, whose strings end there) makes every test fail.
public enum HostnameSyntax {
    /// Longest label `valid_hostname()` accepts.
    public static let maximumLabelLength = 63
    /// Longest name `valid_hostname()` accepts, in bytes.
    public static let maximumNameLength = 255

    // MARK: - Host names

    /// Postfix `valid_hostname(name, flags)` with flags 0, or `DO_WILDCARD` when `allowWildcard`.
    ///
    /// Accepted: ASCII letters, digits, `_`, `-` and `.`; no empty label; no `-` at the start or
    /// end of a label; labels of at most 63 and names of at most 255 bytes; at least one byte
    /// that is not a digit or dot. With `allowWildcard` a leading `*.` is also accepted.
    public static func isValidHostname(_ name: String, allowWildcard: Bool = false) -> Bool {
        isValidHostname(bytes: Array(name.utf8), allowWildcard: allowWildcard)
    }

    /// Byte form of ``isValidHostname(_:allowWildcard:)``.
    public static func isValidHostname(bytes name: [UInt8], allowWildcard: Bool = false) -> Bool {
        guard !name.isEmpty, !name.contains(0) else { return false }
        var labelLength = 0
        var labelCount = 0
        var hasNonDigit = false
        for index in name.indices {
            let byte = name[index]
            let next = index + 1 < name.count ? name[index + 1] : nil
            if CLocale.isAlnum(byte) || byte == .underscore {
                if labelLength == 0 { labelCount += 1 }
                labelLength += 1
                if labelLength > maximumLabelLength { return false }
                if !CLocale.isDigit(byte) { hasNonDigit = true }
            } else if allowWildcard && byte == .asterisk {
                // Only as the whole first label, and a label must follow.
                guard labelLength == 0, labelCount == 0, next == .dot else { return false }
                labelCount += 1
                labelLength += 1
                hasNonDigit = true
            } else if byte == .dot {
                // Neither an empty label nor a trailing dot.
                guard labelLength > 0, next != nil else { return false }
                labelLength = 0
            } else if byte == .hyphen {
                hasNonDigit = true
                labelLength += 1
                // Not first in a label, not last in a label or in the name.
                if labelLength == 1 || next == nil || next == .dot { return false }
            } else {
                return false
            }
        }
        // Digits and dots only: that looks like an address, not a name.
        guard hasNonDigit else { return false }
        return name.count <= maximumNameLength
    }

    // MARK: - Numeric addresses

    /// Postfix `valid_hostaddr()`: an address containing `:` must pass the IPv6 test, any other
    /// the IPv4 test. No brackets, no `IPv6:` prefix.
    public static func isValidHostAddress(_ address: String) -> Bool {
        isValidHostAddress(bytes: Array(address.utf8))
    }

    /// Byte form of ``isValidHostAddress(_:)``.
    public static func isValidHostAddress(bytes address: [UInt8]) -> Bool {
        guard !address.isEmpty else { return false }
        return address.contains(.colon)
            ? isValidIPv6Address(bytes: address)
            : isValidIPv4Address(bytes: address)
    }

    /// Postfix `valid_ipv4_hostaddr()`: exactly four dot-separated decimal fields, each at most
    /// 255 (leading zeros are fine), no empty field; a first field of 0 only in `0.0.0.0`.
    public static func isValidIPv4Address(_ address: String) -> Bool {
        isValidIPv4Address(bytes: Array(address.utf8))
    }

    /// Byte form of ``isValidIPv4Address(_:)``.
    public static func isValidIPv4Address(bytes address: [UInt8]) -> Bool {
        isValidIPv4Address(address[...])
    }

    private static func isValidIPv4Address(_ address: ArraySlice<UInt8>) -> Bool {
        var insideField = false
        var fieldCount = 0
        var fieldValue = 0
        for index in address.indices {
            let byte = address[index]
            if CLocale.isDigit(byte) {
                if !insideField {
                    insideField = true
                    fieldValue = 0
                    fieldCount += 1
                }
                fieldValue = fieldValue * 10 + Int(byte - UInt8(ascii: "0"))
                if fieldValue > 255 { return false }
            } else if byte == .dot {
                let isLast = index + 1 == address.endIndex
                guard insideField, !isLast else { return false }
                // A zero first field is allowed only when the whole text is zeros and dots.
                if fieldCount == 1 && fieldValue == 0
                    && address.contains(where: { $0 != UInt8(ascii: "0") && $0 != .dot }) {
                    return false
                }
                insideField = false
            } else {
                return false
            }
        }
        return fieldCount == 4
    }

    /// Postfix `valid_ipv6_hostaddr()`. This is a colon-counting syntax test, not `inet_pton`:
    /// hex fields of one to four digits; at least 2 and at most 7 colons; one `::` at most; no
    /// single leading `:` before a field; an empty last field only as part of a trailing `::`; a
    /// dotted quad may end the address after 2 to 6 colons and must pass the IPv4 test. Fewer than
    /// eight fields without `::` still pass (`1:2:3`).
    public static func isValidIPv6Address(_ address: String) -> Bool {
        isValidIPv6Address(bytes: Array(address.utf8))
    }

    /// Byte form of ``isValidIPv6Address(_:)``.
    public static func isValidIPv6Address(bytes address: [UInt8]) -> Bool {
        guard !address.contains(0) else { return false }
        func byte(at index: Int) -> UInt8 { index < address.count ? address[index] : 0 }

        var colonCount = 0          // Postfix's "field" counter: colons seen so far.
        var colonCountAtDoubleColon = 0
        var hexRunLength = 0        // Length of the hex digits just read (0 right after a colon).
        var index = 0
        while true {
            switch byte(at: index) {
            case 0:
                if colonCount < 2 { return false }
                // An empty last field must be the empty field of the one `::`.
                if hexRunLength == 0 && colonCountAtDoubleColon != colonCount - 1 { return false }
                return true
            case .dot:
                // The hex run just read is really the first field of an embedded IPv4 address.
                guard (2...6).contains(colonCount) else { return false }
                return isValidIPv4Address(address[(index - hexRunLength)...])
            case .colon:
                if colonCount == 0 && hexRunLength == 0 && CLocale.isAlnum(byte(at: index + 1)) {
                    return false
                }
                colonCount += 1
                if colonCount > 7 { return false }
                index += 1
                hexRunLength = 0
                if byte(at: index) == .colon {
                    if colonCountAtDoubleColon > 0 { return false }
                    colonCountAtDoubleColon = colonCount
                }
            default:
                var end = index
                while end < address.count && CLocale.isXDigit(address[end]) { end += 1 }
                hexRunLength = end - index
                guard (1...4).contains(hexRunLength) else { return false }
                index = end
            }
        }
    }

    /// Postfix `valid_mailhost_addr()`: the text between `[` and `]` of an address literal. With a
    /// case-insensitive `IPv6:` prefix the rest must pass the IPv6 test, otherwise the whole text
    /// must pass the IPv4 test (so `::1` without the prefix fails).
    public static func isValidMailhostAddress(_ inside: String) -> Bool {
        isValidMailhostAddress(bytes: Array(inside.utf8))
    }

    /// Byte form of ``isValidMailhostAddress(_:)``.
    public static func isValidMailhostAddress(bytes inside: [UInt8]) -> Bool {
        let prefix = Array("ipv6:".utf8)
        if inside.count >= prefix.count
            && zip(inside, prefix).allSatisfy({ CLocale.toLower($0) == $1 }) {
            return isValidIPv6Address(bytes: Array(inside.dropFirst(prefix.count)))
        }
        return isValidIPv4Address(bytes: inside)
    }

    // MARK: - Helpers used by the HELO checks

    /// Postfix's `dup_if_truncate()` (`src/smtpd/smtpd_check.c`): one trailing dot is dropped
    /// when the name is longer than one byte and the byte before the dot is not a dot
    /// (`foo.` → `foo`; `foo..` and `.` stay as they are).
    public static func droppingOneTrailingDot(_ name: String) -> String {
        let bytes = Array(name.utf8)
        guard bytes.count > 1, bytes[bytes.count - 1] == .dot, bytes[bytes.count - 2] != .dot else {
            return name
        }
        return String(decoding: bytes.dropLast(), as: UTF8.self)
    }

    /// Postfix `valid_utf8_hostname(smtputf8, name)`. An ASCII name (or any name when the client
    /// did not ask for SMTPUTF8) must pass ``isValidHostname(_:allowWildcard:)``, which refuses
    /// every non-ASCII byte. A non-ASCII name under SMTPUTF8 passes when it converts to an A-label
    /// form that is a valid host name.
    public static func isValidUTF8Hostname(_ name: String, smtputf8: Bool) -> Bool {
        guard !name.isEmpty else { return false }
        if smtputf8 && !name.utf8.allSatisfy({ $0 < 0x80 }) {
            guard let ascii = IDNA.toASCII(name) else { return false }
            return isValidHostname(ascii)
        }
        return isValidHostname(name)
    }
}

extension UInt8 {
    fileprivate static let dot = UInt8(ascii: ".")
    fileprivate static let colon = UInt8(ascii: ":")
    fileprivate static let hyphen = UInt8(ascii: "-")
    fileprivate static let underscore = UInt8(ascii: "_")
    fileprivate static let asterisk = UInt8(ascii: "*")
}
