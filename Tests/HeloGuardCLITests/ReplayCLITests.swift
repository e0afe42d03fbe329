import Foundation
import HeloPolicy
import HeloState
import Testing

/// `heloguard replay` as the built binary, on a HELO log seeded in a temporary state directory,
/// with candidate configurations whose answers are known.
@Suite(.serialized)
struct ReplayCLITests {
    /// The seeded log, newest first (one minute apart, the last one three days old):
    ///  1  198.51.100.1  mail.good.example   good.example.com  accept
    ///  2  198.51.100.2  -                   spam.example      accept
    ///  3  198.51.100.3  -                   spam.example      accept
    ///  4  198.51.100.4  -                   localhost         reject  reject_non_fqdn_helo_hostname
    ///  5  198.51.100.6  -                   left.example      none
    ///  6  198.51.100.7  -                   wr.example        would-reject  check_helo_access texthash:old
    ///  7  198.51.100.5  -                   bare              reject  reject_non_fqdn_helo_hostname  (3 days old)
    static func seed(_ path: String) throws {
        let now = Date()
        func record(_ index: Int, _ client: String, _ helo: String, _ verdict: String, _ restriction: String? = nil,
                    name: String? = nil) -> HeloLogRecord {
            HeloLogRecord(time: now.addingTimeInterval(-60 * Double(index)), client: IPAddress(client)!, helo: helo,
                          verdict: verdict, restriction: restriction, clientName: name)
        }
        let records = [
            HeloLogRecord(time: now.addingTimeInterval(-3 * 86_400), client: IPAddress("198.51.100.5")!, helo: "bare",
                          verdict: "reject", restriction: "reject_non_fqdn_helo_hostname"),
            record(6, "198.51.100.7", "wr.example", "would-reject", "check_helo_access texthash:old"),
            record(5, "198.51.100.6", "left.example", "none"),
            record(4, "198.51.100.4", "localhost", "reject", "reject_non_fqdn_helo_hostname"),
            record(3, "198.51.100.3", "spam.example", "accept"),
            record(2, "198.51.100.2", "spam.example", "accept"),
            record(1, "198.51.100.1", "good.example.com", "accept", name: "mail.good.example"),
        ]
        let store = try SQLiteStateStore(path: path)
        defer { store.close() }
        try store.appendHeloLog(records)
    }

    /// A candidate (`state_directory` added) and its tables, in a fresh directory with the seeded log.
    func withCandidate(_ text: String, seeded: Bool = true, _ body: (CLIHarness) throws -> Void) throws {
        let harness = try CLIHarness()
        defer { harness.remove() }
        try harness.write("helo_access", "spam.example\tREJECT spam HELO\n")
        try harness.write("senders", "boss@example.com\tOK\n")
        try harness.write("sasl_access", "spam.example\tpermit_sasl_authenticated, reject\n")
        // Never asked in these tests; a loopback address all the same.
        try harness.write("candidate.conf", "state_directory = @DIR@/state\ndns_servers = 127.0.0.1:9\n" + text + "\n")
        try FileManager.default.createDirectory(atPath: harness.directory.path + "/state", withIntermediateDirectories: true)
        if seeded { try Self.seed(harness.directory.path + "/state/heloguard.sqlite") }
        try body(harness)
    }

    func replay(_ h: CLIHarness, _ arguments: [String]) throws -> CLIHarness.Result {
        try h.run(["replay", "--config", "@DIR@/candidate.conf"] + arguments)
    }

    func json(_ result: CLIHarness.Result) throws -> [String: Any] {
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    /// A candidate and what replaying the seeded log against it must give.
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let restrictions: String
        var arguments: [String] = []
        /// unchanged, newly refused, newly accepted, changed refusal, not replayable, undecided.
        let counts: [Int]
        /// `section: restriction` → count, for every group of every section.
        let groups: [String: Int]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a new table entry newly refuses the clients that gave it",
             restrictions: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, check_helo_access texthash:@DIR@/helo_access",
             counts: [3, 2, 1, 0, 0, 1],
             groups: ["newly_refused: check_helo_access texthash:@DIR@/helo_access": 2,
                      "newly_accepted: check_helo_access texthash:old": 1]),
        Case(name: "a removed restriction newly accepts what it refused",
             restrictions: "smtpd_helo_restrictions = permit",
             counts: [3, 0, 3, 0, 0, 1],
             groups: ["newly_accepted: reject_non_fqdn_helo_hostname": 2, "newly_accepted: check_helo_access texthash:old": 1]),
        Case(name: "a refusal that becomes a deferral is a changed refusal",
             restrictions: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\nnon_fqdn_reject_code = 450",
             counts: [3, 0, 1, 2, 0, 1],
             groups: ["changed_refusal: reject_non_fqdn_helo_hostname": 2, "newly_accepted: check_helo_access texthash:old": 1]),
        Case(name: "a sender-dependent restriction makes every decided record not replayable",
             restrictions: "smtpd_helo_restrictions = check_sender_access texthash:@DIR@/senders, reject_non_fqdn_helo_hostname",
             counts: [0, 0, 0, 0, 6, 1],
             groups: ["not_replayable: check_sender_access texthash:@DIR@/senders (sender)": 6]),
        Case(name: "a decision reached before the SASL check stands",
             restrictions: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, permit_sasl_authenticated, reject",
             counts: [2, 0, 0, 0, 4, 1],
             groups: ["not_replayable: permit_sasl_authenticated (sasl-login)": 4]),
        Case(name: "a table result that names the SASL check is not replayable for the names it lists",
             restrictions: "smtpd_helo_restrictions = check_helo_access texthash:@DIR@/sasl_access, reject_non_fqdn_helo_hostname",
             counts: [3, 0, 1, 0, 2, 1],
             groups: ["not_replayable: permit_sasl_authenticated (sasl-login)": 2,
                      "newly_accepted: check_helo_access texthash:old": 1]),
        Case(name: "a restriction class that reaches the penalty box is not replayable",
             restrictions: "smtpd_restriction_classes = boxed\nboxed = reject_penalized_client\n"
                + "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, boxed",
             counts: [2, 0, 0, 0, 4, 1],
             groups: ["not_replayable: reject_penalized_client (penalty-box)": 4]),
        Case(name: "with --no-dns a DNS restriction is not replayable, a decision before it stands",
             restrictions: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, reject_unknown_helo_hostname",
             arguments: ["--no-dns"],
             counts: [2, 0, 0, 0, 4, 1],
             groups: ["not_replayable: reject_unknown_helo_hostname (dns)": 4]),
        Case(name: "smtpd_delay_reject = no decides at HELO, as the milter does, with the same answers",
             restrictions: "smtpd_delay_reject = no\n"
                + "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, check_helo_access texthash:@DIR@/helo_access",
             counts: [3, 2, 1, 0, 0, 1],
             groups: ["newly_refused: check_helo_access texthash:@DIR@/helo_access": 2,
                      "newly_accepted: check_helo_access texthash:old": 1]),
        Case(name: "a dry-run candidate is judged by what its restrictions decide",
             restrictions: "dry_run = yes\n"
                + "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, check_helo_access texthash:@DIR@/helo_access",
             counts: [3, 2, 1, 0, 0, 1],
             groups: ["newly_refused: check_helo_access texthash:@DIR@/helo_access": 2,
                      "newly_accepted: check_helo_access texthash:old": 1]),
        Case(name: "sleep neither pauses the replay nor makes it not replayable",
             restrictions: "smtpd_helo_restrictions = sleep 1, reject_non_fqdn_helo_hostname",
             counts: [5, 0, 1, 0, 0, 1],
             groups: ["newly_accepted: check_helo_access texthash:old": 1]),
        Case(name: "--since leaves the older record out",
             restrictions: "smtpd_helo_restrictions = permit", arguments: ["--since", "2d"],
             counts: [3, 0, 2, 0, 0, 1],
             groups: ["newly_accepted: reject_non_fqdn_helo_hostname": 1, "newly_accepted: check_helo_access texthash:old": 1]),
        Case(name: "--limit takes the newest records",
             restrictions: "smtpd_helo_restrictions = permit", arguments: ["--limit", "4"],
             counts: [3, 0, 1, 0, 0, 0],
             groups: ["newly_accepted: reject_non_fqdn_helo_hostname": 1]),
    ]

    @Test(arguments: cases)
    func replayCountsAndGroups(_ c: Case) throws {
        try withCandidate(c.restrictions) { h in
            let started = Date()
            let object = try json(try replay(h, c.arguments + ["--json"]))
            #expect(Date().timeIntervalSince(started) < 5, "no evaluation pauses (sleep) or waits for DNS")
            let keys = ["unchanged", "newly_refused_total", "newly_accepted_total", "changed_refusal_total",
                        "not_replayable_total", "undecided"]
            #expect(keys.map { object[$0] as? Int } == c.counts)
            #expect(object["examined"] as? Int == c.counts.reduce(0, +))
            var groups: [String: Int] = [:]
            for section in ["newly_refused", "newly_accepted", "changed_refusal", "not_replayable"] {
                for group in object[section] as? [[String: Any]] ?? [] {
                    let needs = (group["needs"] as? String).map { " (\($0))" } ?? ""
                    let restriction = (group["restriction"] as? String ?? "").replacingOccurrences(of: h.directory.path, with: "@DIR@")
                    groups["\(section): \(restriction)\(needs)"] = group["count"] as? Int
                }
            }
            #expect(groups == c.groups)
        }
    }

    @Test func jsonExamplesCarryBothVerdicts() throws {
        try withCandidate("smtpd_helo_restrictions = check_helo_access texthash:@DIR@/helo_access") { h in
            let object = try json(try replay(h, ["--json", "--no-dns"]))
            #expect(object["dns"] as? Bool == false)
            #expect(object["candidate_dry_run"] as? Bool == false)
            #expect(object["limit"] is NSNull)
            let refused = try #require((object["newly_refused"] as? [[String: Any]])?.first)
            let examples = try #require(refused["examples"] as? [[String: Any]])
            #expect(examples.map { $0["client"] as? String } == ["198.51.100.2", "198.51.100.3"], "newest first")
            let first = examples[0]
            #expect(first["helo"] as? String == "spam.example")
            #expect(first["recorded_verdict"] as? String == "accept")
            #expect(first["recorded_restriction"] is NSNull)
            #expect(first["candidate_verdict"] as? String == "reject")
            #expect(first["candidate_reply"] as? String == "554 5.7.1 <spam.example>: Helo command rejected: spam HELO")
            #expect(Set(first.keys) == ["time", "client", "client_name", "helo", "recorded_verdict", "recorded_restriction",
                                        "candidate_verdict", "candidate_reply"])
        }
    }

    @Test func tableOutputSummarisesAndShowsExamples() throws {
        try withCandidate("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, check_helo_access texthash:@DIR@/helo_access") { h in
            let result = try replay(h, ["--no-dns"])
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let dir = h.directory.path
            #expect(lines.first?.hasPrefix("heloguard replay: 7 HELO log records examined (the whole log), from ") == true)
            #expect(lines.contains("candidate: \(dir)/candidate.conf; --no-dns: records that need DNS are not replayable"))
            for expected in ["unchanged             3", "newly refused         2", "newly accepted        1",
                             "refusal changed       0", "not replayable        0", "no recorded decision  1",
                             "== Newly refused (recorded accept), per deciding restriction of the candidate ==",
                             "check_helo_access texthash:\(dir)/helo_access: 2 connection(s)",
                             "  198.51.100.2 HELO spam.example: accept -> reject 554 5.7.1 <spam.example>: Helo command rejected: spam HELO",
                             "== Newly accepted (recorded reject or defer), per restriction that refused before ==",
                             "check_helo_access texthash:old: 1 connection(s)",
                             "  198.51.100.7 HELO wr.example: would-reject [check_helo_access texthash:old] -> accept"] {
                #expect(lines.contains(expected), "missing: \(expected)\n\(result.stdout)")
            }
            #expect(!lines.contains { $0.hasPrefix("== Not replayable") }, "an empty section is left out")
        }
    }

    @Test(arguments: [
        (["--since", "yesterday"], "bad --since \"yesterday\""),
        (["--limit", "0"], "bad --limit \"0\""),
        (["--limit=-3"], "bad --limit \"-3\""),
        (["--limit", "many"], "bad --limit \"many\""),
    ])
    func badArgumentsAreUsageErrors(_ arguments: [String], _ message: String) throws {
        try withCandidate("smtpd_helo_restrictions = permit") { h in
            let result = try replay(h, arguments)
            #expect(result.status == 64)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func aCandidateIsRequired() throws {
        let harness = try CLIHarness()
        defer { harness.remove() }
        let result = try harness.run(["replay", "--json"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("give the candidate configuration with --config FILE"))
    }

    @Test func aBadCandidateIsRefusedWithFileAndLine() throws {
        try withCandidate("smtpd_helo_restrictions = reject_no_such_thing") { h in
            let result = try replay(h, [])
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(h.directory.path)/candidate.conf:3: "), "\(result.stderr)")
            #expect(result.stderr.contains("candidate configuration refused"))
            #expect(result.stdout.isEmpty)
            let missing = try h.run(["replay", "--config", "@DIR@/nowhere.conf"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("nowhere.conf"), "\(missing.stderr)")
        }
    }

    @Test func theStoreCanComeFromAnotherConfiguration() throws {
        try withCandidate("smtpd_helo_restrictions = permit") { h in
            // The candidate points at an empty state directory; the running configuration at the log.
            try h.write("running.conf", "state_directory = @DIR@/state\n")
            try h.write("candidate.conf", "state_directory = @DIR@/other\nsmtpd_helo_restrictions = permit\n")
            try FileManager.default.createDirectory(atPath: h.directory.path + "/other", withIntermediateDirectories: true)
            let own = try json(try replay(h, ["--json"]))
            #expect(own["examined"] as? Int == 0)
            let running = try json(try replay(h, ["--json", "--state-config", "@DIR@/running.conf"]))
            #expect(running["examined"] as? Int == 7)
            #expect(running["newly_accepted_total"] as? Int == 3)
        }
    }

    @Test func noStoreIsAClearError() throws {
        try withCandidate("smtpd_helo_restrictions = permit") { h in
            // Below a regular file: no state directory can be there, for root or anyone.
            try h.write("candidate.conf", "state_directory = @DIR@/helo_access/state\nsmtpd_helo_restrictions = permit\n")
            let result = try replay(h, [])
            #expect(result.status == 1)
            #expect(result.stderr.contains("heloguard replay: "), "\(result.stderr)")
            #expect(result.stderr.contains("\(h.directory.path)/helo_access/state"), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }
}
