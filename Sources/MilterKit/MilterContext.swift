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
}
