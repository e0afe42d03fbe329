import Foundation
import HeloState
import PostgresNIO

/// `heloguard stats` on the shared database: the same rows, in the same order, as the embedded
/// store's queries (`SQLiteStateStore+Statistics.swift`), over the whole fleet's HELO log.
///
/// Where the two differ in SQL, the answers are kept equal:
/// - **Order.** SQLite compares text bytewise; a PostgreSQL database compares it by its locale
///   (`en_US`, ICU …). Every `ORDER BY` on a text column says `COLLATE "C"` (bytewise on UTF-8),
///   so ties are broken as in SQLite whatever the database's collation. Equality (`GROUP BY`,
///   `DISTINCT`, `=`) is bytewise under any deterministic collation already.
/// - **NULL.** SQLite sorts NULL first in ascending order, PostgreSQL last: the one nullable
///   sort key (the reverse name) says `NULLS FIRST`.
/// - **Round trips.** What the embedded store asks per row shown (refusals per name or client,
///   each rotating client's names, each provider name's clients) is one query here, with
///   `count(*) FILTER (…)` and `= ANY(array)`: per-row queries cost a network round trip each.
/// - **Deadline.** Each call may take ``PostgresStateStore/statisticsTimeout`` (60 s unless
///   given otherwise) instead of the writer's ``PostgresStateStore/queryTimeout``, and the server
///   is told the same (`statement_timeout`), so a query the client gave up on does not go on
///   running there.
/// - **Snapshot.** A call outside ``readingConsistently(_:)`` runs in a transaction of its own,
///   `REPEATABLE READ READ ONLY`, as ``readingConsistently(_:)`` runs all of them: the hosts go
///   on writing, the report sees one state of the log.
extension PostgresStateStore: HeloLogStatistics {
    public func heloLogSummary(since: Date?) throws -> HeloLogSummary {
        try statistics("summarize the HELO log") { session in
            var statements: [PostgresQuery] = [
                "SELECT count(*), count(client_name), min(time), max(time) FROM helo_log WHERE time >= \(Self.periodStart(since))",
            ]
            if since != nil { statements.append("SELECT count(*) FROM helo_log") }
            let results = try session.run(statements)
            guard let row = results[0].rows.first else { throw noRow }
            let (records, named, first, last) = try row.decode((Int64, Int64, Int64?, Int64?).self)
            var stored = records
            if since != nil {
                guard let total = results[1].rows.first else { throw noRow }
                stored = try total.decode(Int64.self)
            }
            return HeloLogSummary(records: Int(records), recordsWithClientName: Int(named),
                                  firstRecord: first.map(Self.date), lastRecord: last.map(Self.date),
                                  storedRecords: Int(stored))
        }
    }

    public func sharedHeloNames(since: Date?, minClients: Int, limit: Int) throws -> [SharedHeloRow] {
        try statistics("count the clients per HELO name") { session in
            try Self.widestGroups(session, of: .helo, since: since, atLeast: minClients, limit: limit).map { group in
                SharedHeloRow(helo: group.value, clients: group.distinct, connections: group.connections,
                              rejected: group.rejected)
            }
        }
    }

    public func rotatingClients(since: Date?, minNames: Int, limit: Int) throws -> [RotatingClientRow] {
        try statistics("count the HELO names per client") { session in
            let groups = try Self.widestGroups(session, of: .client, since: since, atLeast: minNames, limit: limit)
            guard !groups.isEmpty else { return [] }
            // Every name each of these clients gave in the period, most used first, and whether
            // any other client gave it at any time in the stored log.
            let clients = groups.map(\.value)
            let names = try session.run(["""
                SELECT client, helo, count(*) AS connections,
                       NOT EXISTS (SELECT 1 FROM helo_log AS other
                                   WHERE other.helo = mine.helo AND other.client <> mine.client) AS exclusive
                FROM helo_log AS mine
                WHERE client = ANY(\(clients)) AND time >= \(Self.periodStart(since))
                GROUP BY client, helo
                ORDER BY client COLLATE "C", connections DESC, helo COLLATE "C"
                """])[0]
            var byClient: [String: (ranked: [String], exclusive: [String])] = [:]
            for row in names.rows {
                let (client, helo, _, exclusive) = try row.decode((String, String, Int64, Bool).self)
                byClient[client, default: ([], [])].ranked.append(helo)
                if exclusive { byClient[client, default: ([], [])].exclusive.append(helo) }
            }
            return groups.map { group in
                let names = byClient[group.value] ?? ([], [])
                return RotatingClientRow(client: group.value, names: group.distinct, connections: group.connections,
                                         rejected: group.rejected,
                                         sampleNames: Array(names.ranked.prefix(HeloLogStatisticsLimits.sampleNames)),
                                         exclusiveNames: names.exclusive.sorted())
            }
        }
    }

    public func rejectedHelos(since: Date?, limitPerRestriction: Int, verdict: String) throws -> [RejectedHeloRow] {
        try statistics("count the refused HELO names") { session in
            let result = try session.run(["""
                SELECT restriction, helo, rejections, clients FROM (
                    SELECT restriction, helo, count(*) AS rejections, count(DISTINCT client) AS clients,
                           row_number() OVER (PARTITION BY restriction
                                              ORDER BY count(*) DESC, helo COLLATE "C") AS place
                    FROM helo_log
                    WHERE restriction IS NOT NULL AND verdict = \(verdict) AND time >= \(Self.periodStart(since))
                    GROUP BY restriction, helo
                ) AS ranked
                WHERE place <= \(Int64(max(0, limitPerRestriction)))
                ORDER BY restriction COLLATE "C", place
                """])[0]
            return try result.rows.map { row in
                let (restriction, helo, rejections, clients) = try row.decode((String, String, Int64, Int64).self)
                return RejectedHeloRow(restriction: restriction, helo: helo, rejections: Int(rejections),
                                       clients: Int(clients))
            }
        }
    }

    public func providerNameSightings(since: Date?, domains: [String]) throws -> [ProviderNameRow] {
        guard !domains.isEmpty else { return [] }
        return try statistics("find HELO names inside provider domains") { session in
            // Matched here, as in the embedded store, so that both agree on case and trailing
            // dots whatever the database's lower() makes of a name; then one query for all of them.
            let distinct = try session.run([#"SELECT helo FROM helo_log GROUP BY helo ORDER BY helo COLLATE "C""#])[0]
            var candidates: [String] = []
            for row in distinct.rows {
                let name = try row.decode(String.self)
                if ProviderDomain.contains(name, in: domains) { candidates.append(name) }
            }
            guard !candidates.isEmpty else { return [] }
            let result = try session.run(["""
                SELECT helo, client, client_name,
                       count(*) FILTER (WHERE time >= \(Self.periodStart(since))), count(*)
                FROM helo_log WHERE helo = ANY(\(candidates))
                GROUP BY helo, client, client_name
                ORDER BY helo COLLATE "C", client COLLATE "C", client_name COLLATE "C" NULLS FIRST
                """])[0]
            return try result.rows.map { row in
                let (helo, client, clientName, connections, stored) =
                    try row.decode((String, String, String?, Int64, Int64).self)
                return ProviderNameRow(helo: helo, client: client, clientName: clientName,
                                       connections: Int(connections), storedConnections: Int(stored))
            }
        }
    }

    /// Runs `body` in one `REPEATABLE READ READ ONLY` transaction: every query it makes sees the
    /// database as it was at the first one, whatever the hosts write meanwhile.
    public func readingConsistently<T>(_ body: () throws -> T) throws -> T {
        try withReadSnapshot("start a consistent read", begin: snapshotStart, timeout: statisticsTimeout, body)
    }

    // MARK: Helpers

    /// Opens the read-only snapshot transaction and bounds each statement on the server too.
    private var snapshotStart: [PostgresQuery] {
        let milliseconds = max(1, Int64(statisticsTimeout.timeInterval * 1000))
        return [
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            PostgresQuery(unsafeSQL: "SET LOCAL statement_timeout = \(milliseconds)"),
        ]
    }

    /// One statistics call under ``statisticsTimeout``: inside the open snapshot when
    /// ``readingConsistently(_:)`` runs, else in a read-only transaction of its own.
    func statistics<T>(_ operation: String, _ body: (Session) throws -> T) throws -> T {
        try withSession(operation, timeout: statisticsTimeout) { session in
            if isReadingSnapshot { return try body(session) }
            try session.run(snapshotStart)
            let value = try body(session)
            try session.run(["COMMIT"])
            return value
        }
    }

    /// The two groupings of the HELO log, as in the embedded store: by name (counting clients)
    /// and by client (counting names).
    private enum Grouping {
        case helo, client

        var column: String { self == .helo ? "helo" : "client" }
        var counted: String { self == .helo ? "client" : "helo" }
    }

    /// The values of `grouping`'s column with at least `atLeast` distinct values of the other
    /// column in the period, with their connections and refusals: most distinct first, then
    /// most connections, then bytewise by value; at most `limit`.
    private static func widestGroups(_ session: Session, of grouping: Grouping, since: Date?, atLeast: Int, limit: Int)
        throws -> [(value: String, distinct: Int, connections: Int, rejected: Int)] {
        let result = try session.run(["""
            SELECT \(unescaped: grouping.column), count(DISTINCT \(unescaped: grouping.counted)) AS distinct_values,
                   count(*) AS connections, count(*) FILTER (WHERE verdict = 'reject') AS rejected
            FROM helo_log WHERE time >= \(periodStart(since))
            GROUP BY \(unescaped: grouping.column) HAVING count(DISTINCT \(unescaped: grouping.counted)) >= \(Int64(atLeast))
            ORDER BY distinct_values DESC, connections DESC, \(unescaped: grouping.column) COLLATE "C"
            LIMIT \(Int64(max(0, limit)))
            """])[0]
        return try result.rows.map { row in
            let (value, distinct, connections, rejected) = try row.decode((String, Int64, Int64, Int64).self)
            return (value, Int(distinct), Int(connections), Int(rejected))
        }
    }

    /// The period's start in the log's seconds: everything when there is none.
    private static func periodStart(_ since: Date?) -> Int64 {
        since.map(seconds) ?? Int64.min
    }

    /// An aggregate that came back without its row: an answer heloguard cannot read.
    private var noRow: PostgresStoreError {
        .failed(location: location, operation: "summarize the HELO log", sqlState: nil,
                message: "the server returned no row for an aggregate")
    }
}
