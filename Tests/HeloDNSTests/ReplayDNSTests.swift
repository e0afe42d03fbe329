import Foundation
import HeloGuard
import HeloPolicy
import HeloState
import Testing

/// `heloguard replay`'s engine with a DNS restriction in the candidate: asked live through the
/// candidate's `dns_servers` (dnsmasq on loopback), or not at all (`--no-dns`), when the record
/// is then not replayable — unless the candidate decided before reaching it.
@Suite("Replay: DNS restrictions against the loopback test DNS")
struct ReplayDNSTests {
    static let zone = """
        local=/test/
        host-record=known.example.test,192.0.2.1
        """

    /// The log, newest first: a name DNS knows, one it does not, one refused for its syntax.
    static let records: [HeloLogRecord] = [
        HeloLogRecord(time: Date(timeIntervalSince1970: 1_800_000_030), client: IPAddress("198.51.100.10")!,
                      helo: "known.example.test", verdict: "accept"),
        HeloLogRecord(time: Date(timeIntervalSince1970: 1_800_000_020), client: IPAddress("198.51.100.11")!,
                      helo: "unknown.example.test", verdict: "accept"),
        HeloLogRecord(time: Date(timeIntervalSince1970: 1_800_000_010), client: IPAddress("198.51.100.12")!,
                      helo: "nofqdn", verdict: "reject", restriction: "reject_non_fqdn_helo_hostname"),
    ]

    struct Case: Sendable, CustomTestStringConvertible {
        let asksDNS: Bool
        let unchanged: Int
        let newlyRefused: [String: Int]
        let notReplayable: [String: Int]
        var testDescription: String { asksDNS ? "DNS asked live" : "--no-dns" }
    }

    static let cases: [Case] = [
        Case(asksDNS: true, unchanged: 2, newlyRefused: ["reject_unknown_helo_hostname": 1], notReplayable: [:]),
        Case(asksDNS: false, unchanged: 1, newlyRefused: [:], notReplayable: ["reject_unknown_helo_hostname": 2]),
    ]

    @Test(arguments: cases)
    func replay(_ c: Case) throws {
        let directory = FileManager.default.temporaryDirectory.path + "/heloguard-replay-dns-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteStateStore(path: directory + "/heloguard.sqlite")
        defer { store.close() }
        try store.appendHeloLog(Self.records)

        try withDnsmasq(Self.zone) { server in
            let loaded = try ConfigurationLoader.load(text: """
                dns_servers = 127.0.0.1:\(server.port)
                dns_timeout = 5s
                smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, reject_unknown_helo_hostname
                """, file: "candidate.conf")
            let evaluator = ReplayEvaluator(candidate: loaded, path: "candidate.conf",
                                            resolver: c.asksDNS ? ResolverSetup.unbound(loaded.policy.dns) : nil)
            let report = try ReplayReport.build(from: store, since: nil, limit: nil, evaluator: evaluator)
            #expect(report.examined == 3)
            #expect(report.unchanged == c.unchanged)
            #expect(Dictionary(uniqueKeysWithValues: report.newlyRefused.map { ($0.restriction, $0.count) }) == c.newlyRefused)
            #expect(Dictionary(uniqueKeysWithValues: report.notReplayable.map { ($0.restriction, $0.count) }) == c.notReplayable)
            #expect(report.notReplayable.allSatisfy { $0.blocker == .dns })
            if c.asksDNS {
                let example = try #require(report.newlyRefused.first?.examples.first)
                #expect(example.helo == "unknown.example.test")
                #expect(example.candidateVerdict == .defer)
                #expect(example.candidateReply == "450 4.7.1 <unknown.example.test>: Helo command rejected: Host not found")
            }
            #expect((server.queryCount("unknown.example.test", type: "A") > 0) == c.asksDNS,
                    "the A question went to dnsmasq only when DNS is asked")
        }
    }
}
