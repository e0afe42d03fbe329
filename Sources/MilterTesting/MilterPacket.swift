/// One milter protocol packet: a 4-byte big-endian length (counting the code byte and the
/// payload), the command or reply letter, then the payload.
public struct MilterPacket: Equatable, Sendable, CustomStringConvertible {
    /// The command (SMFIC_*) or reply (SMFIR_*) letter.
    public var code: UInt8
    /// Everything after the letter.
    public var payload: [UInt8]

    /// Largest packet this client accepts; anything longer is treated as garbage rather than
    /// allocated (Postfix's own limit is far higher, but no reply of a HELO milter comes close).
    public static let maximumLength = 16 * 1024 * 1024

    public init(code: UInt8, payload: [UInt8] = []) {
        self.code = code
        self.payload = payload
    }

    /// The bytes on the wire.
    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(5 + payload.count)
        bytes.appendBigEndian(UInt32(payload.count + 1))
        bytes.append(code)
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// Decodes the first packet of `bytes`. Returns nil when `bytes` does not hold a whole
    /// packet yet, otherwise the packet and how many bytes it took.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(MTAClientError) -> (packet: MilterPacket, length: Int)? {
        guard bytes.count >= 4 else { return nil }
        let start = bytes.startIndex
        let length = bytes[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length >= 1 else { throw .malformedPacket("packet length 0") }
        guard length <= maximumLength else { throw .malformedPacket("packet length \(length) exceeds \(maximumLength)") }
        guard bytes.count >= 4 + length else { return nil }
        let body = bytes[(start + 4)..<(start + 4 + length)]
        return (MilterPacket(code: body.first!, payload: Array(body.dropFirst())), 4 + length)
    }

    public var description: String {
        let letter = (0x20..<0x7f).contains(code) ? String(UnicodeScalar(code)) : "\\x" + String(code, radix: 16)
        return "'\(letter)' +\(payload.count) bytes"
    }
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)])
    }

    mutating func appendBigEndian(_ value: UInt16) {
        append(contentsOf: [UInt8(value >> 8), UInt8(value & 0xff)])
    }

    /// The string's UTF-8 bytes and a terminating NUL, as the protocol sends every string.
    mutating func appendCString(_ string: String) {
        append(contentsOf: Array(string.utf8))
        append(0)
    }
}

/// Reads the fields of a packet's payload in order; every read fails with a description of
/// what was missing rather than trapping.
struct MilterPayloadReader {
    private let bytes: [UInt8]
    private var position = 0
    private let what: String

    init(_ packet: MilterPacket, what: String) {
        bytes = packet.payload
        self.what = what
    }

    var isAtEnd: Bool { position == bytes.count }

    mutating func uint32() throws(MTAClientError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw .malformedPacket("\(what): truncated 32-bit number") }
        defer { position += 4 }
        return bytes[position..<position + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint16() throws(MTAClientError) -> UInt16 {
        guard bytes.count - position >= 2 else { throw .malformedPacket("\(what): truncated 16-bit number") }
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func byte() throws(MTAClientError) -> UInt8 {
        guard position < bytes.count else { throw .malformedPacket("\(what): truncated") }
        defer { position += 1 }
        return bytes[position]
    }

    /// A NUL-terminated string (decoded as UTF-8; invalid bytes become U+FFFD).
    mutating func cString() throws(MTAClientError) -> String {
        guard let end = bytes[position...].firstIndex(of: 0) else {
            throw .malformedPacket("\(what): string without terminating NUL")
        }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }

    /// Everything not read yet.
    mutating func rest() -> [UInt8] {
        defer { position = bytes.count }
        return Array(bytes[position...])
    }

    /// Fails unless the whole payload was read.
    func finish() throws(MTAClientError) {
        guard isAtEnd else { throw .malformedPacket("\(what): \(bytes.count - position) unexpected trailing bytes") }
    }
}
