import Foundation
import Testing
import HeloPolicy
@testable import HeloState
@testable import HeloStatePostgres

/// What every ``StateStore`` must do, run against the embedded store and the PostgreSQL one
/// alike (the expectations of the SQLite store's own tests).
@Suite("StateStore conformance")
struct StoreConformanceTests {
    @Test("the penalty box survives a reopen: upsert, replace, remove, forgotten entries not loaded",
          arguments: StoreKind.allCases)
    func penaltiesSurviveReopen(_ kind: StoreKind) throws {
        try withStore(kind) { subject in
            let v4 = try entry("192.0.2.1", "reject_impersonating_helo: helo=<mx.example.com>", first: 0, expires: day)
            let v6 = try entry("2001:db8:1:2::/64", "penalize_client: helo=<[10.0.0.1]>", first: 5,
                               expires: 3 * day, offences: 2)
            let gone = try entry("198.51.100.1", "removed later", first: 0, expires: day)
            let forgotten = try entry("198.51.100.2", "long ago", first: -30 * day, expires: -20 * day)
            try subject.store.apply([.upsertPenalty(v4), .upsertPenalty(gone), .upsertPenalty(forgotten)])
            try subject.store.upsertPenalty(try entry("2001:db8:1:2::/64", "first", first: 5, expires: day))
            try subject.store.upsertPenalty(v6)  // a longer entry of the same key replaces it
            try subject.store.removePenalty(gone.key)
            try subject.reopen()

            let policy = PenaltyPolicy()
            let loaded = try subject.store.loadPenalties(rememberedSince: policy.forgetCutoff(at: at(10)))
            #expect(Set(loaded) == [v4, v6])
            let box = PenaltyBox(policy: policy)
            box.replaceAll(with: loaded)
            #expect(box.lookup(address("2001:db8:1:2:dead::beef"), at: at(10))?.offences == 2)
            #expect(box.lookup(address("::ffff:192.0.2.1"), at: at(10))?.reason.contains("mx.example.com") == true)
        }
    }

    @Test("times are kept to the second, rounded down", arguments: StoreKind.allCases)
    func secondPrecision(_ kind: StoreKind) throws {
        try withStore(kind) { subject in
            let entry = PenaltyEntry(key: try PenaltyKey(parsing: "192.0.2.9"), reason: "r",
                                     firstSeen: at(0.75), expires: at(hour + 0.5), offences: 1)
            try subject.store.upsertPenalty(entry)
            let loaded = try subject.store.loadPenalties(rememberedSince: at(0))
            #expect(loaded.map(\.firstSeen) == [at(0)])
            #expect(loaded.map(\.expires) == [at(hour)])
        }
    }

    @Test("a closed store refuses writes for good (not an outage); what was written before stays",
          arguments: StoreKind.allCases)
    func closedStore(_ kind: StoreKind) throws {
        try withStore(kind) { subject in
            try subject.store.appendHeloLog([HeloLogRecord(time: at(0), client: address("192.0.2.1"), helo: "a.example",
                                                           verdict: "accept")])
            subject.store.close()
            #expect(throws: (any Error).self) {
                try subject.store.appendHeloLog([HeloLogRecord(time: at(1), client: address("192.0.2.2"),
                                                               helo: "b.example", verdict: "accept")])
            }
            do {
                try subject.store.upsertPenalty(try entry("192.0.2.1", "r", first: 0, expires: day))
                Issue.record("a closed store accepted a write")
            } catch let failure as any StateStoreFailure {
                #expect(!failure.isTransient, "a closed store is not an outage: \(failure)")
            }
            try subject.reopen()
            #expect(try subject.count("SELECT count(*) FROM helo_log") == 1)
        }
    }

    @Test("HELO log: append with every field, then prune by retention and by size", arguments: StoreKind.allCases)
    func heloLogPrune(_ kind: StoreKind) throws {
        try withStore(kind) { subject in
            var records: [HeloLogRecord] = []
            for index in 0..<40 {
                let rejected = index % 2 == 1
                records.append(HeloLogRecord(
                    time: at(TimeInterval(index) * day), client: address("192.0.2.\(index)"), helo: "host\(index).example",
                    verdict: rejected ? "reject" : "accept",
                    restriction: rejected ? "reject_non_fqdn_helo_hostname" : nil,
                    clientName: index == 3 ? "mail.example.net" : nil))
            }
            try subject.store.appendHeloLog(records)
            #expect(try subject.count("SELECT count(*) FROM helo_log") == 40)
            #expect(try subject.count("SELECT count(*) FROM helo_log WHERE restriction IS NOT NULL") == 20)
            #expect(try subject.text("SELECT client_name FROM helo_log WHERE helo = 'host3.example'") == "mail.example.net")

            // Retention 30 days at day 39: days 0...8 are older than day 9.
            let byAge = try subject.store.prune(RetentionLimits(heloLogRetention: 30 * day), at: at(39 * day))
            #expect(byAge.heloLogRecordsRemoved == 9)
            #expect(try subject.count("SELECT count(*) FROM helo_log") == 31)

            // Size: the 10 newest stay.
            let bySize = try subject.store.prune(RetentionLimits(heloLogRetention: 365 * day, heloLogMaxRecords: 10),
                                                 at: at(39 * day))
            #expect(bySize.heloLogRecordsRemoved == 21)
            #expect(try subject.text("SELECT helo FROM helo_log ORDER BY time LIMIT 1") == "host30.example")

            #expect(try subject.store.prune(RetentionLimits(heloLogMaxRecords: 10), at: at(39 * day)) == PruneResult())
        }
    }

    @Test("penalties: prune forgets long-expired entries and keeps the latest-expiring within the bound",
          arguments: StoreKind.allCases)
    func penaltyPrune(_ kind: StoreKind) throws {
        try withStore(kind) { subject in
            try subject.store.apply([
                .upsertPenalty(try entry("192.0.2.1", "", first: -20 * day, expires: -10 * day)),  // forgotten
                .upsertPenalty(try entry("192.0.2.2", "", first: -2 * day, expires: -1 * day)),    // remembered
                .upsertPenalty(try entry("192.0.2.3", "", first: 0, expires: 1 * day)),
                .upsertPenalty(try entry("192.0.2.4", "", first: 0, expires: 2 * day)),
            ])
            let result = try subject.store.prune(RetentionLimits(penaltyMemory: 7 * day, penaltyMaxEntries: 2), at: at(0))
            #expect(result.penaltiesRemoved == 2)
            let left = try subject.store.loadPenalties(rememberedSince: at(-365 * day)).map(\.key.description).sorted()
            #expect(left == ["192.0.2.3", "192.0.2.4"])
        }
    }
}
