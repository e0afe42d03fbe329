#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as raw bytes, parsed and printed with the C library's
/// `inet_pton`/`inet_ntop`, the same functions Postfix uses for cidr tables and mynetworks.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case v4, v6 }

    /// 4 bytes for IPv4, 16 for IPv6, network order.
    public let bytes: [UInt8]

    public var family: Family { bytes.count == 4 ? .v4 : .v6 }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Parses a bare address (no brackets, no `IPv6:` prefix, no zone). An address with `:` is
    /// read as IPv6, anything else as IPv4, exactly as `inet_pton` accepts it.
    public init?(_ text: String) {
        // Bytes and withCString: this runs for every client, several times per connection.
        if text.utf8.contains(UInt8(ascii: ":")) {
            var storage = in6_addr()
            guard text.withCString({ inet_pton(AF_INET6, $0, &storage) }) == 1 else { return nil }
            self.bytes = withUnsafeBytes(of: &storage) { Array($0) }
        } else {
            var storage = in_addr()
            guard text.withCString({ inet_pton(AF_INET, $0, &storage) }) == 1 else { return nil }
            self.bytes = withUnsafeBytes(of: &storage) { Array($0) }
        }
    }

    /// The canonical text form (`192.0.2.1`, `2001:db8::1`).
    public var description: String {
        if bytes.count == 4 {
            // inet_ntop's IPv4 form (`%u.%u.%u.%u`) without its sprintf: this is on the path of
            // every mynetworks check.
            var text = ""
            text.reserveCapacity(15)
            for (index, byte) in bytes.enumerated() {
                if index > 0 { text.append(".") }
                text.append(String(byte))
            }
            return text
        }
        var buffer = [CChar](repeating: 0, count: 64)
        var copy = bytes
        let family = self.family == .v4 ? AF_INET : AF_INET6
        let ok = copy.withUnsafeMutableBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil
        }
        guard ok else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), if this is one.
    public var unmappedIPv4: IPAddress? {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }),
              bytes[10] == 0xFF, bytes[11] == 0xFF else { return nil }
        return IPAddress(bytes: Array(bytes[12..<16]))
    }
}

/// An address block such as `192.0.2.0/24` or `2001:db8::/32`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// True when `candidate` is of the same family and its first `prefixLength` bits equal ours.
    public func contains(_ candidate: IPAddress) -> Bool {
        guard candidate.family == address.family else { return false }
        var remaining = prefixLength
        for index in 0..<address.bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(UInt8(0xFF) >> UInt8(bits))
            if (candidate.bytes[index] & mask) != (address.bytes[index] & mask) { return false }
            remaining -= bits
        }
        return true
    }

    /// True when no bit beyond the prefix is set (Postfix refuses such cidr patterns).
    public var hasNoHostBits: Bool {
        IPNetwork(address: address, prefixLength: prefixLength).masked.address == address
    }

    /// This network with the host bits cleared.
    public var masked: IPNetwork {
        var bytes = address.bytes
        var remaining = prefixLength
        for index in 0..<bytes.count {
            let bits = max(0, min(8, remaining))
            let mask: UInt8 = bits == 8 ? 0xFF : (bits == 0 ? 0 : ~(UInt8(0xFF) >> UInt8(bits)))
            bytes[index] &= mask
            remaining -= 8
        }
        return IPNetwork(address: IPAddress(bytes: bytes)!, prefixLength: prefixLength)
    }

    public var description: String {
        address.family == .v6 ? "[\(address)]/\(prefixLength)" : "\(address)/\(prefixLength)"
    }
}
