import Foundation
import Testing
import HeloPolicy
@testable import HeloState

/// The embedded store on real files in a temporary directory.
@Suite("SQLiteStateStore")
struct SQLiteStateStoreTests {
    static func entry(_ key: String, _ reason: String, first: TimeInterval, expires: TimeInterval,
                      offences: Int = 1) throws -> PenaltyEntry {
        PenaltyEntry(key: try PenaltyKey(parsing: key), reason: reason, firstSeen: at(first),
                     expires: at(expires), offences: offences)
    }

    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test("created on first use: directory 0750, file 0640, WAL mode, the current schema version")
    func creation() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.file("state/lib/heloguard.sqlite")
        let store = try SQLiteStateStore(path: path)
        defer { store.close() }
        #expect(try Self.mode(temp.file("state/lib")) == 0o750)
        #expect(try Self.mode(path) == 0o640)
        let journal = try store.withConnection("test") { db throws(SQLiteFailure) in try db.text("PRAGMA journal_mode") }
        #expect(journal == "wal")
        let version = try store.withConnection("test") { db throws(SQLiteFailure) in try db.integer("PRAGMA user_version") }
        #expect(version == Int64(SQLiteStateStore.schemaVersion))
    }

    @Test("a version 1 file is migrated to version 2 in place, its rows kept, and gains the reverse name column")
    func migratesVersion1() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.file("heloguard.sqlite")
        do {
            // The file as the first heloguard release wrote it.
            let db = try SQLiteConnection(path: path)
            try db.execute(SQLiteStateStore.migrations[0])
            try db.execute("PRAGMA user_version = 1")
            try db.execute("INSERT INTO helo_log (time, client, helo, verdict) VALUES (7, '192.0.2.1', 'old.example', 'accept')")
            try db.execute("INSERT INTO penalty VALUES ('192.0.2.9', 'kept', 0, 99999999999, 1)")
            db.close()
        }
        let store = try SQLiteStateStore(path: path)
        defer { store.close() }
        let version = try store.withConnection("test") { db throws(SQLiteFailure) in try db.integer("PRAGMA user_version") }
        #expect(version == 2)
        #expect(try store.loadPenalties(rememberedSince: at(0)).map(\.reason) == ["kept"])
        try store.appendHeloLog([HeloLogRecord(time: at(8), client: address("192.0.2.2"), helo: "new.example",
                                               verdict: "reject", restriction: "reject_impersonating_helo",
                                               clientName: "host.example.net")])
        let rows = try store.withConnection("test") { db throws(SQLiteFailure) in
            var rows: [String] = []
            try db.run("SELECT helo, coalesce(client_name, '-') FROM helo_log ORDER BY id", []) { row in
                rows.append("\(row.text(0) ?? "") \(row.text(1) ?? "")")
            }
            return rows
        }
        #expect(rows == ["old.example -", "new.example host.example.net"])
    }

    @Test("the penalty box survives a restart")
    func penaltiesSurviveReopen() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.file("heloguard.sqlite")
        let v4 = try Self.entry("192.0.2.1", "reject_impersonating_helo: helo=<mx.example.com>", first: 0, expires: day)
        let v6 = try Self.entry("2001:db8:1:2::/64", "penalize_client: helo=<[10.0.0.1]>", first: 5,
                                expires: 3 * day, offences: 2)
        let gone = try Self.entry("198.51.100.1", "removed later", first: 0, expires: day)
        let forgotten = try Self.entry("198.51.100.2", "long ago", first: -30 * day, expires: -20 * day)
        do {
            let store = try SQLiteStateStore(path: path)
            try store.apply([.upsertPenalty(v4), .upsertPenalty(gone), .upsertPenalty(forgotten)])
            try store.upsertPenalty(try Self.entry("2001:db8:1:2::/64", "first", first: 5, expires: day))
            try store.upsertPenalty(v6)  // replaces the entry of the same key
            try store.removePenalty(gone.key)
            store.close()
            #expect(throws: SQLiteStoreError.closed(path: path)) { try store.upsertPenalty(v4) }
        }
        let reopened = try SQLiteStateStore(path: path)
        defer { reopened.close() }
        let policy = PenaltyPolicy()
        let loaded = try reopened.loadPenalties(rememberedSince: policy.forgetCutoff(at: at(10)))
        #expect(Set(loaded) == [v4, v6])

        let box = PenaltyBox(policy: policy)
        box.replaceAll(with: loaded)
        #expect(box.lookup(address("2001:db8:1:2:dead::beef"), at: at(10))?.offences == 2)
        #expect(box.lookup(address("::ffff:192.0.2.1"), at: at(10))?.reason.contains("mx.example.com") == true)
    }

    @Test("times are kept to the second, rounded down")
    func secondPrecision() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let store = try SQLiteStateStore(path: temp.file("s.sqlite"))
        defer { store.close() }
        let entry = PenaltyEntry(key: try PenaltyKey(parsing: "192.0.2.9"), reason: "r",
                                 firstSeen: at(0.75), expires: at(hour + 0.5), offences: 1)
        try store.upsertPenalty(entry)
        let loaded = try store.loadPenalties(rememberedSince: at(0))
        #expect(loaded.map(\.firstSeen) == [at(0)])
        #expect(loaded.map(\.expires) == [at(hour)])
    }

    @Test("only another connection's commit counts as a change made elsewhere")
    func changesMadeElsewhere() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let store = try SQLiteStateStore(path: temp.file("s.sqlite"))
        defer { store.close() }
        let entry = PenaltyEntry(key: try PenaltyKey(parsing: "192.0.2.9"), reason: "r",
                                 firstSeen: at(0), expires: at(hour), offences: 1)
        #expect(try store.mayHaveChangedElsewhere(), "the first question cannot know")
        #expect(try !store.mayHaveChangedElsewhere())
        try store.upsertPenalty(entry)
        try store.appendHeloLog([HeloLogRecord(time: at(1), client: address("192.0.2.9"), helo: "x", verdict: "accept")])
        _ = try store.prune(RetentionLimits(), at: at(2))
        #expect(try !store.mayHaveChangedElsewhere(), "this store's own writes and prunes are not news")
        // What `heloguard penalty remove` does: another connection to the same file.
        let other = try SQLiteStateStore(path: temp.file("s.sqlite"))
        try other.removePenalty(entry.key)
        other.close()
        #expect(try store.mayHaveChangedElsewhere())
        #expect(try !store.mayHaveChangedElsewhere(), "each change is news once")
    }

    static func logCount(_ store: SQLiteStateStore) throws -> Int64 {
        try store.withConnection("test") { db throws(SQLiteFailure) in try db.integer("SELECT count(*) FROM helo_log") }
    }

    @Test("HELO log: append, then prune by retention and by size")
    func heloLogPrune() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let store = try SQLiteStateStore(path: temp.file("s.sqlite"))
        defer { store.close() }
        // One record per day for 40 days, the last one at day 39.
        var records: [HeloLogRecord] = []
        for index in 0..<40 {
            let rejected = index % 2 == 1
            let time: Date = at(TimeInterval(index) * day)
            records.append(HeloLogRecord(
                time: time, client: address("192.0.2.\(index)"), helo: "host\(index).example",
                verdict: rejected ? "reject" : "accept",
                restriction: rejected ? "reject_non_fqdn_helo_hostname" : nil))
        }
        try store.appendHeloLog(records)
        #expect(try Self.logCount(store) == 40)
        let restrictions = try store.withConnection("test") { db throws(SQLiteFailure) in
            try db.integer("SELECT count(*) FROM helo_log WHERE restriction IS NOT NULL")
        }
        #expect(restrictions == 20)

        // Retention 30 days at day 39: days 0...8 are older than day 9.
        let byAge = try store.prune(RetentionLimits(heloLogRetention: 30 * day), at: at(39 * day))
        #expect(byAge.heloLogRecordsRemoved == 9)
        #expect(try Self.logCount(store) == 31)

        // Size: the 10 newest stay.
        let bySize = try store.prune(RetentionLimits(heloLogRetention: 365 * day, heloLogMaxRecords: 10),
                                     at: at(39 * day))
        #expect(bySize.heloLogRecordsRemoved == 21)
        let oldest = try store.withConnection("test") { db throws(SQLiteFailure) in
            try db.text("SELECT helo FROM helo_log ORDER BY time LIMIT 1")
        }
        #expect(oldest == "host30.example")

        // Nothing more to do.
        #expect(try store.prune(RetentionLimits(heloLogMaxRecords: 10), at: at(39 * day)) == PruneResult())
    }

    @Test("penalties: prune forgets long-expired entries and keeps the latest-expiring within the bound")
    func penaltyPrune() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let store = try SQLiteStateStore(path: temp.file("s.sqlite"))
        defer { store.close() }
        try store.apply([
            .upsertPenalty(try Self.entry("192.0.2.1", "", first: 0, expires: -10 * day)),  // forgotten
            .upsertPenalty(try Self.entry("192.0.2.2", "", first: 0, expires: -1 * day)),   // remembered
            .upsertPenalty(try Self.entry("192.0.2.3", "", first: 0, expires: 1 * day)),
            .upsertPenalty(try Self.entry("192.0.2.4", "", first: 0, expires: 2 * day)),
        ])
        let limits = RetentionLimits(penaltyMemory: 7 * day, penaltyMaxEntries: 2)
        let result = try store.prune(limits, at: at(0))
        #expect(result.penaltiesRemoved == 2)
        let left = try store.loadPenalties(rememberedSince: at(-365 * day)).map(\.key.description).sorted()
        #expect(left == ["192.0.2.3", "192.0.2.4"])
    }

    enum Unusable: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case notSQLite = "a text file"
        case truncatedHeader = "an SQLite header and garbage"
        case foreign = "another program's SQLite database"
        case newerSchema = "a newer heloguard's database"
        var testDescription: String { rawValue }
    }

    /// Writes the unusable file and returns the error heloguard must give for it.
    static func make(_ kind: Unusable, at path: String) throws -> SQLiteStoreError {
        switch kind {
        case .notSQLite:
            try Data(String(repeating: "this is not a database\n", count: 200).utf8).write(to: URL(fileURLWithPath: path))
            return .notADatabase(path: path, message: "file is not a database")
        case .truncatedHeader:
            var bytes = Array("SQLite format 3\0".utf8)
            bytes += [UInt8](repeating: 0xA5, count: 4096 - bytes.count)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return .notADatabase(path: path, message: "file is not a database")
        case .foreign:
            let db = try SQLiteConnection(path: path)
            try db.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
            db.close()
            return .foreignDatabase(path: path)
        case .newerSchema:
            let db = try SQLiteConnection(path: path)
            try db.execute("PRAGMA user_version = 99")
            db.close()
            return .schemaTooNew(path: path, version: 99, supported: SQLiteStateStore.schemaVersion)
        }
    }

    @Test("a file that is not heloguard's database is refused and left untouched", arguments: Unusable.allCases)
    func unusableFile(_ kind: Unusable) throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.file("heloguard.sqlite")
        let expected = try Self.make(kind, at: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: expected) { try SQLiteStateStore(path: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(expected.description.contains(path))
        #expect(!expected.isTransient)
        if kind != .newerSchema {
            #expect(expected.description.contains("move it aside (mv \(path) \(path).broken)"))
        }
        // Moved aside, the path gives a fresh store.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".broken")
        let fresh = try SQLiteStateStore(path: path)
        fresh.close()
    }

    @Test("a state directory that is a file is an error naming it")
    func directoryIsAFile() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let blocker = temp.file("state")
        _ = FileManager.default.createFile(atPath: blocker, contents: Data("x".utf8))
        #expect(throws: SQLiteStoreError.cannotCreateDirectory(path: blocker, reason: "it exists and is not a directory")) {
            try SQLiteStateStore(path: blocker + "/heloguard.sqlite")
        }
    }
}
