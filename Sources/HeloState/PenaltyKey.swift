import HeloPolicy
import PostfixSyntax

/// What the penalty box remembers a client by: one IPv4 address, or the IPv6 network the client's
/// address lies in.
///
/// A host with IPv6 usually holds a whole /64 (often more), and moving to the next address in it
/// costs nothing, so boxing a single IPv6 address would not keep an impersonator out. IPv6
/// addresses are therefore aggregated to a prefix (``PenaltyPolicy/ipv6PrefixLength``, /64 by
/// default). An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack socket reports an
/// IPv4 client) is the IPv4 client it stands for.
///
/// The text form, used in the store and on the command line, is the bare address for IPv4
/// (`192.0.2.1`) and `network/length` for IPv6 (`2001:db8:1:2::/64`, no brackets).
public struct PenaltyKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The IPv6 prefix lengths a key may have. Shorter prefixes would box whole providers at once.
    public static let ipv6PrefixLengths: ClosedRange<Int> = 32...128

    /// The boxed network, host bits cleared: always /32 for IPv4.
    public let network: IPNetwork

    /// The key of a client address: IPv4 as it is, IPv6 aggregated to `ipv6PrefixLength` bits.
    /// A prefix length outside ``ipv6PrefixLengths`` is clamped into it.
    public init(address: IPAddress, ipv6PrefixLength: Int = 64) {
        if let v4 = address.unmappedIPv4 {
            network = IPNetwork(address: v4, prefixLength: 32)
        } else if address.family == .v4 {
            network = IPNetwork(address: address, prefixLength: 32)
        } else {
            let length = min(max(ipv6PrefixLength, Self.ipv6PrefixLengths.lowerBound),
                             Self.ipv6PrefixLengths.upperBound)
            network = IPNetwork(address: address, prefixLength: length).masked
        }
    }

    /// Reads a key as an administrator or the store writes it.
    ///
    /// - `192.0.2.1` or `192.0.2.1/32`: that IPv4 address (an IPv4 key is always /32).
    /// - `::ffff:192.0.2.1`: the IPv4 address it maps.
    /// - `2001:db8::1`: the network of `ipv6PrefixLength` bits that holds it.
    /// - `2001:db8::/48`: that network exactly; the length must be in ``ipv6PrefixLengths`` and
    ///   no bit beyond it may be set (as Postfix refuses such cidr patterns), so a typo does not
    ///   silently box a different network.
    public init(parsing text: String, ipv6PrefixLength: Int = 64) throws(PenaltyKeyError) {
        let trimmed = text.trimmingSpaces
        guard !trimmed.isEmpty else { throw .empty }
        let parts = trimmed.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        guard let address = IPAddress(addressText) else { throw .badAddress(trimmed) }
        guard parts.count == 2 else {
            self.init(address: address, ipv6PrefixLength: ipv6PrefixLength)
            return
        }
        let lengthText = parts[1]
        guard !lengthText.isEmpty, lengthText.allSatisfy({ $0.isASCII && $0.isNumber }),
              lengthText.count <= 3, let length = Int(lengthText) else {
            throw .badPrefixLength(trimmed)
        }
        if address.family == .v4 {
            guard length == 32 else { throw .ipv4PrefixNot32(trimmed) }
            self.init(network: IPNetwork(address: address, prefixLength: 32))
            return
        }
        guard Self.ipv6PrefixLengths.contains(length) else { throw .ipv6PrefixOutOfRange(trimmed) }
        let candidate = IPNetwork(address: address, prefixLength: length)
        guard candidate.hasNoHostBits else {
            throw .hostBitsSet(trimmed, suggestion: PenaltyKey(network: candidate.masked).description)
        }
        self.init(network: candidate)
    }

    private init(network: IPNetwork) {
        self.network = network
    }

    public var family: IPAddress.Family { network.address.family }

    /// True when `address` is boxed under this key.
    public func contains(_ address: IPAddress) -> Bool {
        network.contains(address.unmappedIPv4 ?? address)
    }

    /// `192.0.2.1` or `2001:db8:1:2::/64`.
    public var description: String {
        family == .v4 ? network.address.description : "\(network.address)/\(network.prefixLength)"
    }

    /// IPv4 before IPv6, then by address bytes, then by prefix length: a stable listing order.
    public static func < (lhs: PenaltyKey, rhs: PenaltyKey) -> Bool {
        let left = lhs.network.address.bytes, right = rhs.network.address.bytes
        if left.count != right.count { return left.count < right.count }
        if left != right { return left.lexicographicallyPrecedes(right) }
        return lhs.network.prefixLength < rhs.network.prefixLength
    }
}

/// Why a text is not a penalty-box key. Each case carries the text as it was given.
public enum PenaltyKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    case empty
    case badAddress(String)
    case badPrefixLength(String)
    case ipv4PrefixNot32(String)
    case ipv6PrefixOutOfRange(String)
    case hostBitsSet(String, suggestion: String)

    public var description: String {
        switch self {
        case .empty:
            return "empty client address: expected an IPv4 or IPv6 address"
        case let .badAddress(text):
            return "\"\(text)\" is not an IPv4 or IPv6 address"
        case let .badPrefixLength(text):
            return "\"\(text)\": the prefix length after / must be a number"
        case let .ipv4PrefixNot32(text):
            return "\"\(text)\": the penalty box keeps single IPv4 addresses, so an IPv4 prefix must be /32"
        case let .ipv6PrefixOutOfRange(text):
            let range = PenaltyKey.ipv6PrefixLengths
            return "\"\(text)\": an IPv6 prefix must be /\(range.lowerBound) to /\(range.upperBound)"
        case let .hostBitsSet(text, suggestion):
            return "\"\(text)\" has bits set beyond its prefix length (did you mean \(suggestion)?)"
        }
    }
}

extension String {
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
