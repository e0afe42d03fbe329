import Testing
@testable import HeloPolicy

/// `dry_run = yes` in the rule core: every refusal comes back accepted with the would-be
/// verdict, a `reject_warning` event carrying the reply, and no penalty; other decisions are
/// untouched; `dry_run` is a boolean checked with file and line.
struct DryRunTests {
    static let list = """
        smtpd_helo_restrictions = check_helo_access inline:{ {spam.example = penalize_client, reject}, {later.example = 450 4.7.1 later}, {hold.example = HOLD} },
            reject_non_fqdn_helo_hostname

        """

    struct Case: Sendable, CustomTestStringConvertible {
        let helo: String
        let wouldBe: String?
        let restriction: String?
        var testDescription: String { helo }
    }

    @Test(arguments: [
        Case(helo: "foo", wouldBe: "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname", restriction: "reject_non_fqdn_helo_hostname"),
        Case(helo: "spam.example", wouldBe: "554 5.7.1 <spam.example>: Helo command rejected: Access denied",
             restriction: "check_helo_access inline:{ {spam.example = penalize_client, reject}, {later.example = 450 4.7.1 later}, {hold.example = HOLD} }"),
        Case(helo: "later.example", wouldBe: "450 4.7.1 <later.example>: Helo command rejected: later",
             restriction: "check_helo_access inline:{ {spam.example = penalize_client, reject}, {later.example = 450 4.7.1 later}, {hold.example = HOLD} }"),
        Case(helo: "good.example.com", wouldBe: nil, restriction: nil),
    ])
    func refusalsBecomeWarnings(_ c: Case) throws {
        let enforced = try PolicyFixture(Self.list).decision(helo: c.helo)
        let dry = try PolicyFixture(Self.list + "dry_run = yes\n").decision(helo: c.helo)
        #expect(enforced.verdict.reply?.line == c.wouldBe)
        #expect(dry.verdict == .accept)
        #expect(dry.wouldBe?.reply?.line == c.wouldBe)
        #expect(dry.decidingRestriction == c.restriction)
        #expect(dry.penalty == nil)
        #expect(dry.events.filter { $0.kind == .reject }.isEmpty)
        #expect(dry.events.filter { $0.kind == .rejectWarning }.map(\.text) == (c.wouldBe.map { [$0] } ?? []))
        if c.wouldBe == nil { #expect(dry == enforced) }
        if c.helo == "spam.example" { #expect(enforced.penalty != nil) }
    }

    @Test func messageActionsStillAct() throws {
        let dry = try PolicyFixture(Self.list + "dry_run = yes\n").decision(helo: "hold.example")
        #expect(dry.verdict == .accept && dry.wouldBe == nil && dry.actions.hold != nil)
    }

    @Test func heloRequiredIsWarnedAtEachRecipientNotRefusedAtMail() throws {
        let engine = try PolicyFixture("smtpd_helo_required = yes\ndry_run = yes\n").engine
        let facts = SessionFacts(clientAddress: "192.0.2.1", clientName: "unknown")
        #expect(engine.checkMail(facts) == nil)
        let decision = engine.decide(recipient: "b@example.com", facts: facts)
        #expect(decision.verdict == .accept)
        #expect(decision.wouldBe?.reply?.line == "503 5.5.1 Error: send HELO/EHLO first")
        #expect(decision.events == [PolicyLogEvent(.rejectWarning, "503 5.5.1 Error: send HELO/EHLO first")])
    }

    @Test func heloStageRefusalWithDelayRejectOff() throws {
        let engine = try PolicyFixture(Self.list + "smtpd_delay_reject = no\ndry_run = yes\n").engine
        let result = engine.checkHelo(argument: "foo", facts: SessionFacts(clientAddress: "192.0.2.1", clientName: "unknown"))
        #expect(result.decision.verdict == .accept)
        #expect(result.decision.wouldBe?.reply?.line == "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname")
    }

    @Test func badValueIsAnErrorWithFileAndLine() throws {
        #expect(throws: ConfigError.self) { try PolicyFixture("\ndry_run = maybe\n") }
        do {
            _ = try PolicyFixture("\ndry_run = maybe\n")
        } catch let error as ConfigError {
            #expect(error.diagnostics.contains { $0.description.contains("heloguard.conf:2:") && $0.description.contains("dry_run") },
                    "\(error.diagnostics)")
        }
    }
}

/// `metrics_listen`: empty (off) or host:port; anything else is a configuration error naming
/// file and line.
struct MetricsListenTests {
    @Test(arguments: [("127.0.0.1:9465", "127.0.0.1:9465"), ("[::1]:9465", "[::1]:9465"), (" 0.0.0.0:80", "0.0.0.0:80")])
    func good(_ text: String, _ shown: String) throws {
        #expect(try ListenAddress.parse(text).get().description == shown)
        #expect(try PolicyFixture("metrics_listen = \(text)\n").diagnostics.filter { $0.severity == .error }.isEmpty)
    }

    @Test(arguments: ["9465", "localhost:9465", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:http", "::1:9465", "[::1]9465", "[127.0.0.1]:80"])
    func bad(_ text: String) throws {
        do {
            _ = try PolicyFixture("# metrics\nmetrics_listen = \(text)\n")
            Issue.record("\(text) accepted")
        } catch let error as ConfigError {
            #expect(error.diagnostics.contains { $0.description.contains("heloguard.conf:2:") && $0.description.contains("bad metrics_listen") },
                    "\(error.diagnostics)")
        }
    }
}
