import Foundation
import Testing
@testable import HeloPolicy

/// `sleep` and `dns_timeout` stay within one SMTP command's budget (25 s, below Postfix's
/// default milter_command_timeout of 30 s): at load for the configured lists, at run time for
/// sleeps named in access-table results.
struct CommandTimeBudgetTests {
    @Test("lists that fit the budget load", arguments: [
        "smtpd_helo_restrictions = sleep 15, reject_non_fqdn_helo_hostname\n",            // 15 + 10 (default dns_timeout)
        "dns_timeout = 25s\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n",
        "dns_timeout = 5s\nsmtpd_helo_restrictions = sleep 10, sleep 10\n",
        "smtpd_restriction_classes = slow\nslow = sleep 5\nsmtpd_helo_restrictions = slow, slow, sleep 5\n",
    ])
    func fits(_ config: String) throws {
        let fixture = try PolicyFixture(config)
        #expect(!fixture.diagnostics.contains { $0.severity == .error }, "\(fixture.diagnostics)")
    }

    @Test("a table result sleep beyond what is left of the budget is cut short and logged")
    func tableResultClamped() throws {
        // dns_timeout 24 s leaves 1 s for sleeping; the table asks for 5.
        let fixture = try PolicyFixture("""
            dns_timeout = 24s
            smtpd_helo_restrictions = check_helo_access inline:{ { slow.example = sleep 5, reject } }
            """)
        let decision = fixture.decision(helo: "slow.example")
        #expect(decision.verdict.reply?.line.hasPrefix("554 5.7.1 <slow.example>: Helo command rejected") == true, "\(decision.verdict)")
        #expect(decision.pauses == [1])
        #expect(decision.events.map(\.description).contains {
            $0.hasPrefix("warning: sleep 5 cut to 1 s: this evaluation would otherwise take more than 25 s")
        }, "\(decision.events)")
    }

    @Test("pauses are asked for in order, each sleep's own, and what is left of the budget shrinks with each")
    func pausesInOrder() throws {
        let fixture = try PolicyFixture("""
            dns_timeout = 20s
            smtpd_helo_restrictions = sleep 2, check_helo_access inline:{ { slow.example = sleep 1, sleep 4 } }, sleep 0
            """)
        #expect(fixture.decision(helo: "slow.example").pauses == [2, 1, 2, 0])
        #expect(fixture.decision(helo: "fast.example").pauses == [2, 0])
    }

    @Test("the rule core never blocks: a decision that asks for a pause comes back at once")
    func evaluationDoesNotBlock() throws {
        let fixture = try PolicyFixture("dns_timeout = 5s\nsmtpd_helo_restrictions = sleep 20\n")
        let clock = ContinuousClock()
        let started = clock.now
        let decision = fixture.decision(helo: "mail.example.org")
        #expect(clock.now - started < .seconds(5))
        #expect(decision.pauses == [20])
        #expect(decision.verdict == .accept)
    }

    @Test("a table result sleep over 25 s is a server configuration error (451 4.3.5), not a wait")
    func tableResultTooLong() throws {
        let fixture = try PolicyFixture("smtpd_helo_restrictions = check_helo_access inline:{ { slow.example = sleep 3600 } }\n")
        let clock = ContinuousClock()
        let started = clock.now
        let reply = fixture.reply(helo: "slow.example")
        #expect(clock.now - started < .seconds(2))
        #expect(reply.hasPrefix("451 4.3.5 "), "\(reply)")
    }

    @Test("allowed sleep", arguments: [
        (5, 0, 10_000, 5), (20, 0, 10_000, 15), (10, 10, 10_000, 5), (3, 0, 24_500, 0), (25, 0, 0, 25), (9, 30, 1000, 0),
    ])
    func allowed(_ requested: Int, _ slept: Int, _ dnsMilliseconds: Int, _ expected: Int) {
        #expect(CommandTimeBudget.allowedSleep(requested, slept: slept, dnsTimeoutMilliseconds: dnsMilliseconds) == expected)
    }
}
