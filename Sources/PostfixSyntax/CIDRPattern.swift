/// Postfix's `cidr_match_parse()`: an address pattern of a `cidr:` table or of `mynetworks`, in
/// one of the forms `addr`, `addr/len`, `[addr]`, `[addr]/len` and `[addr/len]`. An address with
/// `:` is IPv6, any other IPv4, parsed with `inet_pton` (so `01.2.3.4` is refused); a bare
/// address is a host network (`/32`, `/128`); a network must have no bit set beyond its prefix.
public enum CIDRPattern {
    /// Why a pattern cannot be used, in Postfix's words (e.g. `bad mask length in "1.2.3.4/33"`).
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String

        public init(_ message: String) { self.message = message }

        public var description: String { message }
    }

    public static func parse(_ text: String) -> Result<IPNetwork, Problem> {
        var address = Substring(text)
        var maskSearch: Substring
        if address.first == "[" {
            address = address.dropFirst()
            guard let close = address.firstIndex(of: "]") else {
                return .failure(Problem("missing ']' character after \"[\(address)\""))
            }
            let after = address[address.index(after: close)...]
            address = address[..<close]
            if after.first == "/" {
                maskSearch = after
            } else if after.isEmpty {
                maskSearch = address
            } else {
                return .failure(Problem("garbage after \"[\(address)]\""))
            }
        } else {
            maskSearch = address
        }

        guard let slash = maskSearch.firstIndex(of: "/") else {
            guard let parsed = IPAddress(String(address)) else {
                return .failure(Problem("bad address pattern: \"\(address)\""))
            }
            return .success(IPNetwork(address: parsed, prefixLength: parsed.bytes.count * 8))
        }
        let mask = maskSearch[maskSearch.index(after: slash)...]
        if maskSearch.startIndex == address.startIndex {
            // The mask was inside the address text (`addr/len`, `[addr/len]`): cut it off.
            address = address[..<slash]
        }
        let bitCount = address.contains(":") ? 128 : 32
        guard !mask.isEmpty, mask.utf8.allSatisfy(CLocale.isDigit) else {
            return .failure(Problem("bad mask value in \"\(address)/\(mask)\""))
        }
        guard let length = Int(mask), length <= bitCount else {
            return .failure(Problem("bad mask length in \"\(address)/\(mask)\""))
        }
        guard let parsed = IPAddress(String(address)) else {
            return .failure(Problem("bad network value in \"\(address)/\(mask)\""))
        }
        let network = IPNetwork(address: parsed, prefixLength: length)
        guard network.hasNoHostBits else {
            return .failure(Problem(
                "non-null host address bits in \"\(address)/\(mask)\", "
                + "perhaps you should use \"\(network.masked.address)/\(length)\" instead"))
        }
        return .success(network)
    }
}
