import Dispatch
import Foundation
import HeloPolicy
import HeloState
import Logging
import PostgresNIO
import Locking

/// The shared state store: one PostgreSQL database for a fleet of MX hosts, through postgres-nio.
///
/// - **Synchronous, with deadlines.** ``StateStore`` is a blocking protocol called from the state
///   writer thread, the refresh thread and the command line, never from the mail path. Each call
///   sends its statements on the connection's event loop and waits on the calling thread, at most
///   ``connectTimeout`` to connect and ``queryTimeout`` for the statements; an event-loop thread
///   never waits. A dead server or a black-holed port costs one deadline, then a transient
///   ``PostgresStoreError``.
/// - **Lazy.** `init` neither connects nor starts a thread, so heloguard starts (and filters mail)
///   while the database is down, and nothing is made before the milter forks. The event loop (one
///   thread) and the connection are made by the first call; a connection that failed is dropped
///   and the next call connects again. ``close()`` shuts both down.
/// - **Schema** (version ``schemaVersion``, the same logical layout as the embedded store's
///   version 2) is created on first connect, under a transaction-scoped advisory lock so that two
///   hosts starting at once do not trip over each other; a database written by a newer heloguard
///   is refused, and so is one whose `penalty` or `helo_log` table belongs to another program.
/// - **Times** are whole seconds since the Unix epoch in `bigint` columns, as in the embedded
///   store: no time zone can shift them and `heloguard stats` can count the same way on both.
/// - **Merging** (see ``apply(_:)``): a penalty written by one host never shortens an entry
///   another host made longer.
///
/// One connection serves all callers, one call at a time.
public final class PostgresStateStore: StateStore, @unchecked Sendable {
    /// The schema version this code writes (`heloguard_schema.version`).
    public static let schemaVersion = 2
    /// The advisory lock the schema set-up holds (its transaction only): "helo" in ASCII.
    static let schemaLockID: Int64 = 0x6865_6C6F
    /// The advisory lock a prune holds: one host prunes at a time, the others skip.
    static let pruneLockID: Int64 = 0x6865_6C70

    /// The database, as configured (its ``PostgresURL/description`` leaves the password out).
    public let url: PostgresURL
    /// The most a connection attempt may take, TCP, TLS and login included.
    public let connectTimeout: Duration
    /// The most the statements of one call may take once connected.
    public let queryTimeout: Duration
    /// The same for each of `heloguard stats`' queries, which aggregate the whole fleet's HELO
    /// log and may take far longer than the writer's calls (see
    /// `PostgresStateStore+Statistics.swift`).
    public let statisticsTimeout: Duration

    /// Everything below is touched only with `lock` held: that is what makes the class
    /// `@unchecked Sendable`. Calls are serialised; a call waits at most its deadlines. The lock
    /// is recursive so that ``withReadSnapshot(_:)`` can hold it around the calls it makes.
    private let lock = NSRecursiveLock()
    private var group: MultiThreadedEventLoopGroup?
    private var connection: PostgresConnection?
    private var schemaReady = false
    private var closed = false
    private var tlsContext: NIOSSLContext?
    private var connectionCount = 0
    /// While ``withReadSnapshot(_:)`` runs: the number of the connection its transaction is on.
    private var snapshotConnection: Int?

    private let logger = Logger(label: "heloguard.state.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A store for `url`; connects on first use. `connect_timeout` in the URL overrides
    /// `connectTimeout`.
    public init(url: PostgresURL, connectTimeout: Duration = .seconds(3), queryTimeout: Duration = .seconds(5),
                statisticsTimeout: Duration = .seconds(60)) {
        self.url = url
        self.connectTimeout = url.connectTimeout.map { .seconds($0) } ?? connectTimeout
        self.queryTimeout = queryTimeout
        self.statisticsTimeout = statisticsTimeout
    }

    /// A store for the URL `text` (a `state_database` value).
    public convenience init(urlText text: String, connectTimeout: Duration = .seconds(3),
                            queryTimeout: Duration = .seconds(5),
                            statisticsTimeout: Duration = .seconds(60)) throws(PostgresStoreError) {
        let url: PostgresURL
        do throws(PostgresURLError) {
            url = try PostgresURL(parsing: text)
        } catch {
            throw .badURL(error)
        }
        self.init(url: url, connectTimeout: connectTimeout, queryTimeout: queryTimeout,
                  statisticsTimeout: statisticsTimeout)
    }

    /// Where the store is, for messages: host:port/database (or the socket), never the password.
    public var location: String { url.location }

    // MARK: StateStore

    public func loadPenalties(rememberedSince cutoff: Date) throws -> [PenaltyEntry] {
        try withSession("load the penalty box") { session in
            let result = try session.run([
                "SELECT key, reason, first_seen, expires, offences FROM penalty WHERE expires >= \(Self.seconds(cutoff))",
            ])[0]
            var entries: [PenaltyEntry] = []
            entries.reserveCapacity(result.rows.count)
            for row in result.rows {
                let (keyText, reason, firstSeen, expires, offences) =
                    try row.decode((String, String, Int64, Int64, Int64).self)
                // A key that does not parse (edited by hand) is skipped rather than keeping the
                // whole box from loading.
                guard let key = try? PenaltyKey(parsing: keyText, ipv6PrefixLength: 128) else { continue }
                entries.append(PenaltyEntry(key: key, reason: reason, firstSeen: Self.date(firstSeen),
                                            expires: Self.date(expires), offences: Int(max(1, offences))))
            }
            return entries
        }
    }

    /// Writes `changes` in one transaction.
    ///
    /// A penalty upsert **merges** with the row another host may have written meanwhile:
    /// - when the stored entry had already expired before the new entry's run of offences began
    ///   (its `first_seen`), the new entry starts a new run and replaces it;
    /// - otherwise the later `expires` and the higher `offences` win, `first_seen` is the earlier
    ///   one and `reason` goes with the later expiry (the new one on a tie).
    ///
    /// So concurrent boxes of one client by two hosts never shorten each other, and a host whose
    /// box was not refreshed yet does not undo a longer entry. An administrator who wants to
    /// shorten an entry removes it first.
    public func apply(_ changes: [StateChange]) throws {
        guard !changes.isEmpty else { return }
        try withSession("write \(changes.count) change(s)") { session in
            var statements: [PostgresQuery] = ["BEGIN"]
            statements.reserveCapacity(changes.count + 2)
            for change in changes {
                switch change {
                case let .upsertPenalty(entry):
                    let key = entry.key.description, reason = Self.text(entry.reason)
                    let firstSeen = Self.seconds(entry.firstSeen), expires = Self.seconds(entry.expires)
                    let offences = Int64(entry.offences)
                    statements.append("""
                        INSERT INTO penalty AS stored (key, reason, first_seen, expires, offences)
                        VALUES (\(key), \(reason), \(firstSeen), \(expires), \(offences))
                        ON CONFLICT (key) DO UPDATE SET
                            reason = CASE WHEN stored.expires < excluded.first_seen OR excluded.expires >= stored.expires
                                          THEN excluded.reason ELSE stored.reason END,
                            first_seen = CASE WHEN stored.expires < excluded.first_seen THEN excluded.first_seen
                                              ELSE least(stored.first_seen, excluded.first_seen) END,
                            offences = CASE WHEN stored.expires < excluded.first_seen THEN excluded.offences
                                            ELSE greatest(stored.offences, excluded.offences) END,
                            expires = CASE WHEN stored.expires < excluded.first_seen THEN excluded.expires
                                           ELSE greatest(stored.expires, excluded.expires) END
                        """)
                case let .removePenalty(key):
                    statements.append("DELETE FROM penalty WHERE key = \(key.description)")
                case let .heloLog(record):
                    let time = Self.seconds(record.time), client = record.client.description
                    let helo = Self.text(record.helo), verdict = Self.text(record.verdict)
                    let restriction = record.restriction.map(Self.text), clientName = record.clientName.map(Self.text)
                    statements.append("""
                        INSERT INTO helo_log (time, client, helo, verdict, restriction, client_name)
                        VALUES (\(time), \(client), \(helo), \(verdict), \(restriction), \(clientName))
                        """)
                }
            }
            statements.append("COMMIT")
            try session.run(statements)
        }
    }

    /// The embedded store's retention rules. When another host is pruning right now (it holds
    /// the prune lock), this call removes nothing and returns at once.
    @discardableResult
    public func prune(_ limits: RetentionLimits, at now: Date) throws -> PruneResult {
        try withSession("prune") { session in
            try session.run(["BEGIN"])
            let locked = try session.run(["SELECT pg_try_advisory_xact_lock(\(Self.pruneLockID))"])[0]
            guard try locked.rows.first?.decode(Bool.self) == true else {
                try session.run(["COMMIT"])
                return PruneResult()
            }
            let logCutoff = Self.seconds(now.addingTimeInterval(-limits.heloLogRetention))
            let penaltyCutoff = Self.seconds(now.addingTimeInterval(-limits.penaltyMemory))
            let keepRecords = Int64(limits.heloLogMaxRecords), keepEntries = Int64(limits.penaltyMaxEntries)
            let results = try session.run([
                "DELETE FROM helo_log WHERE time < \(logCutoff)",
                """
                DELETE FROM helo_log WHERE id <= (SELECT id FROM helo_log ORDER BY id DESC OFFSET \(keepRecords) LIMIT 1)
                """,
                "DELETE FROM penalty WHERE expires < \(penaltyCutoff)",
                """
                DELETE FROM penalty WHERE key IN
                    (SELECT key FROM penalty ORDER BY expires DESC, key DESC OFFSET \(keepEntries))
                """,
                "COMMIT",
            ])
            let counts = results.map { $0.metadata.rows ?? 0 }
            return PruneResult(penaltiesRemoved: counts[2] + counts[3], heloLogRecordsRemoved: counts[0] + counts[1])
        }
    }

    public func close() {
        lock.lock()
        closed = true
        let connection = self.connection, group = self.group
        self.connection = nil
        self.group = nil
        lock.unlock()
        if let connection {
            let done = DispatchSemaphore(value: 0)
            let closing: EventLoopFuture<Void> = connection.close()
            closing.whenComplete { _ in
                withExtendedLifetime(connection) {}
                done.signal()
            }
            _ = done.wait(timeout: .now() + 1)
        }
        if let group {
            let done = DispatchSemaphore(value: 0)
            group.shutdownGracefully(queue: .global()) { _ in done.signal() }
            _ = done.wait(timeout: .now() + 2)
        }
    }

    deinit {
        if let connection { Self.closeSoon(connection) }
        group?.shutdownGracefully { _ in }
    }

    /// Runs `begin`, then `body` (whose store calls all go to the same connection, inside the
    /// transaction `begin` opened), then `COMMIT`; `ROLLBACK` when `body` throws. Other threads'
    /// calls wait meanwhile. When the connection breaks on the way, the calls after the break
    /// fail rather than answer from outside the transaction.
    func withReadSnapshot<T>(_ operation: String, begin: [PostgresQuery], timeout: Duration,
                             _ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        if snapshotConnection != nil { return try body() }  // already inside one
        _ = try withSession(operation, timeout: timeout) { session in try session.run(begin) }
        snapshotConnection = connectionCount
        defer { snapshotConnection = nil }
        do {
            let value = try body()
            _ = try withSession("finish the consistent read", timeout: timeout) { session in try session.run(["COMMIT"]) }
            return value
        } catch {
            _ = try? withSession("end the consistent read", timeout: timeout) { session in try session.run(["ROLLBACK"]) }
            throw error
        }
    }

    /// True while ``withReadSnapshot(_:begin:timeout:_:)`` runs on this thread's behalf.
    var isReadingSnapshot: Bool {
        lock.lock()
        defer { lock.unlock() }
        return snapshotConnection != nil
    }

    // MARK: Connection

    /// Connects (and sets the schema up) when needed, runs `body`, and turns every failure into
    /// a ``PostgresStoreError``. After a failure the connection is dropped: the next call starts
    /// on a fresh one, whatever state the failure left the old one in. `timeout` replaces
    /// ``queryTimeout`` for this call.
    func withSession<T>(_ operation: String, timeout: Duration? = nil,
                        _ body: (Session) throws -> T) throws(PostgresStoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        guard !closed else { throw .closed(location: location) }
        if let snapshotConnection, connection == nil || connection?.isClosed == true
            || connectionCount != snapshotConnection {
            // A fresh connection would not be in the snapshot's transaction: its answers could
            // disagree with the ones already given.
            throw .connectionLost(location: location, operation: operation,
                                  reason: "lost during a consistent read; run it again")
        }
        do {
            let connection = try connectedLocked(for: operation)
            let timeout = timeout ?? queryTimeout
            return try body(Session(connection: connection, logger: logger, deadline: .now + timeout, timeout: timeout))
        } catch {
            dropConnectionLocked()
            let failure = PostgresStoreError(error, url: url, operation: operation)
            if case .failed(_, _, "42P01", _) = failure { schemaReady = false }  // a table went missing
            throw failure
        }
    }

    private func connectedLocked(for operation: String) throws -> PostgresConnection {
        if let connection, !connection.isClosed {
            if !schemaReady { try prepareSchemaLocked(connection) }
            return connection
        }
        dropConnectionLocked()
        let group = self.group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let configuration = try connectionConfigurationLocked()
        connectionCount += 1
        let future = PostgresConnection.connect(on: group.next(), configuration: configuration,
                                                id: connectionCount, logger: logger)
        let connection: PostgresConnection
        do {
            connection = try Session.wait(for: future, until: .now + connectTimeout, timeout: connectTimeout,
                                          what: "connect")
        } catch {
            // A connection that completes after the deadline is closed at once.
            future.whenSuccess { late in Self.closeSoon(late) }
            throw error
        }
        self.connection = connection
        try prepareSchemaLocked(connection)
        return connection
    }

    /// Starts closing `connection` without waiting for it. The connection is kept alive until
    /// the close completes (postgres-nio insists that a connection is closed before it goes).
    static func closeSoon(_ connection: PostgresConnection) {
        let closing: EventLoopFuture<Void> = connection.close()
        closing.whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    private func dropConnectionLocked() {
        if let connection { Self.closeSoon(connection) }
        connection = nil
    }

    private func connectionConfigurationLocked() throws -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        switch url.endpoint {
        case let .tcp(host, port):
            configuration = .init(host: host, port: port, username: url.user, password: url.password,
                                  database: url.database, tls: try tlsLocked())
        case .socket:
            configuration = .init(unixSocketPath: url.socketPath ?? "", username: url.user, password: url.password,
                                  database: url.database)
        }
        configuration.options.connectTimeout = .nanoseconds(Int64(connectTimeout.timeInterval * 1e9))
        configuration.options.additionalStartupParameters = [("application_name", url.applicationName ?? "heloguard")]
        return configuration
    }

    /// The TLS mode postgres-nio is given for the URL's `sslmode`.
    private func tlsLocked() throws -> PostgresConnection.Configuration.TLS {
        if url.tlsMode == .disable { return .disable }
        if tlsContext == nil {
            var tls = TLSConfiguration.makeClientConfiguration()
            switch url.tlsMode {
            case .disable, .prefer, .require: tls.certificateVerification = .none
            case .verifyCA: tls.certificateVerification = .noHostnameVerification
            case .verifyFull: tls.certificateVerification = .fullVerification
            }
            if let file = url.rootCertificateFile { tls.trustRoots = .file(file) }
            do {
                tlsContext = try NIOSSLContext(configuration: tls)
            } catch {
                throw PostgresStoreError.tlsUnavailable(location: location, reason: "cannot set TLS up: \(error)")
            }
        }
        guard let tlsContext else { return .disable }
        return url.tlsMode == .prefer ? .prefer(tlsContext) : .require(tlsContext)
    }

    /// Creates the tables when missing and checks the schema version; once per connection
    /// until it succeeds.
    private func prepareSchemaLocked(_ connection: PostgresConnection) throws {
        let session = Session(connection: connection, logger: logger, deadline: .now + queryTimeout, timeout: queryTimeout)
        let found = try session.run([
            "BEGIN",
            "SELECT pg_advisory_xact_lock(\(Self.schemaLockID))",
            """
            SELECT to_regclass('heloguard_schema') IS NOT NULL,
                   to_regclass('penalty') IS NOT NULL OR to_regclass('helo_log') IS NOT NULL
            """,
        ])[2]
        let (hasVersionTable, hasOurTableNames) = try found.rows[0].decode((Bool, Bool).self)
        var version = 0
        if hasVersionTable {
            let rows = try session.run(["SELECT coalesce(max(version), 0) FROM heloguard_schema"])[0]
            version = Int(try rows.rows[0].decode(Int32.self))
        } else if hasOurTableNames {
            _ = try? session.run(["ROLLBACK"])
            throw PostgresStoreError.foreignDatabase(location: location)
        }
        if version > Self.schemaVersion {
            _ = try? session.run(["ROLLBACK"])
            throw PostgresStoreError.schemaTooNew(location: location, version: version, supported: Self.schemaVersion)
        }
        var statements: [PostgresQuery] = []
        for step in Self.migrations where step.from == version {
            statements += step.statements.map { PostgresQuery(unsafeSQL: $0) }
            version = step.to
        }
        if !statements.isEmpty {
            statements.append("DELETE FROM heloguard_schema")
            statements.append("INSERT INTO heloguard_schema (version) VALUES (\(Int32(version)))")
        }
        statements.append("COMMIT")
        try session.run(statements)
        schemaReady = true
    }

    /// The steps that bring a database from one schema version to the next, in order.
    ///
    /// PostgreSQL support starts at version 2, the layout of the embedded store's version 2:
    /// `penalty` (one row per boxed key) and `helo_log` with the indices `heloguard stats`
    /// needs: (helo, client, time) and (client, helo, time) for the distinct counts, (time) for
    /// retention and `--since`, and a partial (restriction, helo) index over the rejected
    /// records only. Keys sort bytewise (`COLLATE "C"`), as in SQLite.
    static let migrations: [(from: Int, to: Int, statements: [String])] = [
        (from: 0, to: 2, statements: [
            "CREATE TABLE IF NOT EXISTS heloguard_schema (version integer NOT NULL)",
            """
            CREATE TABLE IF NOT EXISTS penalty (
                key        text COLLATE "C" PRIMARY KEY,
                reason     text NOT NULL,
                first_seen bigint NOT NULL,
                expires    bigint NOT NULL,
                offences   integer NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS penalty_expires ON penalty (expires)",
            """
            CREATE TABLE IF NOT EXISTS helo_log (
                id          bigserial PRIMARY KEY,
                time        bigint NOT NULL,
                client      text NOT NULL,
                helo        text NOT NULL,
                verdict     text NOT NULL,
                restriction text,
                client_name text
            )
            """,
            "CREATE INDEX IF NOT EXISTS helo_log_time ON helo_log (time)",
            "CREATE INDEX IF NOT EXISTS helo_log_helo ON helo_log (helo, client, time)",
            "CREATE INDEX IF NOT EXISTS helo_log_client ON helo_log (client, helo, time)",
            """
            CREATE INDEX IF NOT EXISTS helo_log_restriction ON helo_log (restriction, helo)
                WHERE restriction IS NOT NULL
            """,
        ]),
    ]

    // MARK: Values

    /// Times are whole seconds since the Unix epoch, rounded down (as in the embedded store).
    static func seconds(_ date: Date) -> Int64 {
        Int64(date.timeIntervalSince1970.rounded(.down))
    }

    static func date(_ seconds: Int64) -> Date {
        Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    /// PostgreSQL's text cannot hold NUL; such a byte (never expected) becomes a space.
    static func text(_ value: String) -> String {
        value.contains("\0") ? value.replacingOccurrences(of: "\0", with: " ") : value
    }
}

/// Statements on one connection, under one deadline.
struct Session {
    let connection: PostgresConnection
    let logger: Logger
    let deadline: ContinuousClock.Instant
    let timeout: Duration

    /// Sends all `statements` at once (the connection queues them, one round trip in all) and
    /// waits for every result; throws the first failure.
    @discardableResult
    func run(_ statements: [PostgresQuery]) throws -> [PostgresQueryResult] {
        let futures = statements.map { connection.query($0, logger: logger) }
        var results: [PostgresQueryResult] = []
        results.reserveCapacity(futures.count)
        var firstFailure: (any Error)?
        for future in futures {
            do {
                results.append(try Self.wait(for: future, until: deadline, timeout: timeout, what: "query"))
            } catch let error as DeadlineExceeded {
                throw error
            } catch {
                // Later statements of a failed transaction fail too; the first error says why.
                if firstFailure == nil { firstFailure = error }
            }
        }
        if let firstFailure { throw firstFailure }
        return results
    }

    /// Blocks the calling thread (never an event loop's) until `future` completes or `deadline`
    /// passes.
    static func wait<T: Sendable>(for future: EventLoopFuture<T>, until deadline: ContinuousClock.Instant,
                                  timeout: Duration, what: String) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<T, any Error>?>(nil)
        future.whenComplete { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        let remaining = max(.zero, deadline - .now)
        if done.wait(timeout: .now() + remaining.timeInterval) == .timedOut {
            throw DeadlineExceeded(what: what, timeout: timeout)
        }
        guard let result = outcome.withLock({ $0 }) else { throw DeadlineExceeded(what: what, timeout: timeout) }
        return try result.get()
    }
}

/// A call to the server that did not finish within its deadline.
struct DeadlineExceeded: Error {
    let what: String
    let timeout: Duration
}
