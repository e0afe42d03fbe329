import PostfixSyntax

/// The libmilter connection as a handler sees it: macros the MTA sent, and the requests a
/// filter may make. libmilter's implementation is ``LibmilterContext``; tests use a recording one.
public protocol MilterContext {
    /// A macro's value (`j`, `{daemon_addr}`, `{auth_authen}`, ...), or nil when the MTA did not
    /// send it. Macros of earlier stages stay visible.
    func macro(_ name: String) -> String?
    /// Sets the custom reply for the response about to be returned. False when the library
    /// refused it.
    func setReply(_ reply: MilterReply) -> Bool
    /// Message changes: only valid at end of message.
    func addHeader(name: String, value: String) -> Bool
    func insertHeader(at index: Int, name: String, value: String) -> Bool
    func addRecipient(_ address: String) -> Bool
    func deleteRecipient(_ address: String) -> Bool
    func quarantine(reason: String) -> Bool
}

/// The SMTP client as the connect callback describes it.
public struct MilterClient: Sendable, Hashable {
    public enum Family: Sendable, Hashable {
        case inet4, inet6, local, unknown
    }

    /// The host name the MTA gives: its verified name for the client, or `[address]` when it has
    /// none (Postfix's `unknown`).
    public var hostname: String
    /// The address as text; "" when the MTA gave none (local or unknown family).
    public var address: String
    public var port: Int
    public var family: Family

    public init(hostname: String, address: String, port: Int = 0, family: Family) {
        self.hostname = hostname
        self.address = address
        self.port = port
        self.family = family
    }

    /// The client a connect event would have described, made from the connect macros instead
    /// (the MTA skipped the event: `SMFIP_NOCONNECT`). Postfix and Sendmail fill those macros from
    /// the same state as the event: `{client_name}` is the verified name or `unknown` (Sendmail:
    /// `[address]`), `{client_addr}` the address, IPv6 written `IPv6:2001:db8::1`, `{client_port}`
    /// the port or `0`. The event carries `[address]` for an unknown name, and no address for a
    /// client that is not on IPv4 or IPv6; so does this.
    public init(connectMacros name: String?, address addressMacro: String?, port portMacro: String?) {
        var text = addressMacro ?? ""
        let asciiLower = { (byte: UInt8) in (0x41...0x5A).contains(byte) ? byte + 0x20 : byte }
        if text.utf8.count > 5, text.utf8.prefix(5).map(asciiLower).elementsEqual("ipv6:".utf8) {
            text = String(text.dropFirst(5))
        }
        let family: Family = IPAddress(text).map { $0.family == .v4 ? .inet4 : .inet6 } ?? .unknown
        let address = family == .unknown ? "" : text
        var hostname = name ?? ""
        if hostname == "unknown" || hostname.isEmpty, !address.isEmpty { hostname = "[\(address)]" }
        let port = portMacro.flatMap { Int($0) }.flatMap { (0...65535).contains($0) ? $0 : nil } ?? 0
        self.init(hostname: hostname, address: address, port: family == .unknown ? 0 : port, family: family)
    }
}
