#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostfixSyntax

/// The outcome of matching a client against a `NetworkList`. `failed` is a table lookup error
/// (or a pattern Postfix can only reject at match time); Postfix answers it with a temporary
/// failure, never with a permanent decision.
public enum NetworkMatch: Sendable, Equatable {
    case matched
    case notMatched
    case failed(reason: String)
}

/// One address of a local network interface, as `getifaddrs()` reports it.
public struct InterfaceAddress: Sendable, Hashable {
    public let address: IPAddress
    public let netmask: IPAddress?

    public init(address: IPAddress, netmask: IPAddress?) {
        self.address = address
        self.netmask = netmask
    }
}

/// A Postfix host/address pattern list such as `mynetworks`, parsed once and matched against the
/// SMTP client (its verified name and its address), with Postfix's semantics
/// (`match_list.c`, `match_ops.c`, `namadr_list.c`):
///
/// - Items are separated by commas and white space; `{...}` groups are kept together. An item
///   that starts with `#` is not allowed; Postfix warns and ignores the rest of the list.
/// - Patterns are tried in order; each pattern is tried against the client name, then against
///   the client address; the first hit decides. `!pattern` turns a hit into "no match" (and stops).
/// - `/file/name` inlines the file's items (logical lines, `#` comments); `!/file` negates each.
/// - `type:table`: the client name and (fixed-string tables only) its parent domains are looked
///   up, then the client address; any value found is a hit.
/// - Addresses: `192.0.2.1`, `192.0.2.0/24`, `[2001:db8::1]`, `[2001:db8::]/32`. IPv6 must be in
///   brackets: an unbracketed `2001:db8::/32` would be read as a table of type `2001` (fatal in
///   Postfix; an error here). A network with host bits set or a bad length is accepted by Postfix
///   at start and fails each lookup of a client of that family; heloguard reports it as an error
///   and keeps Postfix's run-time behaviour.
/// - Names (case-insensitive): `example.com` matches that client name and, when the list's
///   parameter is in `parent_domain_matches_subdomains`, its subdomains; otherwise `.example.com`
///   matches subdomains.
/// - An IPv4-mapped IPv6 client address is matched in its IPv4 form (Postfix converts it).
/// - A client without a verified name is matched under the name `unknown`, as Postfix does.
public struct NetworkList: Sendable {
    enum CIDR: Sendable {
        case network(IPNetwork)
        case invalid(String)
    }

    enum Pattern: Sendable {
        /// A folded string; `cidr` is set when Postfix would hand it to `cidr_match_parse()`.
        case text(String, cidr: CIDR?)
        case table(any AccessTable)
        /// An unusable `/file` or table: every lookup fails (Postfix's surrogate table).
        case broken(String)
    }

    struct Element: Sendable {
        let negated: Bool
        let pattern: Pattern
    }

    public typealias TableOpener = (String, SourceLocation?) throws(ConfigError) -> any AccessTable

    /// The parameter this list came from, used in messages (`mynetworks: ...`).
    public let parameterName: String
    public let parentMatchesSubdomains: Bool
    let elements: [Element]

    public var isEmpty: Bool { elements.isEmpty }

    /// Parses a list value; problems come back as diagnostics at `location` (or at the line of an
    /// inlined file).
    public static func parse(
        _ value: String,
        parameterName: String = "mynetworks",
        location: SourceLocation?,
        parentMatchesSubdomains: Bool,
        openTable: TableOpener
    ) -> (NetworkList, [ConfigDiagnostic]) {
        var diagnostics: [ConfigDiagnostic] = []
        var elements: [Element] = []
        parseItems(value, negated: false, name: parameterName, location: location,
                   openTable: openTable, into: &elements, diagnostics: &diagnostics)
        return (NetworkList(parameterName: parameterName, parentMatchesSubdomains: parentMatchesSubdomains,
                            elements: elements), diagnostics)
    }

    private static func parseItems(
        _ value: String, negated: Bool, name: String, location: SourceLocation?,
        openTable: TableOpener, into elements: inout [Element], diagnostics: inout [ConfigDiagnostic]
    ) {
        for token in PostfixList.tokens(value) {
            if token.hasPrefix("#") {
                diagnostics.append(.warning(location,
                    "\(name): #comment after other text is not allowed: \(token) ... (the rest of the list is ignored)"))
                return
            }
            var negate = negated
            var item = Substring(token)
            while item.first == "!" { negate.toggle(); item = item.dropFirst() }
            if item.isEmpty {
                diagnostics.append(.error(location, "\(name): no pattern after '!'"))
                continue
            }
            let text = String(item)
            if text.hasPrefix("/") {
                do throws(FileReadError) {
                    // The file's own warnings come after those of its items, as they always have.
                    let contents = String(decoding: try FileContents.read(text), as: UTF8.self)
                    var readerWarnings: [ConfigDiagnostic] = []
                    let lines = LogicalLines.all(in: Array(contents.utf8)) {
                        readerWarnings.append(.logicalLine($0, file: text))
                    }
                    for line in lines {
                        parseItems(line.text, negated: negate, name: name,
                                   location: SourceLocation(file: text, line: line.line),
                                   openTable: openTable, into: &elements, diagnostics: &diagnostics)
                    }
                    diagnostics += readerWarnings
                } catch {
                    let reason = error.description
                    diagnostics.append(.error(location, "\(name): \(reason)"))
                    elements.append(Element(negated: negate, pattern: .broken(reason)))
                }
            } else if text.first != "[", text.contains(":") {
                let beforeSlash = text.split(separator: "/", maxSplits: 1).first.map(String.init) ?? text
                if IPAddress(beforeSlash) != nil {
                    diagnostics.append(.error(location,
                        "\(name): IPv6 address \"\(text)\" must be written in brackets, e.g. \"[\(beforeSlash)]\(text.dropFirst(beforeSlash.count))\""))
                    continue
                }
                do {
                    let table = try openTable(text, location)
                    elements.append(Element(negated: negate, pattern: .table(table)))
                } catch {
                    diagnostics += error.diagnostics
                    elements.append(Element(negated: negate, pattern: .broken("\(text): table lookup problem")))
                }
            } else {
                let folded = text.lowercased()
                let cidr = needsCIDRParse(folded) ? parseCIDR(folded) : nil
                if case .invalid(let reason) = cidr {
                    diagnostics.append(.error(location, "\(name): \(reason)"))
                }
                if cidr == nil, neverMatches(folded) {
                    diagnostics.append(.error(location,
                        "\(name): \"\(text)\" is not a valid address or network (Postfix accepts it, but it never matches)"))
                } else if cidr == nil, folded.utf8.allSatisfy({ v4Chars.contains($0) }), IPAddress(folded) == nil {
                    diagnostics.append(.warning(location,
                        "\(name): \"\(text)\" is not a valid IPv4 address; it can only match a host of that name"))
                }
                elements.append(Element(negated: negate, pattern: .text(folded, cidr: cidr)))
            }
        }
    }

    private static let v4Chars: Set<UInt8> = Array("0123456789.".utf8).reduce(into: []) { $0.insert($1) }
    private static let v6PatternChars: Set<UInt8> =
        Array("0123456789.abcdefABCDEF:[]/".utf8).reduce(into: []) { $0.insert($1) }

    /// The structural tests `match_hostaddr()` applies before parsing a pattern as a network:
    /// it has `:` or `/`, is not made of digits and dots only, and uses address characters only.
    static func needsCIDRParse(_ pattern: String) -> Bool {
        let bytes = pattern.utf8
        return bytes.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") })
            && !bytes.allSatisfy { v4Chars.contains($0) }
            && bytes.allSatisfy { v6PatternChars.contains($0) }
    }

    /// A pattern that looks like an address or network but is not one Postfix can use: it has a
    /// `/` or starts with `[` (no host name can), yet is not `[IPv4]` and fails the tests above.
    static func neverMatches(_ pattern: String) -> Bool {
        if pattern.hasPrefix("["), pattern.hasSuffix("]"),
           let inner = IPAddress(String(pattern.dropFirst().dropLast())), inner.family == .v4 {
            return false
        }
        return pattern.contains("/") || pattern.hasPrefix("[")
    }

    /// Postfix's `cidr_match_parse()`, the reason kept for the error and for failed lookups.
    static func parseCIDR(_ pattern: String) -> CIDR {
        switch CIDRPattern.parse(pattern) {
        case .success(let network): return .network(network)
        case .failure(let problem): return .invalid(problem.message)
        }
    }

    /// Matches a client: `clientName` is the verified client name (nil: none, matched as
    /// `unknown`), `clientAddress` its address.
    public func matches(clientName: String?, clientAddress: IPAddress) -> NetworkMatch {
        let name = (clientName ?? "unknown").lowercased()
        let client = clientAddress.unmappedIPv4 ?? clientAddress
        // inet_ntop's text is lower case already.
        let address = client.description
        for element in elements {
            // The name first, then the address, as match_list() tries each pattern.
            var result = matchName(name, element.pattern)
            if case .notMatched = result { result = matchAddress(address, client, element.pattern) }
            switch result {
            case .matched: return element.negated ? .notMatched : .matched
            case .failed(let reason): return .failed(reason: "\(parameterName): \(reason)")
            case .notMatched: continue
            }
        }
        return .notMatched
    }

    /// `match_hostname()`.
    private func matchName(_ name: String, _ pattern: Pattern) -> NetworkMatch {
        switch pattern {
        case .broken(let reason):
            return .failed(reason: reason)
        case .table(let table):
            var entry = Substring(name)
            var first = true
            while !entry.isEmpty {
                if first || table.matchesFixedStrings {
                    switch table.lookup(String(entry)) {
                    case .found: return .matched
                    case .failed: return .failed(reason: "\(table.spec): table lookup problem")
                    case .notFound: break
                    }
                }
                first = false
                guard let dot = entry.dropFirst().firstIndex(of: ".") else { break }
                entry = parentMatchesSubdomains ? entry[entry.index(after: dot)...] : entry[dot...]
            }
            return .notMatched
        case .text(let pattern, _):
            if name == pattern { return .matched }
            let nameLength = name.utf8.count, patternLength = pattern.utf8.count
            guard nameLength > patternLength, name.hasSuffix(pattern) else { return .notMatched }
            if parentMatchesSubdomains {
                let before = name.utf8[name.utf8.index(name.utf8.startIndex, offsetBy: nameLength - patternLength - 1)]
                return before == UInt8(ascii: ".") ? .matched : .notMatched
            }
            return pattern.hasPrefix(".") ? .matched : .notMatched
        }
    }

    /// `match_hostaddr()`: `address` is `client` as text.
    private func matchAddress(_ address: String, _ client: IPAddress, _ pattern: Pattern) -> NetworkMatch {
        switch pattern {
        case .broken(let reason):
            return .failed(reason: reason)
        case .table(let table):
            switch table.lookup(address) {
            case .found: return .matched
            case .failed: return .failed(reason: "\(table.spec): table lookup problem")
            case .notFound: return .notMatched
            }
        case .text(let pattern, let cidr):
            if pattern.hasPrefix("[") ? pattern == "[\(address)]" : pattern == address { return .matched }
            guard address.contains(":") == pattern.contains(":"), let cidr else { return .notMatched }
            switch cidr {
            case .invalid(let reason): return .failed(reason: reason)
            case .network(let network):
                return network.contains(client) ? .matched : .notMatched
            }
        }
    }
}

extension NetworkList {
    /// The default `mynetworks` text for a `mynetworks_style` (`host`, `subnet` or `class`), in
    /// Postfix's form (`127.0.0.1/32 [::1]/128`), duplicates removed; nil for an unknown style.
    /// IPv6 has no classes: `class` uses the interface's subnet for it, as Postfix does.
    public static func defaultValue(style: String, interfaces: [InterfaceAddress]) -> String? {
        let style = style.lowercased()
        guard ["host", "subnet", "class"].contains(style) else { return nil }
        var seen = Set<String>()
        var items: [String] = []
        for interface in interfaces {
            let bits = interface.address.family == .v4 ? 32 : 128
            var length = bits
            if style != "host" {
                length = interface.netmask.map(prefixLength(ofMask:)) ?? bits
                if style == "class", interface.address.family == .v4 {
                    let first = interface.address.bytes[0]
                    switch first {
                    case 0..<128: length = 8
                    case 128..<192: length = 16
                    case 192..<224: length = 24
                    default: length = 4
                    }
                }
            }
            let network = IPNetwork(address: interface.address, prefixLength: length).masked
            let item = network.description
            if seen.insert(item).inserted { items.append(item) }
        }
        return items.joined(separator: " ")
    }

    /// The prefix length of a netmask: its leading one bits.
    static func prefixLength(ofMask mask: IPAddress) -> Int {
        var length = 0
        for byte in mask.bytes {
            if byte == 0xFF { length += 8; continue }
            var b = byte
            while b & 0x80 != 0 { length += 1; b <<= 1 }
            break
        }
        return length
    }

    /// This machine's interface addresses with their netmasks (`getifaddrs()`), IPv4 and IPv6.
    public static func localInterfaces() -> [InterfaceAddress] {
        var list: UnsafeMutablePointer<ifaddrs>? = nil
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var result: [InterfaceAddress] = []
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr.flatMap(ipAddress(from:)) else { continue }
            let mask = entry.pointee.ifa_netmask.flatMap(ipAddress(from:))
            result.append(InterfaceAddress(address: address, netmask: mask))
        }
        return result
    }

    private static func ipAddress(from socketAddress: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            return socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                var raw = $0.pointee.sin_addr
                return IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) })
            }
        case AF_INET6:
            return socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                var raw = $0.pointee.sin6_addr
                return IPAddress(bytes: withUnsafeBytes(of: &raw) { Array($0) })
            }
        default:
            return nil
        }
    }
}
