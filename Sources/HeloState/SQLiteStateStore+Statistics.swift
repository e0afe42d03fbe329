import Foundation

/// The HELO log's statistics on the embedded store. Every query reads through the HELO log's
/// covering indices ((helo, client, time), (client, helo, time), the partial (restriction, helo)
/// one); the table itself is read only for the columns no index holds (verdict, reverse name),
/// and then only for the rows of a few names or clients. `+time` keeps SQLite's planner from
/// choosing the time index for a period filter where the grouping index is the cheap path.
extension SQLiteStateStore: HeloLogStatistics {
    public func heloLogSummary(since: Date?) throws -> HeloLogSummary {
        try withConnection("summarize the HELO log") { db throws(SQLiteFailure) in
            var summary = HeloLogSummary(records: 0, recordsWithClientName: 0, firstRecord: nil, lastRecord: nil,
                                         storedRecords: 0)
            try db.run("SELECT count(*), count(client_name), min(time), max(time) FROM helo_log WHERE time >= ?",
                       [Self.periodStart(since)]) { row in
                summary.records = Int(row.integer(0))
                summary.recordsWithClientName = Int(row.integer(1))
                summary.firstRecord = row.isNull(2) ? nil : Self.date(row.integer(2))
                summary.lastRecord = row.isNull(3) ? nil : Self.date(row.integer(3))
            }
            summary.storedRecords = since == nil ? summary.records : Int(try db.integer("SELECT count(*) FROM helo_log"))
            return summary
        }
    }

    public func sharedHeloNames(since: Date?, minClients: Int, limit: Int) throws -> [SharedHeloRow] {
        try withConnection("count the clients per HELO name") { db throws(SQLiteFailure) in
            try Self.widestGroups(db, of: .helo, since: since, atLeast: minClients, limit: limit).map { group throws(SQLiteFailure) in
                SharedHeloRow(helo: group.value, clients: group.distinct, connections: group.connections,
                              rejected: try Self.rejections(db, where: .helo, is: group.value, since: since))
            }
        }
    }

    public func rotatingClients(since: Date?, minNames: Int, limit: Int) throws -> [RotatingClientRow] {
        try withConnection("count the HELO names per client") { db throws(SQLiteFailure) in
            var rows = try Self.widestGroups(db, of: .client, since: since, atLeast: minNames, limit: limit).map { group in
                RotatingClientRow(client: group.value, names: group.distinct, connections: group.connections, rejected: 0,
                                  sampleNames: [], exclusiveNames: [])
            }
            for index in rows.indices {
                let client = SQLiteValue.text(rows[index].client)
                var names: [String] = []
                try db.run("""
                    SELECT helo, count(*) AS connections FROM helo_log
                    WHERE client = ? AND time >= ? GROUP BY helo ORDER BY connections DESC, helo
                    """, [client, Self.periodStart(since)]) { row in names.append(row.text(0) ?? "") }
                rows[index].sampleNames = Array(names.prefix(HeloLogStatisticsLimits.sampleNames))
                var exclusive: [String] = []
                for name in names {
                    let usedByOthers = try db.integer(
                        "SELECT EXISTS (SELECT 1 FROM helo_log WHERE helo = ? AND client <> ?)", [.text(name), client])
                    if usedByOthers == 0 { exclusive.append(name) }
                }
                rows[index].exclusiveNames = exclusive.sorted()
                rows[index].rejected = try Self.rejections(db, where: .client, is: rows[index].client, since: since)
            }
            return rows
        }
    }

    public func rejectedHelos(since: Date?, limitPerRestriction: Int, verdict: String) throws -> [RejectedHeloRow] {
        try withConnection("count the refused HELO names") { db throws(SQLiteFailure) in
            var rows: [RejectedHeloRow] = []
            try db.run("""
                SELECT restriction, helo, rejections, clients FROM (
                    SELECT restriction, helo, count(*) AS rejections, count(DISTINCT client) AS clients,
                           row_number() OVER (PARTITION BY restriction ORDER BY count(*) DESC, helo) AS rank
                    FROM helo_log
                    WHERE restriction IS NOT NULL AND verdict = ? AND time >= ?
                    GROUP BY restriction, helo
                ) AS ranked
                WHERE rank <= ? ORDER BY restriction, rank
                """, [.text(verdict), Self.periodStart(since), .integer(Int64(max(0, limitPerRestriction)))]) { row in
                rows.append(RejectedHeloRow(restriction: row.text(0) ?? "", helo: row.text(1) ?? "",
                                            rejections: Int(row.integer(2)), clients: Int(row.integer(3))))
            }
            return rows
        }
    }

    public func providerNameSightings(since: Date?, domains: [String]) throws -> [ProviderNameRow] {
        guard !domains.isEmpty else { return [] }
        return try withConnection("find HELO names inside provider domains") { db throws(SQLiteFailure) in
            // Suffix matching cannot use an index, so the distinct names (a few thousand, read
            // from the helo index) are matched here, and only the matching ones are read.
            var candidates: [String] = []
            try db.run("SELECT DISTINCT helo FROM helo_log INDEXED BY helo_log_helo") { row in
                if let name = row.text(0), ProviderDomain.contains(name, in: domains) { candidates.append(name) }
            }
            var rows: [ProviderNameRow] = []
            for name in candidates {
                try db.run("""
                    SELECT client, client_name, sum(CASE WHEN time >= ? THEN 1 ELSE 0 END), count(*)
                    FROM helo_log WHERE helo = ? GROUP BY client, client_name ORDER BY client, client_name
                    """, [Self.periodStart(since), .text(name)]) { row in
                    rows.append(ProviderNameRow(helo: name, client: row.text(0) ?? "", clientName: row.text(1),
                                                connections: Int(row.integer(2)), storedConnections: Int(row.integer(3))))
                }
            }
            return rows
        }
    }

    /// One read transaction around `body`: its queries see one state of the file while the
    /// milter goes on writing (WAL readers take no lock a writer waits for).
    public func readingConsistently<T>(_ body: () throws -> T) throws -> T {
        try withConnection("start reading") { db throws(SQLiteFailure) in try db.execute("BEGIN DEFERRED") }
        do {
            let value = try body()
            try withConnection("finish reading") { db throws(SQLiteFailure) in try db.execute("COMMIT") }
            return value
        } catch {
            try? withConnection("finish reading") { db throws(SQLiteFailure) in try db.execute("ROLLBACK") }
            throw error
        }
    }

    /// The two ways the HELO log is grouped: by name (counting clients) and by client (counting
    /// names), each with the covering index that serves it.
    private enum Grouping {
        case helo, client

        var column: String { self == .helo ? "helo" : "client" }
        var counted: String { self == .helo ? "client" : "helo" }
        var index: String { self == .helo ? "helo_log_helo" : "helo_log_client" }
    }

    /// The values of `grouping`'s column with at least `atLeast` distinct values of the other
    /// column in the period: most distinct first, then most connections, then by value.
    private static func widestGroups(_ db: SQLiteConnection, of grouping: Grouping, since: Date?, atLeast: Int, limit: Int)
        throws(SQLiteFailure) -> [(value: String, distinct: Int, connections: Int)] {
        var groups: [(value: String, distinct: Int, connections: Int)] = []
        try db.run("""
            SELECT \(grouping.column), count(DISTINCT \(grouping.counted)) AS distinct_values, count(*) AS connections
            FROM helo_log INDEXED BY \(grouping.index) WHERE +time >= ?
            GROUP BY \(grouping.column) HAVING count(DISTINCT \(grouping.counted)) >= ?
            ORDER BY distinct_values DESC, connections DESC, \(grouping.column) LIMIT ?
            """, [periodStart(since), .integer(Int64(atLeast)), .integer(Int64(max(0, limit)))]) { row in
            groups.append((row.text(0) ?? "", Int(row.integer(1)), Int(row.integer(2))))
        }
        return groups
    }

    /// Refused connections of one name or one client in the period. Only the rows shown need
    /// the verdict, which no index holds.
    private static func rejections(_ db: SQLiteConnection, where grouping: Grouping, is value: String, since: Date?)
        throws(SQLiteFailure) -> Int {
        Int(try db.integer("SELECT count(*) FROM helo_log WHERE \(grouping.column) = ? AND time >= ? AND verdict = 'reject'",
                           [.text(value), periodStart(since)]))
    }

    /// The period's start as a bound value: everything when there is none.
    private static func periodStart(_ since: Date?) -> SQLiteValue {
        .integer(since.map(seconds) ?? Int64.min)
    }
}
