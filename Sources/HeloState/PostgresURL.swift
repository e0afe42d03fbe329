/// A `state_database` URL, parsed: where the shared PostgreSQL database is and how to log in.
///
/// The syntax is libpq's URI form, restricted to what heloguard uses:
///
///     postgresql://[user[:password]@][host][:port][/database][?parameter=value&...]
///
/// - `postgres://` is accepted as well; the scheme is case-insensitive.
/// - `user`, `password` and `database` are percent-decoded (write `%40` for `@`, `%2F` for `/`).
///   The password may contain a raw `@`: the user part ends at the last `@`.
/// - `host` is a name, an IPv4 address or a bracketed IPv6 address (`[2001:db8::5]`); the port
///   defaults to 5432. With no host (and no `host` parameter) heloguard connects to the local
///   server's socket in `/var/run/postgresql`, as libpq does.
/// - `database` defaults to the user name, as in libpq.
/// - Parameters: `sslmode` (`disable`, `prefer` (the default), `require`, `verify-ca`,
///   `verify-full`), `sslrootcert` (a PEM file of trusted CA certificates for the verify modes),
///   `host` (a directory starting with `/`: the server's unix socket directory, or a host name),
///   `port`, `user`, `password`, `dbname`, `connect_timeout` (seconds), `application_name`.
///   Any other parameter is an error, so that a typo does not go unnoticed.
///
/// The password never appears in ``description``, ``location`` or in an error message.
public struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    /// libpq's `sslmode` values.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP only.
        case disable
        /// TLS when the server offers it, else plain TCP; the certificate is not checked.
        case prefer
        /// TLS or nothing; the certificate is not checked.
        case require
        /// TLS or nothing; the certificate must be signed by a trusted CA (any host name).
        case verifyCA = "verify-ca"
        /// TLS or nothing; the certificate must be signed by a trusted CA and name the host.
        case verifyFull = "verify-full"
    }

    /// Where the server listens.
    public enum Endpoint: Sendable, Hashable {
        /// A host name or IP address (IPv6 without brackets) and a TCP port.
        case tcp(host: String, port: Int)
        /// The unix socket in `directory`: `directory/.s.PGSQL.<port>`.
        case socket(directory: String, port: Int)
    }

    /// Where libpq (and so Debian's PostgreSQL) puts the server's socket.
    public static let defaultSocketDirectory = "/var/run/postgresql"
    public static let defaultPort = 5432
    public static let schemes = ["postgresql", "postgres"]

    public var user: String
    public var password: String?
    public var endpoint: Endpoint
    public var database: String
    public var tlsMode: TLSMode
    /// `sslrootcert`: a PEM file of CA certificates to trust instead of the system's.
    public var rootCertificateFile: String?
    /// `connect_timeout`, in seconds; nil when the URL does not say.
    public var connectTimeout: Int?
    /// `application_name`, shown in `pg_stat_activity`.
    public var applicationName: String?

    /// Reads `text`; throws an error that says what is wrong and never repeats the password.
    public init(parsing text: String) throws(PostgresURLError) {
        guard let colon = text.firstIndex(of: ":"), text[colon...].hasPrefix("://") else { throw .notAURL }
        let scheme = text[..<colon].lowercased()
        guard Self.schemes.contains(scheme) else { throw .unsupportedScheme(scheme) }
        var rest = text[text.index(colon, offsetBy: 3)...]
        guard !rest.contains(where: { $0 == " " || $0 == "\t" }) else { throw .containsSpace }

        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                user = try Self.decode(credentials[..<colon], part: "user name")
                password = try Self.decode(credentials[credentials.index(after: colon)...], part: "password")
            } else {
                user = try Self.decode(credentials, part: "user name")
            }
        }

        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        let (hostText, portText) = try Self.splitHostPort(rest)
        var host = try Self.decode(hostText, part: "host")
        var port = try portText.map { text throws(PostgresURLError) in try Self.port(text) } ?? Self.defaultPort
        var database = try Self.decode(path, part: "database name")

        var tlsMode = TLSMode.prefer
        var rootCertificate: String?
        var connectTimeout: Int?
        var applicationName: String?
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = try Self.decode(parts[0], part: "parameter name")
            let value = parts.count > 1 ? try Self.decode(parts[1], part: "value of \(name)") : ""
            switch name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else { throw .badTLSMode(value) }
                tlsMode = mode
            case "sslrootcert": rootCertificate = value
            case "host": host = value
            case "port": port = try Self.port(Substring(value))
            case "user": user = value
            case "password": password = value
            case "dbname": database = value
            case "application_name": applicationName = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0, seconds <= 3600 else { throw .badConnectTimeout(value) }
                connectTimeout = seconds
            default:
                throw .unknownParameter(name)
            }
        }

        guard let user, !user.isEmpty else { throw .missingUser }
        if host.contains(",") { throw .severalHosts }
        self.user = user
        self.password = password
        self.database = database.isEmpty ? user : database
        if host.isEmpty {
            endpoint = .socket(directory: Self.defaultSocketDirectory, port: port)
        } else if host.hasPrefix("/") {
            endpoint = .socket(directory: host, port: port)
        } else {
            endpoint = .tcp(host: host, port: port)
        }
        self.tlsMode = tlsMode
        self.rootCertificateFile = rootCertificate
        self.connectTimeout = connectTimeout
        self.applicationName = applicationName
    }

    /// `host:port` (`[v6]:port`) or the socket's path, and the database: what messages name.
    /// Why this URL may give its password away: a password sent over TCP to a server whose
    /// certificate is not checked (`sslmode` `disable`, `prefer` or `require`) goes to whoever
    /// answers at that address. Nil for `verify-ca`/`verify-full`, a unix socket, loopback, or no
    /// password.
    public var unverifiedPasswordWarning: String? {
        guard password != nil, case .tcp(let host, _) = endpoint, !Self.isLoopback(host) else { return nil }
        switch tlsMode {
        case .verifyCA, .verifyFull: return nil
        case .disable, .prefer, .require:
            return "sslmode=\(tlsMode.rawValue) with a password: the server's certificate is never checked, so the password "
                + "may go to whoever answers at \(host); use sslmode=verify-full (and sslrootcert= for a CA of your own)"
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Never the password.
    public var location: String {
        switch endpoint {
        case let .tcp(host, port):
            let shown = host.contains(":") ? "[\(host)]" : host
            return "\(shown):\(port)/\(database)"
        case .socket:
            return "\(socketPath ?? "")/\(database)"
        }
    }

    /// The unix socket's full path, for a socket endpoint.
    public var socketPath: String? {
        guard case let .socket(directory, port) = endpoint else { return nil }
        let trimmed = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return "\(trimmed)/.s.PGSQL.\(port)"
    }

    /// The URL with the password left out.
    public var description: String {
        let hostPart: String
        var parameters: [String] = []
        switch endpoint {
        case let .tcp(host, port):
            hostPart = (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
        case let .socket(directory, port):
            hostPart = ""
            parameters.append("host=\(directory)")
            if port != Self.defaultPort { parameters.append("port=\(port)") }
        }
        parameters.append("sslmode=\(tlsMode.rawValue)")
        let credentials = user + (password == nil ? "" : ":(password)")
        return "postgresql://\(credentials)@\(hostPart)/\(database)?" + parameters.joined(separator: "&")
    }

    // MARK: Pieces

    private static func splitHostPort(_ text: Substring) throws(PostgresURLError) -> (Substring, Substring?) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .badHost(String(text)) }
            let host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if after.isEmpty { return (host, nil) }
            guard after.hasPrefix(":") else { throw .badHost(String(text)) }
            return (host, after.dropFirst())
        }
        if text.contains(",") { throw .severalHosts }
        guard let colon = text.firstIndex(of: ":") else { return (text, nil) }
        let host = text[..<colon]
        if host.contains(":") || text[text.index(after: colon)...].contains(":") {
            throw .badHost(String(text))  // an IPv6 address without brackets
        }
        return (host, text[text.index(after: colon)...])
    }

    private static func port(_ text: Substring) throws(PostgresURLError) -> Int {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(text), (1...65535).contains(port) else { throw .badPort(String(text)) }
        return port
    }

    /// Percent-decoding (UTF-8); a `%` not followed by two hex digits is an error.
    private static func decode(_ text: Substring, part: String) throws(PostgresURLError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw .badPercentEncoding(part: part)
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .badPercentEncoding(part: part) }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Why a `state_database` URL cannot be used. No case carries the password.
public enum PostgresURLError: Error, Sendable, Hashable, CustomStringConvertible {
    case notAURL
    case unsupportedScheme(String)
    case containsSpace
    case missingUser
    case badHost(String)
    case severalHosts
    case badPort(String)
    case badPercentEncoding(part: String)
    case badTLSMode(String)
    case badConnectTimeout(String)
    case unknownParameter(String)

    public var description: String {
        switch self {
        case .notAURL, .unsupportedScheme:
            return "expected empty (the embedded file in state_directory) or a URL postgresql://user:password@host:port/database"
        case .containsSpace:
            return "the URL contains a space (percent-encode it as %20)"
        case .missingUser:
            return "the URL names no user (postgresql://user:password@host/database)"
        case let .badHost(host):
            return "bad host \"\(host)\" (write an IPv6 address in brackets: [2001:db8::5]:5432)"
        case .severalHosts:
            return "several hosts are not supported; name one server (or a name that moves with the primary)"
        case let .badPort(port):
            return "bad port \"\(port)\" (1 to 65535)"
        case let .badPercentEncoding(part):
            return "bad percent-encoding in the \(part) (write % as %25)"
        case let .badTLSMode(mode):
            return "bad sslmode \"\(mode)\" (disable, prefer, require, verify-ca or verify-full)"
        case let .badConnectTimeout(value):
            return "bad connect_timeout \"\(value)\" (whole seconds, 1 to 3600)"
        case let .unknownParameter(name):
            return "unknown parameter \"\(name)\" (known: sslmode, sslrootcert, host, port, user, password, dbname, connect_timeout, application_name)"
        }
    }
}
