import Foundation
import HeloPolicy
import HeloState
import Testing

/// `heloguard stats` as the built binary, on a state database seeded in a temporary
/// `state_directory`.
@Suite(.serialized)
struct StatsCLITests {
    /// A HELO log relative to now: most records an hour old, the localhost ones three days old.
    static func seed(_ path: String) throws {
        let recent = Date().addingTimeInterval(-3600), old = Date().addingTimeInterval(-3 * 86_400)
        func record(_ client: String, _ helo: String, _ verdict: String = "accept", _ restriction: String? = nil,
                    name: String? = nil, time: Date = recent) -> HeloLogRecord {
            HeloLogRecord(time: time, client: IPAddress(client)!, helo: helo, verdict: verdict, restriction: restriction,
                          clientName: name)
        }
        var records: [HeloLogRecord] = []
        for host in 1...4 { records.append(record("198.51.100.\(host)", "ylmf-pc", "reject", "reject_unknown_helo_hostname")) }
        for host in 10...12 { records.append(record("198.51.100.\(host)", "localhost", time: old)) }
        records.append(record("203.0.113.50", "r1.example", "reject", "reject_non_fqdn_helo_hostname"))
        records.append(record("203.0.113.50", "r2.example"))
        records.append(record("203.0.113.50", "r3.example"))
        records.append(record("192.0.2.1", "mx.google.com", name: "cpe-1.broadband.example"))
        for host in 20...22 { records.append(record("198.51.100.\(host)", "Bad\u{1}Name", "reject", "reject_unknown_helo_hostname")) }
        let store = try SQLiteStateStore(path: path)
        defer { store.close() }
        try store.appendHeloLog(records)
    }

    func withSeededConfig(_ extra: String = "", seeded: Bool = true, _ body: (CLIHarness) throws -> Void) throws {
        let harness = try CLIHarness()
        defer { harness.remove() }
        try harness.write("heloguard.conf", "state_directory = @DIR@/state\n" + extra)
        // The state directory exists, as the milter leaves it at its first start.
        try FileManager.default.createDirectory(atPath: harness.directory.path + "/state", withIntermediateDirectories: true)
        if seeded { try Self.seed(harness.directory.path + "/state/heloguard.sqlite") }
        try body(harness)
    }

    func stats(_ h: CLIHarness, _ arguments: String...) throws -> CLIHarness.Result {
        try h.run(["stats"] + arguments + ["--config", "@DIR@/heloguard.conf"])
    }

    /// The cells of the table row that starts with `first`.
    static func row(_ output: String, _ first: String) -> [String]? {
        output.split(separator: "\n").first { $0.hasPrefix(first + " ") }?.split(separator: " ").map(String.init)
    }

    @Test func tableOutputShowsEachSectionWithItsLines() throws {
        try withSeededConfig { h in
            let result = try stats(h)
            #expect(result.status == 0, "\(result.stderr)")
            let out = result.stdout
            let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first?.hasPrefix("heloguard stats: 14 HELO log records examined (the whole log), from ") == true)
            #expect(lines.contains("client reverse name known in 1 of them"))
            for heading in ["== HELO names given by 3 or more client addresses ==", "== Clients that gave 3 or more HELO names ==",
                            "== Most refused HELO names per restriction ==",
                            "== Provider names from clients whose reverse name is elsewhere =="] {
                #expect(lines.contains(heading), "missing \(heading)")
            }
            #expect(Self.row(out, "ylmf-pc") == ["ylmf-pc", "4", "4", "4"])
            #expect(Self.row(out, "localhost") == ["localhost", "3", "3", "0"])
            #expect(Self.row(out, "Bad\\x01Name") == ["Bad\\x01Name", "3", "3", "3"], "the control byte is shown escaped")
            #expect(!out.contains("\u{1}"))
            #expect(lines.contains("ylmf-pc\tREJECT shared HELO name: 4 clients, 4 connections"))
            #expect(lines.contains("# localhost: all 3 connection(s) were accepted: review before blocking"))
            #expect(lines.contains("# localhost\tREJECT shared HELO name: 3 clients, 3 connections"))
            #expect(lines.contains("/^bad\\x01name$/\tREJECT shared HELO name: 3 clients, 3 connections"))
            #expect(lines.contains("/^(r1\\.example|r2\\.example|r3\\.example)$/\tREJECT HELO name rotation by 203.0.113.50: 3 names"))
            #expect(lines.contains("reject_unknown_helo_hostname: 7 refusals of the names below"))
            #expect(lines.contains("ylmf-pc\tREJECT refused 4 times by reject_unknown_helo_hostname"))
            #expect(lines.contains("# r1.example: reject_non_fqdn_helo_hostname refuses it without a lookup already: a table line adds nothing"))
            #expect(lines.contains("mx.google.com\tREJECT forged Google HELO name: 1 clients outside Google"))
        }
    }

    @Test func jsonOutputHasEverySectionWithStableKeys() throws {
        try withSeededConfig { h in
            let result = try stats(h, "--json")
            #expect(result.status == 0, "\(result.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(object["records"] as? Int == 14)
            #expect(object["since"] is NSNull)
            #expect(object["helo_log_enabled"] as? Bool == true)
            #expect((object["last_record"] as? String)?.hasSuffix("Z") == true)
            let shared = try #require(object["shared_names"] as? [[String: Any]])
            #expect(shared.map { $0["helo"] as? String } == ["ylmf-pc", "Bad\u{1}Name", "localhost"])
            #expect(shared[2]["all_accepted"] as? Bool == true)
            let suggestion = try #require(shared[0]["suggestion"] as? [String: Any])
            #expect(suggestion["line"] as? String == "ylmf-pc\tREJECT shared HELO name: 4 clients, 4 connections")
            #expect(suggestion["table"] as? String == "hash")
            #expect(suggestion["caution"] is NSNull)
            let rotating = try #require(object["rotating_clients"] as? [[String: Any]])
            #expect(rotating.map { $0["client"] as? String } == ["203.0.113.50"])
            #expect(rotating.first?["exclusive_names"] as? [String] == ["r1.example", "r2.example", "r3.example"])
            let rejected = try #require(object["rejected_helos"] as? [[String: Any]])
            #expect(rejected.map { $0["restriction"] as? String } == ["reject_unknown_helo_hostname", "reject_non_fqdn_helo_hostname"])
            let claims = try #require(object["provider_claims"] as? [[String: Any]])
            #expect(claims.map { $0["helo"] as? String } == ["mx.google.com"])
            let example = try #require((claims.first?["examples"] as? [[String: Any]])?.first)
            #expect(example["client_name"] as? String == "cpe-1.broadband.example")
            #expect(object["provider_claims_without_reverse_name"] as? Int == 0)
            // Keys are sorted: the text is reproducible.
            #expect(result.stdout.range(of: "\"helo_log_enabled\"")!.lowerBound < result.stdout.range(of: "\"records\"")!.lowerBound)
        }
    }

    @Test func sinceAndLimitNarrowTheReport() throws {
        try withSeededConfig { h in
            let lastDay = try stats(h, "--since", "24h", "--json")
            #expect(lastDay.status == 0, "\(lastDay.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(lastDay.stdout.utf8)) as? [String: Any])
            #expect(object["records"] as? Int == 11)
            #expect(object["stored_records"] as? Int == 14)
            #expect((object["since"] as? String)?.hasSuffix("Z") == true)
            let shared = (object["shared_names"] as? [[String: Any]])?.map { $0["helo"] as? String }
            #expect(shared == ["ylmf-pc", "Bad\u{1}Name"], "the three-day-old localhost records are outside")

            let limited = try stats(h, "--limit", "1")
            #expect(Self.row(limited.stdout, "ylmf-pc") != nil)
            #expect(Self.row(limited.stdout, "localhost") == nil)

            let future = try stats(h, "--since", "2999-01-01")
            #expect(future.status == 0)
            #expect(future.stdout.hasPrefix("heloguard stats: no HELO log records to examine (since 2999-01-01 00:00:00 UTC, of 14 stored)\n"))
            #expect(future.stdout.contains("\nno HELO name was used by 3 or more client addresses since 2999-01-01 00:00:00 UTC\n"))
            #expect(future.stdout.contains("\nno client address gave 3 or more HELO names since 2999-01-01 00:00:00 UTC\n"))

            let minClients = try stats(h, "--min-clients", "4", "--min-names", "4")
            #expect(Self.row(minClients.stdout, "localhost") == nil)
            #expect(minClients.stdout.contains("no client address gave 4 or more HELO names in the log"))
        }
    }

    @Test func heloLogOffIsNoted() throws {
        try withSeededConfig("helo_log = no\n") { h in
            let result = try stats(h)
            #expect(result.status == 0)
            #expect(result.stdout.contains("\nnote: helo_log = no in \(h.directory.path)/heloguard.conf: nothing new is recorded; "
                                           + "this is what the log still holds\n"))
            #expect(Self.row(result.stdout, "ylmf-pc") != nil)
        }
    }

    @Test func emptyLogSaysSo() throws {
        try withSeededConfig(seeded: false) { h in
            let result = try stats(h)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("heloguard stats: no HELO log records to examine (the whole log)\n"))
            #expect(result.stdout.contains("no HELO name was used by 3 or more client addresses in the log"))
        }
    }

    @Test(arguments: [
        (["--since", "yesterday"], "bad --since \"yesterday\": use a time with its unit"),
        (["--since", "24"], "bad --since \"24\""),
        (["--since", "0h"], "bad --since \"0h\""),
        (["--limit", "0"], "bad --limit \"0\": use a whole number from 1 to 100000"),
        (["--limit", "ten"], "bad --limit \"ten\""),
        (["--min-clients", "0"], "bad --min-clients \"0\""),
        (["--min-names", "x"], "bad --min-names \"x\""),
        (["--provider", "not a domain"], "bad --provider \"not a domain\""),
    ])
    func badArgumentsExitOne(_ arguments: [String], _ message: String) throws {
        try withSeededConfig { h in
            let result = try h.run(["stats"] + arguments + ["--config", "@DIR@/heloguard.conf"])
            #expect(result.status == 1)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }
}
