import Foundation
import Testing

/// Command-line forms of `heloguard test` that swift-argument-parser does not take by itself:
/// an empty attached value (`--sender=`, the null sender) and a value that starts with "-"
/// (`--helo -foo.example.com`, an invalid HELO name worth testing). Every session says HELO:
/// without one no HELO restriction runs.
@Suite(.serialized)
struct ArgumentFormTests {
    static let config = """
        smtpd_helo_restrictions =
            check_sender_access inline:{ {<>=REJECT null sender}, {-x@example.org=REJECT dash sender} },
            reject_invalid_helo_hostname
        """

    struct FormCase: Sendable, CustomTestStringConvertible {
        let name: String
        let arguments: [String]
        let stdout: String
        var testDescription: String { name }
    }

    static let null = "RCPT a@example.com: 554 5.7.1 <>: Sender address rejected: null sender\n"
    static let ok = "RCPT a@example.com: 250 2.1.5 Ok\n"
    static let invalid = "RCPT a@example.com: 501 5.5.2 <-foo.example.com>: Helo command rejected: Invalid name\n"

    static let cases: [FormCase] = [
        FormCase(name: "--sender= is the null sender", arguments: ["--helo", "ok.example.com", "--sender=", "--rcpt", "a@example.com"], stdout: null),
        FormCase(name: "--sender= as the last argument", arguments: ["--helo", "ok.example.com", "--rcpt", "a@example.com", "--sender="], stdout: null),
        FormCase(name: "--sender \"\" is the null sender", arguments: ["--helo", "ok.example.com", "--sender", "", "--rcpt", "a@example.com"], stdout: null),
        FormCase(name: "no --sender is the null sender", arguments: ["--helo", "ok.example.com", "--rcpt", "a@example.com"], stdout: null),
        FormCase(name: "--sender=<> is the null sender", arguments: ["--helo", "ok.example.com", "--sender=<>", "--rcpt", "a@example.com"], stdout: null),
        FormCase(name: "--sender ADDR", arguments: ["--helo", "ok.example.com", "--sender", "b@example.org", "--rcpt", "a@example.com"], stdout: ok),
        FormCase(name: "--sender=ADDR", arguments: ["--helo", "ok.example.com", "--sender=b@example.org", "--rcpt", "a@example.com"], stdout: ok),
        FormCase(name: "--sender with a leading dash", arguments: ["--helo", "ok.example.com", "--sender", "-x@example.org", "--rcpt", "a@example.com"],
                 stdout: "RCPT a@example.com: 554 5.7.1 <-x@example.org>: Sender address rejected: dash sender\n"),
        FormCase(name: "--helo -foo.example.com", arguments: ["--sender", "b@example.org", "--helo", "-foo.example.com", "--rcpt", "a@example.com"],
                 stdout: invalid),
        FormCase(name: "--helo=-foo.example.com", arguments: ["--sender", "b@example.org", "--helo=-foo.example.com", "--rcpt", "a@example.com"],
                 stdout: invalid),
        FormCase(name: "--helo -foo.example.com after a valid HELO (the last one counts)",
                 arguments: ["--sender=b@example.org", "--helo", "ok.example.com", "--helo", "-foo.example.com", "--rcpt", "a@example.com"],
                 stdout: invalid),
        FormCase(name: "--helo -foo.example.com before a valid HELO",
                 arguments: ["--helo", "-foo.example.com", "--helo", "ok.example.com", "--sender=b@example.org", "--rcpt", "a@example.com"],
                 stdout: ok),
    ]

    @Test(arguments: cases)
    func form(_ c: FormCase) throws {
        let h = try CLIHarness()
        defer { h.remove() }
        try h.write("heloguard.conf", Self.config)
        let result = try h.run(["test", "--config", "@DIR@/heloguard.conf"] + c.arguments)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == c.stdout)
    }

    @Test func emptyValuesAfterTheTerminatorStayAsTheyAre() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        try h.write("heloguard.conf", Self.config)
        let result = try h.run(["test", "--config", "@DIR@/heloguard.conf", "--rcpt", "a@example.com", "--", "--sender="])
        #expect(result.status == 64)
        #expect(result.stderr.contains("Unexpected argument '--sender='"), "\(result.stderr)")
    }

    @Test func heloWithoutAValueIsStillAUsageError() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        let result = try h.run(["test", "--rcpt", "a@example.com", "--helo"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("Missing value for '--helo <name>'"), "\(result.stderr)")
    }
}
