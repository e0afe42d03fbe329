import HeloGuard
import HeloPolicy
import MilterKit
import Testing

/// `sleep`: the rule core says how long, the session pauses (through its `pause` hook, here a
/// recorder), in order, before it logs and answers; the look-aheads at HELO and MAIL never pause.
struct SessionPauseTests {
    /// Notes each pause the session carries out, and how many log lines were written by then.
    final class PauseRecorder {
        var pauses: [Int] = []
        var logLinesAtPause: [Int] = []
    }

    static func harness(_ config: String) throws -> (SessionHarness, PauseRecorder) {
        let harness = try SessionHarness(config)
        let recorder = PauseRecorder()
        harness.session.pause = { [log = harness.log] seconds in
            recorder.pauses.append(seconds)
            recorder.logLinesAtPause.append(log.lines.count)
        }
        return (harness, recorder)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        let helo: String
        /// Pauses after HELO, after MAIL, after the first RCPT, after the second RCPT.
        let expected: [[Int]]
        let reply: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "a listed sleep pauses at each RCPT, never at HELO or MAIL",
             config: "smtpd_helo_restrictions = sleep 3, reject_non_fqdn_helo_hostname",
             helo: "mail.example.org", expected: [[], [], [3], [3, 3]], reply: "continue"),
        Case(name: "several sleeps pause in list order, then the refusal",
             config: "smtpd_helo_restrictions = sleep 2, sleep 1, reject_non_fqdn_helo_hostname",
             helo: "shortname", expected: [[], [], [2, 1], [2, 1, 2, 1]],
             reply: "504 5.5.2 <shortname>: Helo command rejected: need fully-qualified hostname"),
        Case(name: "a table result's sleep, cut to the command budget",
             config: "dns_timeout = 22s\nsmtpd_helo_restrictions = check_helo_access inline:{ { slow.example = sleep 9 } }",
             helo: "slow.example", expected: [[], [], [3], [3, 3]], reply: "continue"),
        Case(name: "a sleep that is not reached asks for no pause",
             config: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, sleep 4",
             helo: "shortname", expected: [[], [], [], []],
             reply: "504 5.5.2 <shortname>: Helo command rejected: need fully-qualified hostname"),
        Case(name: "delayed rejection off: the pause comes at HELO, and the recipients get none",
             config: "smtpd_delay_reject = no\nsmtpd_helo_restrictions = sleep 2",
             helo: "mail.example.org", expected: [[2], [2], [2], [2]], reply: "continue"),
        Case(name: "dry run still pauses, as the list ran",
             config: "dry_run = yes\nsmtpd_helo_restrictions = sleep 1, reject",
             helo: "mail.example.org", expected: [[], [], [1], [1, 1]], reply: "continue"),
    ]

    @Test(arguments: cases)
    func pauses(_ c: Case) throws {
        let (harness, recorder) = try Self.harness(c.config)
        harness.connect()
        harness.helo(c.helo)
        var seen = [recorder.pauses]
        harness.mail("<a@example.org>")
        seen.append(recorder.pauses)
        #expect(SessionHarness.text(harness.rcpt("<b@example.com>")) == c.reply)
        seen.append(recorder.pauses)
        #expect(SessionHarness.text(harness.rcpt("<c@example.com>")) == c.reply)
        seen.append(recorder.pauses)
        #expect(seen == c.expected)
    }

    @Test("the pause comes before the refusal is logged, as Postfix logs after its sleep")
    func pauseBeforeLog() throws {
        let (harness, recorder) = try Self.harness("smtpd_helo_restrictions = sleep 1, reject")
        harness.connect()
        harness.helo("mail.example.org")
        harness.mail("<a@example.org>")
        let before = harness.log.lines.count
        _ = harness.rcpt("<b@example.com>")
        #expect(recorder.logLinesAtPause == [before])
        #expect(harness.log.lines.count == before + 1)
    }
}
