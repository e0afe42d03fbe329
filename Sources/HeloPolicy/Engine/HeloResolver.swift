/// DNS record types the HELO restrictions ask for.
public enum DNSRecordType: String, Sendable, Hashable {
    case a = "A"
    case aaaa = "AAAA"
    case mx = "MX"
    case ns = "NS"
    case txt = "TXT"
}

/// The answer to one DNS question, sorted the way Postfix's `dns_lookup()` sorts its status.
public enum DNSAnswer: Sendable, Hashable {
    /// Record data in DNS order: addresses as text, host names for MX/NS, strings for TXT.
    case records([String])
    /// The name or the record type does not exist.
    case notFound
    /// An MX lookup found only the null MX (`0 .`).
    case nullMX
    /// SERVFAIL, timeout or no resolver: try again later.
    case temporaryFailure(String)
    /// A failure that will not go away by asking again (REFUSED, FORMERR, NOTIMP): Postfix's
    /// `DNS_FAIL`, ranked between "malformed" and "null MX".
    case failed(String)
    /// The server's reply could not be parsed.
    case malformed(String)
}

/// How the rule core asks DNS questions; the DNS module provides the real one.
///
/// Record data comes back in DNS order as text: dotted/colon addresses for A and AAAA, host
/// names without the trailing dot for MX (preference dropped, DNS order kept, as Postfix's
/// `check_server_access()` uses it) and NS,
/// and for TXT the first character-string of each record (as Postfix uses it). CNAME chains
/// are followed. An implementation must return within its own deadline.
public protocol HeloResolver: Sendable {
    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer
}

/// A DNS server to send every query to (`dns_servers`): an address and a port.
public struct DNSServerAddress: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let port: Int

    public init(address: IPAddress, port: Int = 53) {
        self.address = address
        self.port = port
    }

    /// `address@port`, the form libunbound's forwarders take.
    public var description: String { "\(address)@\(port)" }
}

/// How heloguard talks to DNS: where (`dns_servers`; nil = the system's resolv.conf) and how
/// long one lookup may take (`dns_timeout`).
public struct DNSSettings: Sendable, Hashable {
    public var servers: [DNSServerAddress]?
    /// The hard deadline of one lookup, in milliseconds.
    public var timeoutMilliseconds: Int

    public init(servers: [DNSServerAddress]? = nil, timeoutMilliseconds: Int = 10_000) {
        self.servers = servers
        self.timeoutMilliseconds = timeoutMilliseconds
    }
}

/// The resolver used until a real one is configured: every question fails temporarily, which
/// makes DNS-based restrictions behave as Postfix does while DNS is down.
public struct UnavailableResolver: HeloResolver {
    public init() {}
    public func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        .temporaryFailure("no DNS resolver is configured")
    }
}
