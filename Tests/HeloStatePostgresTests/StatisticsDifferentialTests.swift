import Foundation
import HeloPolicy
import Testing
@testable import HeloState
@testable import HeloStatePostgres

/// The PostgreSQL store's statistics against the embedded store's, row for row, over a large
/// random (but seeded, so reproducible) HELO log, for every query and a spread of periods,
/// thresholds and limits. The PostgreSQL database sorts text by an ICU locale (`en-US`), as a
/// production database may: every tie broken by name must still come out in SQLite's bytewise
/// order.
@Suite("HELO log statistics: PostgreSQL against SQLite")
struct StatisticsDifferentialTests {
    /// SplitMix64: a tiny generator whose sequence depends on the seed alone.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Names chosen so that bytewise and locale order disagree (capitals, punctuation, digits,
    /// non-ASCII), with provider names, look-alikes and hostile bytes among them.
    static let names: [String] = [
        "localhost", "ylmf-pc", "mx.google.com", "MX.Google.COM", "gmail.com.", "notgoogle.com", "mail.outlook.com",
        "relay.example.net", "Example.NET", "smtp.mail.yahoo.com", "a-b.example", "a_b.example", "a.b.example",
        "ab.example", "Zeta.example", "zeta.example", "bücher.example", "Bücher.example", "ünïcode", "Bad Name",
        "#hash.example", "ctl\u{1}x", "[192.0.2.1]", "10", "9", "_x", "-y", "~z",
    ] + (1...40).map { "host-\($0).example" }

    static let restrictions: [String?] = [
        "reject_unknown_helo_hostname", "reject_invalid_helo_hostname", "check_helo_access hash:/etc/heloguard/helo_access",
        "Reject_Impersonating_HELO", nil,
    ]

    /// `count` records over thirty days before ``epoch``: names and clients drawn with a skew, so
    /// some names are shared widely, some clients rotate, and many counts tie.
    static func randomLog(count: Int, seed: UInt64) -> [HeloLogRecord] {
        var random = SeededGenerator(state: seed)
        func skewed(_ size: Int) -> Int { Int.random(in: 0..<size, using: &random) * Int.random(in: 1...size, using: &random) / size }
        let clients: [String] = (1...60).map { "198.51.100.\($0)" } + (1...30).map { "2001:db8::\(String($0, radix: 16))" }
            + (1...30).map { "203.0.113.\($0 * 7)" }
        return (0..<count).map { _ in
            let client = clients[skewed(clients.count)]
            let helo = names[skewed(names.count)]
            let roll = Int.random(in: 0..<10, using: &random)
            let verdict = roll < 6 ? "accept" : roll < 9 ? "reject" : "defer"
            let restriction = verdict == "accept" ? nil : restrictions.randomElement(using: &random)!
            let reverse = Int.random(in: 0..<4, using: &random)
            let clientName: String? = switch reverse {
            case 0: nil
            case 1: "host.\(client.filter(\.isNumber)).isp.example"
            case 2: ["mail-yw1.google.com", "MAIL.YAHOO.COM.", "out.example.net", "spam.example.net"]
                        .randomElement(using: &random)!
            default: "Other.\(client.filter(\.isNumber)).example"
            }
            let ago = TimeInterval(Int.random(in: 0..<(30 * 86_400), using: &random)) + (Bool.random(using: &random) ? 0.5 : 0)
            return HeloLogRecord(time: at(-ago), client: address(client), helo: helo, verdict: verdict,
                                 restriction: restriction, clientName: clientName)
        }
    }

    /// Every statistics answer of `store` for the variants below, labelled, in one snapshot.
    static func answers(_ store: any HeloLogStatistics) throws -> [(label: String, value: AnyHashable)] {
        var answers: [(label: String, value: AnyHashable)] = []
        try store.readingConsistently {
            for since in [nil, at(-7 * day), at(-29 * day - 0.5), at(hour)] as [Date?] {
                let period = since.map { "since \($0.timeIntervalSince1970)" } ?? "whole log"
                answers.append(("summary, \(period)", try store.heloLogSummary(since: since)))
                for (threshold, limit) in [(1, 1000), (2, 7), (3, 1000), (5, 1), (40, 1000)] {
                    answers.append(("shared names ≥\(threshold) ≤\(limit), \(period)",
                                    try store.sharedHeloNames(since: since, minClients: threshold, limit: limit)))
                    answers.append(("rotating clients ≥\(threshold) ≤\(limit), \(period)",
                                    try store.rotatingClients(since: since, minNames: threshold, limit: limit)))
                }
                for limit in [0, 1, 3, 1000] {
                    answers.append(("refused names ≤\(limit), \(period)",
                                    try store.rejectedHelos(since: since, limitPerRestriction: limit)))
                }
                for domains in [[], ["google.com", "outlook.com"], ["Example.NET.", "yahoo.com", "bücher.example"]] {
                    answers.append(("provider names in \(domains), \(period)",
                                    try store.providerNameSightings(since: since, domains: domains)))
                }
            }
        }
        return answers
    }

    @Test("every statistics query answers the same rows, in the same order, on both stores (5,000 random records)")
    func sameRowsOnBothStores() throws {
        let log = Self.randomLog(count: 5_000, seed: 0x4845_4C4F)
        let directory = FileManager.default.temporaryDirectory.path + "/heloguard-differential-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sqlite = try SQLiteStateStore(path: directory + "/heloguard.sqlite")
        defer { sqlite.close() }
        try sqlite.appendHeloLog(log)

        try withCluster { cluster in
            try cluster.psql("""
                CREATE DATABASE heloguard_icu OWNER \(TestCluster.user) TEMPLATE template0 ENCODING 'UTF8'
                    LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'
                """)
            let postgres = try PostgresStateStore(urlText: cluster.url(database: "heloguard_icu"))
            defer { postgres.close() }
            for start in stride(from: 0, to: log.count, by: 500) {
                try postgres.appendHeloLog(Array(log[start..<min(start + 500, log.count)]))
            }
            // The database's own order is not bytewise: the test would catch a missing COLLATE.
            #expect(try cluster.psql("SELECT 'Zeta' < 'ab'", database: "heloguard_icu") == "f")

            let expected = try Self.answers(sqlite), actual = try Self.answers(postgres)
            #expect(actual.map(\.label) == expected.map(\.label))
            for (mine, theirs) in zip(actual, expected) {
                #expect(mine.value == theirs.value, "\(mine.label)")
            }
            // Not a comparison of empty answers.
            let widest = try sqlite.sharedHeloNames(since: nil, minClients: 1, limit: 1000)
            #expect(widest.count > 50 && widest.contains { $0.rejected > 0 })
            #expect(try sqlite.rotatingClients(since: nil, minNames: 3, limit: 1000).contains { !$0.exclusiveNames.isEmpty })
            #expect(try sqlite.rejectedHelos(since: nil, limitPerRestriction: 3).count == 12)
            #expect(try sqlite.providerNameSightings(since: at(-7 * day), domains: ["google.com"])
                        .contains { $0.connections < $0.storedConnections && $0.clientName == nil })
            // Outside a snapshot, each call answers alone, the same.
            #expect(try postgres.rotatingClients(since: at(-7 * day), minNames: 2, limit: 7)
                    == (try sqlite.rotatingClients(since: at(-7 * day), minNames: 2, limit: 7)))
        }
    }

    // MARK: Snapshot and deadlines

    static func record(_ client: String, _ helo: String, ago: TimeInterval = 0) -> HeloLogRecord {
        HeloLogRecord(time: at(-ago), client: address(client), helo: helo, verdict: "reject",
                      restriction: "reject_unknown_helo_hostname")
    }

    /// Expects `body` to fail with a transient store error whose text leaves the password out;
    /// `unexpected` is what it means when it does not fail.
    static func expectTransientFailure(_ unexpected: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record(Comment(rawValue: unexpected))
        } catch let failure as PostgresStoreError {
            #expect(failure.isTransient, "\(failure)")
            #expect(!failure.description.contains(TestCluster.password))
        } catch {
            Issue.record("not a store error: \(error)")
        }
    }

    @Test("readingConsistently: one snapshot while another host writes; the next report sees the new rows")
    func snapshotWhileAnotherHostWrites() throws {
        try withCluster { cluster in
            let reader = try PostgresStateStore(urlText: cluster.url()), writer = try PostgresStateStore(urlText: cluster.url())
            defer { reader.close(); writer.close() }
            try writer.appendHeloLog((1...5).map { Self.record("192.0.2.\($0)", "ylmf-pc") })
            let (before, during, shared) = try reader.readingConsistently {
                let before = try reader.heloLogSummary(since: nil)
                try writer.appendHeloLog((6...9).map { Self.record("192.0.2.\($0)", "ylmf-pc") })
                return (before, try reader.heloLogSummary(since: nil),
                        try reader.sharedHeloNames(since: nil, minClients: 1, limit: 10))
            }
            #expect(before.records == 5)
            #expect(during == before)
            #expect(shared == [SharedHeloRow(helo: "ylmf-pc", clients: 5, connections: 5, rejected: 5)])
            #expect(try reader.heloLogSummary(since: nil).records == 9)
        }
    }

    @Test("readingConsistently: a connection lost inside the snapshot fails the report instead of mixing two states")
    func snapshotConnectionLost() throws {
        try withCluster { cluster in
            let store = try PostgresStateStore(urlText: cluster.url())
            defer { store.close() }
            try store.appendHeloLog([Self.record("192.0.2.1", "a.example")])
            Self.expectTransientFailure("the snapshot went on after its connection broke") {
                _ = try store.readingConsistently {
                    _ = try store.heloLogSummary(since: nil)
                    try cluster.stop()
                    try cluster.start()
                    return try store.sharedHeloNames(since: nil, minClients: 1, limit: 10)
                }
            }
            #expect(try HeloReport.build(from: store, options: HeloReportOptions()).summary.records == 1,
                    "the next report connects again")
        }
    }

    @Test("statistics have their own deadline: longer than the writer's, and kept")
    func statisticsDeadline() throws {
        try withCluster { cluster in
            let locker = try PostgresStateStore(urlText: cluster.url())
            defer { locker.close() }
            try locker.appendHeloLog([Self.record("192.0.2.1", "a.example")])
            func lockLog() throws {
                _ = try locker.withSession("lock") { session in
                    try session.run(["BEGIN", "LOCK TABLE helo_log IN ACCESS EXCLUSIVE MODE"])
                }
            }
            // A query held up longer than the 1 s query timeout, shorter than the statistics one.
            try lockLog()
            DispatchQueue.global().asyncAfter(deadline: .now() + 2) {
                _ = try? locker.withSession("unlock") { session in try session.run(["ROLLBACK"]) }
            }
            let patient = try PostgresStateStore(urlText: cluster.url(), queryTimeout: .seconds(1))
            defer { patient.close() }
            #expect(try patient.heloLogSummary(since: nil).records == 1)

            // Held up longer than the statistics timeout: a transient failure, on time, no password.
            try lockLog()
            defer { _ = try? locker.withSession("unlock") { session in try session.run(["ROLLBACK"]) } }
            let hasty = try PostgresStateStore(urlText: cluster.url(), statisticsTimeout: .seconds(1))
            defer { hasty.close() }
            let started = ContinuousClock.now
            Self.expectTransientFailure("a locked table answered within the statistics timeout") {
                _ = try hasty.sharedHeloNames(since: nil, minClients: 1, limit: 10)
            }
            #expect(ContinuousClock.now - started < .seconds(4))
        }
    }
}
