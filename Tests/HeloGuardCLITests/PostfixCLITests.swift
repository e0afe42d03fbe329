import Foundation
import Testing

/// `heloguard check-config --postfix` and `heloguard identity` as an administrator runs them:
/// exact output and exit status, Postfix read with the real postconf.
@Suite("check-config --postfix and identity (CLI)")
struct PostfixCLITests {
    /// A chrooted smtpd (Debian's stock master.cf line) and main.cf in the test directory,
    /// dated back (postconf waits for a file changed within the current second).
    static func postfixFiles(_ h: CLIHarness, main: String) throws {
        try h.write("main.cf", "compatibility_level = 3.6\nqueue_directory = @DIR@/spool\nmyhostname = mx.example.com\n"
                    + "mydomain = example.com\ninet_interfaces = loopback-only\n" + main)
        try h.write("master.cf", "smtp      inet  n       -       y       -       -       smtpd\n")
        for name in ["main.cf", "master.cf"] {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)],
                                                  ofItemAtPath: h.directory.appendingPathComponent(name).path)
        }
    }

    @Test("a wrong configuration: every problem with its line and fix, exit status 1")
    func wrong() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        try Self.postfixFiles(h, main: "smtpd_milters = unix:/run/heloguard/heloguard.sock\nmilter_default_action = accept\n")
        let result = try h.run(["check-config", "--postfix", "@DIR@", "--socket", "inet:8899@127.0.0.1"])
        let dir = h.directory.path
        #expect(result.status == 1)
        #expect(result.stdout == """
            \(dir)/main.cf:6: problem: smtpd_milters = unix:/run/heloguard/heloguard.sock: the chrooted smtpd of smtp inet (\(dir)/master.cf:1, chroot y) connects to \(dir)/spool/run/heloguard/heloguard.sock, not to heloguard's socket 127.0.0.1:8899
                fix: smtpd_milters = inet:127.0.0.1:8899
            \(dir)/main.cf:7: problem: milter_default_action = accept is fail-open: while heloguard cannot be reached (stopped, restarting, overloaded) Postfix accepts every message without any HELO check
                fix: milter_default_action = tempfail
            \(dir): 2 problem(s) between Postfix and heloguard at inet:8899@127.0.0.1

            """)
        // Once smtpd_milters is fixed, the fail-open default action is left.
        try Self.postfixFiles(h, main: "smtpd_milters = inet:127.0.0.1:8899\nmilter_default_action = accept\n")
        let second = try h.run(["check-config", "--postfix", "@DIR@", "--socket", "inet:8899@127.0.0.1"])
        #expect(second.status == 1)
        #expect(second.stdout.hasPrefix("\(dir)/main.cf:7: problem: milter_default_action = accept is fail-open"))
        #expect(second.stdout.hasSuffix("\n    fix: milter_default_action = tempfail\n\(dir): 1 problem(s) between Postfix and heloguard at inet:8899@127.0.0.1\n"))
    }

    @Test("a right configuration: exit status 0")
    func right() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        try Self.postfixFiles(h, main: "smtpd_milters = inet:127.0.0.1:8899\n")
        let result = try h.run(["check-config", "--postfix", "@DIR@", "--socket", "inet:8899@127.0.0.1"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout == "\(h.directory.path): Postfix reaches heloguard at inet:8899@127.0.0.1 as intended\n")
    }

    @Test("a Postfix directory postconf cannot read: exit status 1 and why")
    func unreadable() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        let result = try h.run(["check-config", "--postfix", "@DIR@/nothing"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("cannot read Postfix's configuration in \(h.directory.path)/nothing"))
    }

    @Test("identity prints each entry with its source; --json the same as objects")
    func identity() throws {
        let h = try CLIHarness()
        defer { h.remove() }
        try Self.postfixFiles(h, main: "mydestination = $myhostname, mail.$mydomain\nproxy_interfaces = 198.51.100.9\n")
        try h.write("heloguard.conf", """
            impersonation_hostnames =
            impersonation_domains = example.org
            impersonation_addresses = 203.0.113.250
            impersonation_postfix_config = @DIR@

            """)
        let result = try h.run(["identity", "--config", "@DIR@/heloguard.conf"])
        #expect(result.status == 0)
        #expect(result.stderr == "")
        #expect(result.stdout == """
            domain   example.org       impersonation_domains
            address  203.0.113.250     impersonation_addresses
            hostname mx.example.com    postfix myhostname
            domain   example.com       postfix mydomain
            domain   mail.example.com  postfix mydestination
            address  198.51.100.9      postfix proxy_interfaces

            """)
        let json = try h.run(["identity", "--config", "@DIR@/heloguard.conf", "--json"])
        let objects = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: String]]
        #expect(objects?.count == 6)
        #expect(objects?[4] == ["kind": "domain", "value": "mail.example.com", "source": "postfix mydestination"])
    }
}
