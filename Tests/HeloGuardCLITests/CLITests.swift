import Foundation
import Testing

/// The built `heloguard` binary, end to end: `test` (plain, --json, --explain), `check-config`
/// and `query`, including hostile HELO arguments.
@Suite(.serialized)
struct CLITests {
    static let config = """
        smtpd_restriction_classes = strict
        strict = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname
        smtpd_helo_restrictions =
            permit_sasl_authenticated,
            check_helo_access hash:@DIR@/helo_access,
            strict
        """
    static let table = """
        # our own names
        mx.example.test   REJECT You are not me
        discard.example   DISCARD
        hold.example      HOLD
        """

    func withConfig(_ body: (CLIHarness) throws -> Void) throws {
        let harness = try CLIHarness()
        defer { harness.remove() }
        try harness.write("heloguard.conf", Self.config)
        try harness.write("helo_access", Self.table)
        try body(harness)
    }

    @Test func jsonOutputFollowsTheContract() throws {
        try withConfig { h in
            let result = try h.run(["test", "--config", "@DIR@/heloguard.conf", "--helo", "foo",
                                    "--rcpt", "b@example.com", "--rcpt", "<postmaster>", "--json"])
            #expect(result.status == 0)
            #expect(result.stdout == """
                {"recipients":[{"recipient":"b@example.com","action":"reject","reply":"504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname","restriction":"strict"},{"recipient":"<postmaster>","action":"accept","reply":null,"restriction":null}]}

                """)
        }
    }

    struct ActionCase: Sendable, CustomTestStringConvertible {
        let helo: String
        let action: String
        let reply: String
        var testDescription: String { helo }
    }

    @Test(arguments: [
        ActionCase(helo: "discard.example", action: "discard", reply: "null"),
        ActionCase(helo: "hold.example", action: "hold", reply: "null"),
        ActionCase(helo: "good.example.com", action: "accept", reply: "null"),
        ActionCase(helo: "mx.example.test", action: "reject", reply: "\"554 5.7.1 <mx.example.test>: Helo command rejected: You are not me\""),
    ])
    func jsonActions(_ c: ActionCase) throws {
        try withConfig { h in
            let result = try h.run(["test", "--config", "@DIR@/heloguard.conf", "--helo", c.helo, "--rcpt", "b@example.com", "--json"])
            #expect(result.stdout.contains("\"action\":\"\(c.action)\",\"reply\":\(c.reply)"), "\(result.stdout)")
        }
    }

    @Test func plainOutputHasOneLinePerRecipient() throws {
        try withConfig { h in
            let result = try h.run(["test", "--config", "@DIR@/heloguard.conf", "--helo", "mx.example.test",
                                    "--rcpt", "a@example.com", "--rcpt", "b@example.com"])
            #expect(result.stdout == """
                RCPT a@example.com: 554 5.7.1 <mx.example.test>: Helo command rejected: You are not me
                RCPT b@example.com: 554 5.7.1 <mx.example.test>: Helo command rejected: You are not me

                """)
            let authenticated = try h.run(["test", "--config", "@DIR@/heloguard.conf", "--helo", "mx.example.test",
                                           "--sasl-user", "alice", "--rcpt", "a@example.com"])
            #expect(authenticated.stdout == "RCPT a@example.com: 250 2.1.5 Ok\n")
        }
    }

    /// With delayed rejection off, a refused HELO gets its own line before the recipients'. The
    /// milter's refusal at HELO is the reply to the later commands too (Postfix answers the
    /// HELO itself with 250 and gives a milter's HELO-stage refusal at MAIL and RCPT).
    @Test func plainOutputShowsARefusedHelo() throws {
        let harness = try CLIHarness()
        defer { harness.remove() }
        try harness.write("heloguard.conf", "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n")
        let result = try harness.run(["test", "--config", "@DIR@/heloguard.conf", "--helo", "good.example.com", "--helo", "bad",
                                      "--rcpt", "c@elsewhere.example"])
        #expect(result.status == 0)
        #expect(result.stdout == """
            HELO bad: 504 5.5.2 <bad>: Helo command rejected: need fully-qualified hostname
            RCPT c@elsewhere.example: 504 5.5.2 <bad>: Helo command rejected: need fully-qualified hostname

            """)
    }

    @Test func explainShowsTheTableKeyAndLine() throws {
        try withConfig { h in
            let result = try h.run(["test", "--config", "@DIR@/heloguard.conf", "--helo", "sub.mx.example.test",
                                    "--rcpt", "a@example.com", "--explain"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("permit_sasl_authenticated: DUNNO"))
            #expect(result.stdout.contains("key \"mx.example.test\" matched line 2: REJECT You are not me"))
            #expect(result.stdout.contains("554 5.7.1 <sub.mx.example.test>: Helo command rejected: You are not me"))
        }
    }

    @Test func heloRequiredRefusesEveryRecipientAtMail() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        try h.write("c.conf", "smtpd_helo_required = yes\n")
        let result = try h.run(["test", "--config", "@DIR@/c.conf", "--rcpt", "a@example.com", "--rcpt", "postmaster", "--json"])
        #expect(result.stdout == """
            {"recipients":[{"recipient":"a@example.com","action":"reject","reply":"503 5.5.1 Error: send HELO/EHLO first","restriction":"smtpd_helo_required"},{"recipient":"postmaster","action":"reject","reply":"503 5.5.1 Error: send HELO/EHLO first","restriction":"smtpd_helo_required"}]}

            """)
    }

    struct HostileCase: Sendable, CustomTestStringConvertible {
        let name: String
        let helo: String
        let expected: String
        var testDescription: String { name }
    }

    @Test(arguments: [
        HostileCase(name: "4 KB name", helo: String(repeating: "a", count: 4096),
                    expected: "RCPT a@example.com: 501 5.5.2 <" + String(repeating: "a", count: 4096) + ">: Helo command rejected: Invalid name\n"),
        HostileCase(name: "CR LF inside", helo: "evil\r\nRCPT TO:<x@y>",
                    expected: "RCPT a@example.com: 501 5.5.2 <evil?RCPT?TO:??x?y?>: Helo command rejected: Invalid name\n"),
        HostileCase(name: "control bytes", helo: "a\u{01}b.example",
                    expected: "RCPT a@example.com: 501 5.5.2 <a?b.example>: Helo command rejected: Invalid name\n"),
        // The reply as the milter sends it: 7-bit, a `?` for each character outside ASCII.
        HostileCase(name: "8-bit name", helo: "bücher.example",
                    expected: "RCPT a@example.com: 501 5.5.2 <b?cher.example>: Helo command rejected: Invalid name\n"),
        HostileCase(name: "percent kept", helo: "50%.example",
                    expected: "RCPT a@example.com: 501 5.5.2 <50%.example>: Helo command rejected: Invalid name\n"),
    ])
    func hostileHelos(_ c: HostileCase) throws {
        try withConfig { h in
            let result = try h.run(["test", "--config", "@DIR@/heloguard.conf", "--helo", c.helo, "--rcpt", "a@example.com"])
            #expect(result.status == 0)
            // A 4 KB name comes back whole, as Postfix 3.7.11 sends it.
            #expect(result.stdout == c.expected)
        }
    }

    @Test func checkConfigAcceptsAGoodFile() throws {
        try withConfig { h in
            let result = try h.run(["check-config", "--config", "@DIR@/heloguard.conf"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("configuration OK"))
        }
    }

    @Test func checkConfigNamesFileAndLineAndFails() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        let path = try h.write("bad.conf", "# bad\nsmtpd_helo_restrictions = reject_nonsense\nfoo_bar = 1\n")
        let result = try h.run(["check-config", "--config", path])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(path):2: error: unknown restriction \"reject_nonsense\""))
        #expect(result.stderr.contains("\(path):3: warning: unknown parameter"))
    }

    @Test func checkConfigWarnsAboutFilterAndStillPasses() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        let table = try h.write("t", "a.example OK\nb.example FILTER smtp:[127.0.0.1]:10025\n")
        let path = try h.write("c.conf", "# FILTER\nsmtpd_helo_restrictions = check_helo_access hash:@DIR@/t\n")
        let result = try h.run(["check-config", "--config", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("\(path):2: warning: hash:\(table) line 2: FILTER is not available to a milter"))
        #expect(result.stdout.contains("configuration OK"))
    }

    @Test func explainShowsTheDSNMappingAsANote() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        try h.write("t", "a.example REJECT 5.1.1 no\n")
        let path = try h.write("c.conf", "smtpd_helo_restrictions = check_helo_access hash:@DIR@/t\n")
        let result = try h.run(["test", "--config", path, "--helo", "a.example", "--rcpt", "b@example.com", "--explain"])
        #expect(result.stdout.contains("  log: note: mapping DSN status 5.1.1 into Helo command status 5.0.0\n"), "\(result.stdout)")
    }

    @Test func checkConfigReportsBrokenTableContent() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        try h.write("t", "a.example REJECT\na.example OK\n")
        let path = try h.write("c.conf", "smtpd_helo_restrictions = check_helo_access texthash:@DIR@/t\n")
        #expect(try h.run(["check-config", "--config", path]).status == 1)
        // heloguard test still runs, answering as Postfix does with such a table.
        let result = try h.run(["test", "--config", path, "--helo", "z.example", "--rcpt", "a@example.com"])
        #expect(result.stdout == "RCPT a@example.com: 451 4.3.5 <z.example>: Helo command rejected: Server configuration error\n")
    }

    @Test func testRefusesABrokenConfiguration() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        let path = try h.write("c.conf", "smtpd_helo_restrictions = check_helo_access hash:@DIR@/nope\n")
        let result = try h.run(["test", "--config", path, "--helo", "x", "--rcpt", "a@example.com"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("\(path):1: error: cannot open hash:"))
    }

    @Test func queryLikePostmap() throws {
        try withConfig { h in
            let args = try h.run(["query", "hash:@DIR@/helo_access", "MX.EXAMPLE.TEST", "missing.example"])
            #expect(args.status == 0)
            #expect(args.stdout == "MX.EXAMPLE.TEST\tREJECT You are not me\n")
            let stdin = try h.run(["query", "hash:@DIR@/helo_access"], stdin: "hold.example\nnothing\ndiscard.example\n")
            #expect(stdin.stdout == "hold.example\tHOLD\ndiscard.example\tDISCARD\n")
            #expect(try h.run(["query", "hash:@DIR@/helo_access", "nothing"]).status == 1)
            #expect(try h.run(["query", "hash:@DIR@/absent"]).status == 2)
        }
    }

    @Test func missingRecipientIsAUsageError() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        let result = try h.run(["test", "--helo", "x"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--rcpt"))
    }
}
