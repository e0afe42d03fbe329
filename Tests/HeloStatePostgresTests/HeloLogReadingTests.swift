import Foundation
import HeloPolicy
import Testing
@testable import HeloState
@testable import HeloStatePostgres

/// `heloguard replay`'s read path on both stores: the same records in the same order (newest
/// first, ties by insertion), page by page, bounded by `since` and `limit`.
@Suite("HELO log read record by record")
struct HeloLogReadingTests {
    /// Seven records; h1, h2 and h3 share one second, so only the id orders them.
    static let offsets: [TimeInterval] = [0, 10, 10, 10, 20, 30, 40]

    static func seed(_ store: any StateStore) throws {
        try store.appendHeloLog(offsets.enumerated().map { index, offset in
            HeloLogRecord(time: at(offset), client: address("192.0.2.\(index + 1)"), helo: "h\(index).example",
                          verdict: index % 2 == 0 ? "accept" : "reject",
                          restriction: index % 2 == 0 ? nil : "reject_unknown_helo_hostname",
                          clientName: index == 6 ? "mail.h6.example" : nil)
        })
    }

    static func walk(_ store: any StateStore, since: Date?, limit: Int?, pageSize: Int) throws -> [String] {
        let reader = try #require(store as? any HeloLogReading)
        var names: [String] = []
        try reader.forEachHeloLogRecord(since: since, limit: limit, pageSize: pageSize) { names.append($0.helo) }
        return names.map { String($0.dropLast(".example".count)) }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let since: TimeInterval?
        let limit: Int?
        let pageSize: Int
        let expected: [String]
        var testDescription: String { "since \(since.map { "\($0)" } ?? "-") limit \(limit.map(String.init) ?? "-") page \(pageSize)" }
    }

    static let cases: [Case] = [
        Case(since: nil, limit: nil, pageSize: 2, expected: ["h6", "h5", "h4", "h3", "h2", "h1", "h0"]),
        Case(since: nil, limit: nil, pageSize: 100, expected: ["h6", "h5", "h4", "h3", "h2", "h1", "h0"]),
        Case(since: 10, limit: nil, pageSize: 1, expected: ["h6", "h5", "h4", "h3", "h2", "h1"]),
        Case(since: nil, limit: 5, pageSize: 2, expected: ["h6", "h5", "h4", "h3", "h2"]),
        Case(since: 25, limit: 10, pageSize: 3, expected: ["h6", "h5"]),
        Case(since: 41, limit: nil, pageSize: 3, expected: []),
    ]

    @Test(arguments: StoreKind.allCases, cases)
    func newestFirstPageByPage(_ kind: StoreKind, _ c: Case) throws {
        try withStore(kind) { subject in
            try Self.seed(subject.store)
            #expect(try Self.walk(subject.store, since: c.since.map(at), limit: c.limit, pageSize: c.pageSize) == c.expected)
        }
    }

    @Test("every field comes back as written", arguments: StoreKind.allCases)
    func fields(_ kind: StoreKind) throws {
        try withStore(kind) { subject in
            try Self.seed(subject.store)
            let reader = try #require(subject.store as? any HeloLogReading)
            let page = try reader.heloLogPage(since: nil, before: nil, count: 2)
            #expect(page.records == [
                HeloLogRecord(time: at(40), client: address("192.0.2.7"), helo: "h6.example", verdict: "accept",
                              restriction: nil, clientName: "mail.h6.example"),
                HeloLogRecord(time: at(30), client: address("192.0.2.6"), helo: "h5.example", verdict: "reject",
                              restriction: "reject_unknown_helo_hostname", clientName: nil),
            ])
            #expect(page.next?.time == Int64(at(30).timeIntervalSince1970))
            #expect(page.unreadable == 0)
        }
    }
}

/// The built `heloguard replay` with `state_database` pointing at a throwaway cluster: the same
/// report as on the embedded store, from the fleet's log.
@Suite("heloguard replay on PostgreSQL")
struct ReplayCommandPostgresTests {
    @Test("replay --json reads the shared log; --since narrows it")
    func jsonReport() throws {
        try withCluster { cluster in
            try StatsCommandPostgresTests.seed(cluster.url())
            let directory = cluster.directory + "/cli"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let config = directory + "/candidate.conf"
            try "state_database = \(cluster.url())\nsmtpd_helo_restrictions = permit\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            for (arguments, examined, unchanged, ylmf) in [([String](), 12, 7, 4), (["--since", "24h"], 9, 4, 4)] {
                let result = try StatsCommandPostgresTests.heloguard(["replay", "--json", "--no-dns", "--config", config] + arguments,
                                                                     in: directory)
                #expect(result.status == 0, "\(result.stderr)")
                let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
                #expect(object["examined"] as? Int == examined)
                #expect(object["unchanged"] as? Int == unchanged)
                #expect(object["newly_accepted_total"] as? Int == 5)
                let groups = try #require(object["newly_accepted"] as? [[String: Any]])
                #expect(groups.map { $0["restriction"] as? String }
                        == ["reject_unknown_helo_hostname", "reject_non_fqdn_helo_hostname"])
                #expect(groups.map { $0["count"] as? Int } == [ylmf, 1])
            }
        }
    }
}
