import Foundation
import HeloPolicy
import Testing
@testable import HeloState
@testable import HeloStatePostgres

/// The built `heloguard stats` (beside the test executable) with `state_database` pointing at a
/// throwaway cluster: the report of the fleet's log, two hosts' records in one database.
@Suite("heloguard stats on PostgreSQL")
struct StatsCommandPostgresTests {
    /// The built binary: `HELOGUARD_BINARY`, else `heloguard` beside this test executable.
    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["HELOGUARD_BINARY"] { return explicit }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("heloguard").path
    }

    /// Runs `heloguard` with `arguments`; its exit status, standard output and standard error.
    static func heloguard(_ arguments: [String], in directory: String) throws -> (status: Int32, stdout: String, stderr: String) {
        let out = directory + "/stdout", err = directory + "/stderr"
        let status = try TestCluster.spawn([binary] + arguments, environment: ["PATH=/usr/bin:/bin", "LC_ALL=C"],
                                           stdout: out, stderr: err, timeout: 60, command: "heloguard")
        return (status, (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Two hosts' HELO logs, an hour old; the localhost records three days old.
    static func seed(_ url: String) throws {
        let recent = Date().addingTimeInterval(-3600), old = Date().addingTimeInterval(-3 * 86_400)
        func record(_ client: String, _ helo: String, _ verdict: String = "accept", _ restriction: String? = nil,
                    name: String? = nil, time: Date = recent) -> HeloLogRecord {
            HeloLogRecord(time: time, client: address(client), helo: helo, verdict: verdict, restriction: restriction,
                          clientName: name)
        }
        let mx1 = try PostgresStateStore(urlText: url), mx2 = try PostgresStateStore(urlText: url)
        defer { mx1.close(); mx2.close() }
        try mx1.appendHeloLog((1...2).map { record("198.51.100.\($0)", "ylmf-pc", "reject", "reject_unknown_helo_hostname") }
                              + (10...12).map { record("198.51.100.\($0)", "localhost", time: old) }
                              + [record("203.0.113.50", "r1.example", "reject", "reject_non_fqdn_helo_hostname"),
                                 record("192.0.2.1", "mx.google.com", name: "cpe-1.broadband.example")])
        try mx2.appendHeloLog((3...4).map { record("198.51.100.\($0)", "ylmf-pc", "reject", "reject_unknown_helo_hostname") }
                              + [record("203.0.113.50", "r2.example"), record("203.0.113.50", "r3.example"),
                                 record("203.0.113.50", "Zeta.example")])
    }

    @Test("stats --json reads the whole fleet's log from the shared database; --since narrows it")
    func jsonReport() throws {
        try withCluster { cluster in
            try Self.seed(cluster.url())
            let directory = cluster.directory + "/cli"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let config = directory + "/heloguard.conf"
            try "state_database = \(cluster.url())\n".write(toFile: config, atomically: true, encoding: .utf8)

            let result = try Self.heloguard(["stats", "--json", "--config", config], in: directory)
            #expect(result.status == 0, "\(result.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(object["records"] as? Int == 12)
            #expect(object["stored_records"] as? Int == 12)
            let shared = try #require(object["shared_names"] as? [[String: Any]])
            #expect(shared.map { $0["helo"] as? String } == ["ylmf-pc", "localhost"])
            #expect(shared.first?["clients"] as? Int == 4, "two hosts' records of one name are counted together")
            let suggestion = try #require(shared.first?["suggestion"] as? [String: Any])
            #expect(suggestion["line"] as? String == "ylmf-pc\tREJECT shared HELO name: 4 clients, 4 connections")
            let rotating = try #require(object["rotating_clients"] as? [[String: Any]])
            #expect(rotating.map { $0["client"] as? String } == ["203.0.113.50"])
            #expect(rotating.first?["exclusive_names"] as? [String] == ["Zeta.example", "r1.example", "r2.example", "r3.example"],
                    "bytewise order, as on SQLite")
            let rejected = try #require(object["rejected_helos"] as? [[String: Any]])
            #expect(rejected.map { $0["restriction"] as? String } == ["reject_unknown_helo_hostname", "reject_non_fqdn_helo_hostname"])
            let claims = try #require(object["provider_claims"] as? [[String: Any]])
            #expect(claims.map { $0["helo"] as? String } == ["mx.google.com"])

            let lastDay = try Self.heloguard(["stats", "--json", "--since", "24h", "--config", config], in: directory)
            #expect(lastDay.status == 0, "\(lastDay.stderr)")
            let narrowed = try #require(try JSONSerialization.jsonObject(with: Data(lastDay.stdout.utf8)) as? [String: Any])
            #expect(narrowed["records"] as? Int == 9)
            #expect(narrowed["stored_records"] as? Int == 12)
            #expect((narrowed["shared_names"] as? [[String: Any]])?.map { $0["helo"] as? String } == ["ylmf-pc"])
        }
    }

    @Test("stats with the database down: exit 1, the location named, the password not")
    func databaseDown() throws {
        try withCluster { cluster in
            let directory = cluster.directory + "/cli"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let config = directory + "/heloguard.conf"
            try "state_database = \(cluster.url())\n".write(toFile: config, atomically: true, encoding: .utf8)
            try cluster.stop()
            let result = try Self.heloguard(["stats", "--config", config], in: directory)
            #expect(result.status == 1)
            #expect(result.stderr.contains("127.0.0.1:\(cluster.port)/\(TestCluster.database)"), "\(result.stderr)")
            #expect(!result.stderr.contains(TestCluster.password))
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.hasPrefix("heloguard stats: "), "\(result.stderr)")
        }
    }
}
