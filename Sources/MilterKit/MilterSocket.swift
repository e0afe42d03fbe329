/// Where the milter listens, in libmilter's spellings: `unix:/path` or `local:/path` (a unix
/// socket), `inet:port@host` or `inet6:port@host`. `inet:port` alone listens on every address.
public struct MilterSocket: Sendable, Hashable, CustomStringConvertible {
    public enum Endpoint: Sendable, Hashable {
        case local(path: String)
        case inet(port: Int, host: String?)
        case inet6(port: Int, host: String?)
    }

    public let endpoint: Endpoint
    /// The text as given.
    public let description: String

    public init(parsing text: String) throws(MilterSocketError) {
        guard let colon = text.firstIndex(of: ":") else { throw .missingType(text) }
        let kind = text[..<colon].lowercased()
        let rest = String(text[text.index(after: colon)...])
        switch kind {
        case "unix", "local":
            guard rest.hasPrefix("/") else { throw .relativePath(text) }
            guard rest.utf8.count < 108 else { throw .pathTooLong(text) }
            endpoint = .local(path: rest)
        case "inet", "inet6":
            let parts = rest.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
            guard let port = Int(parts[0]), (1...65535).contains(port) else {
                throw .badPort(text)
            }
            let host = parts.count == 2 ? String(parts[1]) : nil
            if host?.isEmpty == true { throw .badHost(text) }
            endpoint = kind == "inet" ? .inet(port: port, host: host) : .inet6(port: port, host: host)
        default:
            throw .unknownType(text)
        }
        description = text
    }

    /// The spelling libmilter's smfi_setconn takes.
    var libmilterSpec: String {
        switch endpoint {
        case .local(let path): return "unix:" + path
        case .inet(let port, let host): return "inet:\(port)" + (host.map { "@" + $0 } ?? "")
        case .inet6(let port, let host): return "inet6:\(port)" + (host.map { "@" + $0 } ?? "")
        }
    }

    /// The unix socket's path, if it is one.
    public var path: String? {
        if case .local(let path) = endpoint { return path }
        return nil
    }

    public var isNetwork: Bool { path == nil }
}

/// A socket specification that cannot be used, with the reason in words.
public enum MilterSocketError: Error, Sendable, Hashable, CustomStringConvertible {
    case missingType(String)
    case unknownType(String)
    case relativePath(String)
    case pathTooLong(String)
    case badPort(String)
    case badHost(String)

    public var description: String {
        switch self {
        case .missingType(let text), .unknownType(let text):
            return "bad socket \"\(text)\": expected unix:/path, local:/path, inet:port@host or inet6:port@host"
        case .relativePath(let text):
            return "bad socket \"\(text)\": the path of a unix socket must be absolute"
        case .pathTooLong(let text):
            return "bad socket \"\(text)\": a unix socket path must be shorter than 108 bytes"
        case .badPort(let text):
            return "bad socket \"\(text)\": the port must be a number from 1 to 65535 (libmilter writes inet:port@host, not Postfix's inet:host:port)"
        case .badHost(let text):
            return "bad socket \"\(text)\": empty host after @"
        }
    }
}
