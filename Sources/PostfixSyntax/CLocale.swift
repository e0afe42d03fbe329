/// Character classes of the C locale, which Postfix's parsers use (`ISSPACE`, `ISALNUM`, ...):
/// heloguard's parsers must split exactly where Postfix splits, whatever the process locale.
/// Only ASCII bytes are ever in a class; every byte from 0x80 up is in none.
public enum CLocale {
    /// `isspace()`: space, `\t`, `\n`, `\v`, `\f`, `\r`.
    @inlinable @inline(__always)
    public static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    /// `isspace()` of a scalar: false for everything outside ASCII.
    @inlinable
    public static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x80 && isSpace(UInt8(scalar.value))
    }

    /// `isdigit()`: `0`-`9`.
    @inlinable @inline(__always)
    public static func isDigit(_ byte: UInt8) -> Bool {
        byte >= 0x30 && byte <= 0x39
    }

    /// `isalpha()`: `A`-`Z`, `a`-`z`.
    @inlinable @inline(__always)
    public static func isAlpha(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A
    }

    /// `isalnum()`: letters and digits.
    @inlinable @inline(__always)
    public static func isAlnum(_ byte: UInt8) -> Bool {
        isDigit(byte) || isAlpha(byte)
    }

    /// `isxdigit()`: digits and `A`-`F`, `a`-`f`.
    @inlinable @inline(__always)
    public static func isXDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66)
    }

    /// `iscntrl()`: 0x00-0x1F and DEL.
    @inlinable @inline(__always)
    public static func isControl(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F
    }

    /// `tolower()`: `A`-`Z` to `a`-`z`, every other byte unchanged.
    @inlinable @inline(__always)
    public static func toLower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// `tolower()` over bytes, in place (Postfix's `lowercase()`).
    @inlinable
    public static func lowercase(_ bytes: inout [UInt8]) {
        for index in bytes.indices where bytes[index] >= 0x41 && bytes[index] <= 0x5A {
            bytes[index] |= 0x20
        }
    }
}
