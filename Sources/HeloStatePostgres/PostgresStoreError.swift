import Foundation
import HeloPolicy
import HeloState
import PostgresNIO

/// Why the PostgreSQL store failed. Every case names the database as host:port/database (or
/// the socket path and database), never the password.
///
/// ``isTransient`` says whether the state writer should keep the changes and try again: yes for
/// a server that cannot be reached, a connection that broke, a deadline, a server shutting down
/// or overloaded; no for what only an administrator can fix (login, a missing database, a
/// permission, TLS, a schema of a newer heloguard) and for a statement the server refuses.
/// ``isConfigurationProblem`` singles out the former: no call can succeed until it is fixed.
public enum PostgresStoreError: StateStoreFailure, Hashable {
    /// No connection: refused, no route, a host name that does not resolve, or no answer
    /// within the connect timeout.
    case unreachable(location: String, reason: String)
    /// Connected, but the statements did not finish within the query timeout.
    case timedOut(location: String, operation: String, seconds: Double)
    /// The connection broke during the call.
    case connectionLost(location: String, operation: String, reason: String)
    /// The server is shutting down, starting up, out of connections or resources, or broke a
    /// deadlock (SQLSTATE classes 08, 53, 57, 58, 40, and 55P03).
    case serverUnavailable(location: String, sqlState: String, message: String)
    /// The server refused the login (wrong password, no pg_hba.conf entry, an auth method
    /// heloguard cannot answer).
    case authenticationFailed(location: String, user: String, message: String)
    /// The database in the URL does not exist on the server.
    case databaseMissing(location: String)
    /// The role may not do what the store needs (create the tables, write them).
    case permissionDenied(location: String, operation: String, message: String)
    /// TLS was asked for (`sslmode`) and cannot be had.
    case tlsUnavailable(location: String, reason: String)
    /// The database was set up by a newer heloguard.
    case schemaTooNew(location: String, version: Int, supported: Int)
    /// `penalty` or `helo_log` exist but are not heloguard's (no `heloguard_schema` table).
    case foreignDatabase(location: String)
    /// The `state_database` URL is malformed.
    case badURL(PostgresURLError)
    /// ``PostgresStateStore/close()`` was called.
    case closed(location: String)
    /// Any other refusal by the server (SQLSTATE and message), or an answer heloguard cannot read.
    case failed(location: String, operation: String, sqlState: String?, message: String)

    public var isTransient: Bool {
        switch self {
        case .unreachable, .timedOut, .connectionLost, .serverUnavailable:
            return true
        case let .failed(_, _, sqlState, _):
            // A table dropped under a running heloguard: the next call creates it again.
            return sqlState == "42P01"
        case .authenticationFailed, .databaseMissing, .permissionDenied, .tlsUnavailable, .schemaTooNew,
             .foreignDatabase, .badURL, .closed:
            return false
        }
    }

    /// True when no call can succeed until an administrator changes something (the login, the
    /// database, a grant, TLS, the heloguard version): retrying every second is pointless, but
    /// the database may be fixed while heloguard runs.
    public var isConfigurationProblem: Bool {
        switch self {
        case .authenticationFailed, .databaseMissing, .permissionDenied, .tlsUnavailable, .schemaTooNew,
             .foreignDatabase, .badURL:
            return true
        default:
            return false
        }
    }

    public var description: String {
        switch self {
        case let .unreachable(location, reason):
            return "cannot reach the state database \(location): \(reason)"
        case let .timedOut(location, operation, seconds):
            return "state database \(location): cannot \(operation): no answer within \(Self.format(seconds)) s"
        case let .connectionLost(location, operation, reason):
            return "state database \(location): cannot \(operation): the connection broke (\(reason))"
        case let .serverUnavailable(location, sqlState, message):
            return "the state database \(location) is not available: \(message) (SQLSTATE \(sqlState))"
        case let .authenticationFailed(location, user, message):
            return "the state database \(location) refused the login of \(user): \(message); "
                + "check the user and password in state_database and the server's pg_hba.conf"
        case let .databaseMissing(location):
            return "the state database \(location) does not exist on the server; create it "
                + "(CREATE DATABASE ... OWNER ...) or fix the database name in state_database"
        case let .permissionDenied(location, operation, message):
            return "state database \(location): cannot \(operation): \(message); "
                + "the role needs to own the database or the grants listed in the README"
        case let .tlsUnavailable(location, reason):
            return "state database \(location): \(reason)"
        case let .schemaTooNew(location, version, supported):
            return "the state database \(location) has schema version \(version), written by a newer heloguard; "
                + "this one knows up to version \(supported)"
        case let .foreignDatabase(location):
            return "the state database \(location) has a penalty or helo_log table that is not heloguard's "
                + "(no heloguard_schema table); heloguard leaves it alone: use a database of its own"
        case let .badURL(error):
            return "state_database: \(error)"
        case let .closed(location):
            return "the state database \(location) is closed"
        case let .failed(location, operation, sqlState, message):
            return "state database \(location): cannot \(operation): \(message)"
                + (sqlState.map { " (SQLSTATE \($0))" } ?? "")
        }
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }

    // MARK: Classification

    /// Classifies whatever a call to postgres-nio threw. Texts that came from elsewhere have the
    /// password (if any) blanked out, in case a server or library repeats it.
    init(_ error: any Error, url: PostgresURL, operation: String) {
        let location = url.location
        let scrub: (String) -> String = { text in
            guard let password = url.password, password.count >= 3 else { return text }
            return text.replacingOccurrences(of: password, with: "(password)")
        }
        switch error {
        case let known as PostgresStoreError:
            self = known
        case let deadline as DeadlineExceeded:
            let seconds = deadline.timeout.timeInterval
            self = deadline.what == "connect"
                ? .unreachable(location: location, reason: "no connection within \(Self.format(seconds)) s")
                : .timedOut(location: location, operation: operation, seconds: seconds)
        case let psql as PSQLError:
            self = Self(psql, url: url, operation: operation, scrub: scrub)
        case let decoding as PostgresDecodingError:
            self = .failed(location: location, operation: operation, sqlState: nil,
                           message: "unexpected column type \(decoding.postgresType) for \(decoding.targetType)")
        default:
            self = .connectionLost(location: location, operation: operation, reason: scrub(Self.reason(error)))
        }
    }

    private init(_ error: PSQLError, url: PostgresURL, operation: String, scrub: (String) -> String) {
        let location = url.location
        switch error.code {
        case .server:
            let sqlState = error.serverInfo?[.sqlState] ?? "?????"
            let message = scrub(error.serverInfo?[.message] ?? "no message")
            switch sqlState {
            case "28P01", "28000":
                self = .authenticationFailed(location: location, user: url.user, message: message)
            case "3D000":
                self = .databaseMissing(location: location)
            case "42501":
                self = .permissionDenied(location: location, operation: operation, message: message)
            case _ where ["08", "53", "57", "58", "40"].contains(String(sqlState.prefix(2))) || sqlState == "55P03":
                self = .serverUnavailable(location: location, sqlState: sqlState, message: message)
            default:
                self = .failed(location: location, operation: operation, sqlState: sqlState, message: message)
            }
        case .connectionError:
            self = .unreachable(location: location, reason: scrub(error.underlying.map(Self.reason) ?? "cannot connect"))
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            self = .connectionLost(location: location, operation: operation,
                                   reason: scrub(error.underlying.map(Self.reason) ?? "closed by the server"))
        case .sslUnsupported:
            self = .tlsUnavailable(location: location, reason: "the server does not offer TLS, and sslmode=\(url.tlsMode.rawValue) requires it "
                                   + "(enable ssl on the server, or use sslmode=prefer or disable on a trusted network)")
        case .failedToAddSSLHandler, .receivedUnencryptedDataAfterSSLRequest:
            self = .tlsUnavailable(location: location, reason: "TLS failed: \(scrub(error.underlying.map(Self.reason) ?? "\(error.code)"))")
        case .authMechanismRequiresPassword:
            self = .authenticationFailed(location: location, user: url.user,
                                         message: "the server asks for a password and state_database has none")
        case .unsupportedAuthMechanism, .saslError:
            self = .authenticationFailed(location: location, user: url.user,
                                         message: "authentication failed (\(error.code)); use scram-sha-256, md5, password or trust")
        case .queryCancelled:
            self = .timedOut(location: location, operation: operation, seconds: 0)
        default:
            self = .connectionLost(location: location, operation: operation,
                                   reason: scrub(error.underlying.map(Self.reason) ?? "\(error.code)"))
        }
    }

    /// A short reason for a network error: the system's text for an errno, the first failed
    /// attempt of NIO's connection error.
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError {
            return String(cString: strerror(io.errnoCode))
        }
        if let connection = error as? NIOConnectionError {
            if let first = connection.connectionErrors.first { return reason(first.error) }
            if let dns = connection.dnsAError ?? connection.dnsAAAAError { return "cannot resolve the host name (\(dns))" }
            return "cannot connect"
        }
        if let channel = error as? ChannelError {
            switch channel {
            case .connectTimeout: return "no connection within the connect timeout"
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed, .inputClosed: return "connection closed"
            default: return "\(channel)"
            }
        }
        return "\(error)"
    }
}
