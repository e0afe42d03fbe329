import FuzzSupport
import HeloPolicy

/// HELO name handling and the syntax checks: the command tokeniser, the stored (logged) form,
/// host name / address syntax and IDNA. Input: the raw text after `HELO `.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHeloName(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = FuzzInput(data, size)
    let raw = input.bytes

    if let argument = HeloName.commandArgument(bytes: raw) {
        require(!argument.isEmpty && !argument.contains(0), "argument empty or with NUL")
        // Tokenising the argument again changes nothing: it is what the milter receives.
        require(HeloName.commandArgument(bytes: argument) == argument,
                "command argument not stable: \(shown(String(decoding: argument, as: UTF8.self)))")
    }

    let stored = HeloName.stored(bytes: raw)
    // Malformed UTF-8 became `?` before decoding, so decoding repaired nothing: a U+FFFD in the
    // stored form was already in the input.
    require(!stored.unicodeScalars.contains("\u{FFFD}") || containsReplacementCharacter(raw),
            "stored name was not UTF-8 before decoding: \(shown(stored))")
    require(!stored.utf8.contains { $0 < 0x20 || $0 == 0x7F || HeloName.neuteredBytes.contains($0) },
            "stored name keeps a control or neutered byte: \(shown(stored))")
    require(HeloName.stored(stored) == stored, "stored name not stable: \(shown(stored))")

    let name = String(decoding: raw, as: UTF8.self)
    checkSyntax(name)
    let bare = HostnameSyntax.droppingOneTrailingDot(name)
    require(bare.utf8.count == name.utf8.count || bare.utf8.count == name.utf8.count - 1, "dropped more than one dot")

    if let ascii = IDNA.toASCII(name) {
        require(ascii.utf8.allSatisfy { $0 < 0x80 }, "IDNA result not ASCII: \(shown(ascii))")
        require(HostnameSyntax.isValidHostname(ascii), "IDNA result not a valid host name: \(shown(ascii))")
        require(IDNA.toASCII(ascii) == ascii, "IDNA not stable: \(shown(name)) -> \(shown(ascii))")
    }
    _ = HostnameSyntax.isValidUTF8Hostname(name, smtputf8: true)
    return 0
}

private func checkSyntax(_ name: String) {
    let bytes = Array(name.utf8)
    if HostnameSyntax.isValidHostname(bytes: bytes) {
        require(bytes.count <= HostnameSyntax.maximumNameLength, "valid host name longer than 255")
        require(bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") },
                "valid host name with a byte outside [A-Za-z0-9._-]: \(shown(name))")
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).dropLast(bytes.last == UInt8(ascii: ".") ? 1 : 0) {
            require(!label.isEmpty && label.count <= HostnameSyntax.maximumLabelLength, "bad label length in \(shown(name))")
        }
    }
    if HostnameSyntax.isValidIPv4Address(bytes: bytes) {
        // Postfix allows leading zeros (inet_pton does not): four decimal numbers up to 255.
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        require(parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(ReplyRules.isDigit)
                                                       && Int(String(decoding: $0, as: UTF8.self)).map { $0 <= 255 } ?? false },
                "valid IPv4 address is not four numbers up to 255: \(shown(name))")
    }
    if HostnameSyntax.isValidIPv6Address(bytes: bytes) {
        // Postfix's test counts colons (`1:2:3` passes): hex digits, colons and a dotted quad only.
        let colons = bytes.filter { $0 == UInt8(ascii: ":") }.count
        require((2...7).contains(colons) && bytes.allSatisfy { isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") },
                "valid IPv6 address with a stray byte or colon count: \(shown(name))")
    }
    _ = HostnameSyntax.isValidHostAddress(bytes: bytes)
    _ = HostnameSyntax.isValidMailhostAddress(bytes: bytes)
    _ = HostnameSyntax.isValidHostname(bytes: bytes, allowWildcard: true)
}

private func isHexDigit(_ byte: UInt8) -> Bool {
    ReplyRules.isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
}

private func isAlnum(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
}

/// True when `bytes` hold U+FFFD's own encoding (EF BF BD).
private func containsReplacementCharacter(_ bytes: [UInt8]) -> Bool {
    guard bytes.count >= 3 else { return false }
    return (0...(bytes.count - 3)).contains { bytes[$0] == 0xEF && bytes[$0 + 1] == 0xBF && bytes[$0 + 2] == 0xBD }
}
