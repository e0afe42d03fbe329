/// Why an ``UnboundResolver`` could not be built. Every case names what was refused and why, so
/// a start-up or reload error can be shown to the administrator as it is.
public enum DNSSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `dns_servers` was given but empty: there would be nobody to ask.
    case noServers
    /// A server address libunbound (or the port check) did not accept.
    case badServer(String, reason: String)
    /// The lookup deadline must be 1 ms to 1 hour.
    case badTimeout(Int)
    /// The system resolver configuration could not be used.
    case resolvConf(path: String, reason: String)
    /// libunbound refused one of the options this resolver depends on.
    case optionRefused(option: String, value: String, reason: String)
    /// libunbound could not remove one of its built-in local zones.
    case zoneNotRemoved(zone: String, reason: String)
    /// libunbound could not allocate its context.
    case contextUnavailable
    /// An operating-system resource (pipe, thread) could not be created.
    case system(what: String, reason: String)

    public var description: String {
        switch self {
        case .noServers:
            return "no DNS server is configured (the server list is empty)"
        case let .badServer(server, reason):
            return "bad DNS server \"\(server)\": \(reason)"
        case let .badTimeout(milliseconds):
            return "bad DNS timeout \(milliseconds) ms: it must be 1 ms to 1 hour"
        case let .resolvConf(path, reason):
            return "cannot use the DNS servers of \(path): \(reason)"
        case let .optionRefused(option, value, reason):
            return "libunbound refused the option \"\(option) \(value)\": \(reason)"
        case let .zoneNotRemoved(zone, reason):
            return "libunbound could not drop its built-in zone \(zone): \(reason)"
        case .contextUnavailable:
            return "libunbound could not create a resolver context"
        case let .system(what, reason):
            return "cannot create the DNS resolver's \(what): \(reason)"
        }
    }
}
