import Foundation
import Testing
import HeloPolicy
@testable import HeloState
@testable import HeloStatePostgres

/// A fixed point in time for the fake clock: every test counts from here.
let epoch = Date(timeIntervalSince1970: 1_800_000_000)

func at(_ seconds: TimeInterval) -> Date { epoch.addingTimeInterval(seconds) }

let hour: TimeInterval = 3600
let day: TimeInterval = 86_400

func address(_ text: String) -> IPAddress { IPAddress(text)! }

func entry(_ key: String, _ reason: String, first: TimeInterval, expires: TimeInterval, offences: Int = 1) throws -> PenaltyEntry {
    PenaltyEntry(key: try PenaltyKey(parsing: key), reason: reason, firstSeen: at(first), expires: at(expires),
                 offences: offences)
}

/// The two stores the conformance suite runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite = "SQLite"
    case postgres = "PostgreSQL"
    var testDescription: String { rawValue }
}

/// A store of either kind on fresh storage, with what the tests need beside the protocol:
/// counting rows, reopening, and cleaning up.
final class StoreUnderTest: @unchecked Sendable {
    let kind: StoreKind
    private(set) var store: any StateStore
    private let cluster: TestCluster?
    private let directory: String?

    init(_ kind: StoreKind) throws {
        self.kind = kind
        switch kind {
        case .sqlite:
            let directory = FileManager.default.temporaryDirectory.path + "/heloguard-conformance-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            self.directory = directory
            cluster = nil
            store = try SQLiteStateStore(path: directory + "/heloguard.sqlite")
        case .postgres:
            let cluster = try TestCluster()
            self.cluster = cluster
            directory = nil
            store = try PostgresStateStore(urlText: cluster.url())
        }
    }

    /// Closes the store and opens the same storage again.
    func reopen() throws {
        store.close()
        switch kind {
        case .sqlite: store = try SQLiteStateStore(path: directory! + "/heloguard.sqlite")
        case .postgres: store = try PostgresStateStore(urlText: cluster!.url())
        }
    }

    /// The number of rows of `sql` (a `SELECT count(*) ...`).
    func count(_ sql: String) throws -> Int64 {
        switch kind {
        case .sqlite:
            return try (store as! SQLiteStateStore).withConnection("test") { db throws(SQLiteFailure) in try db.integer(sql) }
        case .postgres:
            return Int64(try cluster!.psql(sql, database: TestCluster.database)) ?? -1
        }
    }

    /// The single text value `sql` selects.
    func text(_ sql: String) throws -> String? {
        switch kind {
        case .sqlite:
            return try (store as! SQLiteStateStore).withConnection("test") { db throws(SQLiteFailure) in try db.text(sql) }
        case .postgres:
            return try cluster!.psql(sql, database: TestCluster.database)
        }
    }

    func finish() {
        store.close()
        cluster?.destroy()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}

/// Runs `body` with a store of `kind`, cleaned up afterwards whatever happens.
func withStore(_ kind: StoreKind, _ body: (StoreUnderTest) throws -> Void) throws {
    let subject = try StoreUnderTest(kind)
    defer { subject.finish() }
    try body(subject)
}

/// Runs `body` with a fresh cluster, destroyed afterwards whatever happens.
func withCluster(_ body: (TestCluster) throws -> Void) throws {
    let cluster = try TestCluster()
    defer { cluster.destroy() }
    try body(cluster)
}
