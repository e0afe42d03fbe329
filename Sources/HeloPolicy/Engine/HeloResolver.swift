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
    /// The server's reply could not be parsed.
    case malformed(String)
}

/// How the rule core asks DNS questions; the DNS module provides the real one.
public protocol HeloResolver: Sendable {
    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer
}

/// The resolver used until a real one is configured: every question fails temporarily, which
/// makes DNS-based restrictions behave as Postfix does while DNS is down.
public struct UnavailableResolver: HeloResolver {
    public init() {}
    public func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        .temporaryFailure("no DNS resolver is configured")
    }
}
