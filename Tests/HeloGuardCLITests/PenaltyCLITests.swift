import Foundation
import Glibc
import Testing

/// `heloguard penalty list | add | remove` on the state database of the configured
/// `state_directory`, run as the built binary.
@Suite(.serialized)
struct PenaltyCLITests {
    /// A configuration whose state directory exists, as the milter leaves it at its first start
    /// (`stateDirectory: false`: not yet).
    func withConfig(_ extra: String = "", stateDirectory: Bool = true, _ body: (CLIHarness) throws -> Void) throws {
        let harness = try CLIHarness()
        defer { harness.remove() }
        try harness.write("heloguard.conf", "state_directory = @DIR@/state\nsmtpd_helo_restrictions = reject_penalized_client\n" + extra)
        if stateDirectory {
            try FileManager.default.createDirectory(atPath: harness.directory.path + "/state", withIntermediateDirectories: true)
        }
        try body(harness)
    }

    func penalty(_ h: CLIHarness, _ arguments: String...) throws -> CLIHarness.Result {
        try h.run(["penalty"] + arguments + ["--config", "@DIR@/heloguard.conf"])
    }

    @Test func addListRemove() throws {
        try withConfig { h in
            let empty = try penalty(h, "list")
            #expect(empty.status == 0)
            #expect(empty.stdout == "the penalty box is empty\n")
            #expect(FileManager.default.fileExists(atPath: h.directory.path + "/state/heloguard.sqlite"), "created on first use")

            let added = try penalty(h, "add", "192.0.2.7", "--ttl", "2h", "--reason", "spam run")
            #expect(added.status == 0, "\(added.stderr)")
            #expect(added.stdout.hasPrefix("192.0.2.7 is in the penalty box until "))
            #expect(added.stdout.hasSuffix(" UTC: spam run\n"))
            #expect(try penalty(h, "add", "2001:db8:1:2::99").status == 0)

            let list = try penalty(h, "list")
            let lines = list.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(list.stdout)")
            #expect(lines.first?.hasPrefix("CLIENT") == true)
            // Soonest expiry first: the 2-hour entry before the default 24-hour one.
            #expect(lines[1].hasPrefix("192.0.2.7 ") && lines[1].hasSuffix("  1         spam run"))
            #expect(lines[2].hasPrefix("2001:db8:1:2::/64 ") && lines[2].hasSuffix("added by the administrator"))

            let json = try penalty(h, "list", "--json")
            let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
            #expect(decoded?.map { $0["client"] as? String } == ["192.0.2.7", "2001:db8:1:2::/64"])
            #expect(decoded?.first?["reason"] as? String == "spam run")
            #expect(decoded?.first?["offences"] as? Int == 1)
            #expect((decoded?.first?["expires"] as? String)?.hasSuffix("Z") == true)

            let removed = try penalty(h, "remove", "192.0.2.7")
            #expect(removed.status == 0)
            #expect(removed.stdout == "192.0.2.7 removed from the penalty box\n")
            let again = try penalty(h, "remove", "192.0.2.7")
            #expect(again.status == 1)
            #expect(again.stderr.contains("192.0.2.7 is not in the penalty box"))
            #expect(try penalty(h, "list").stdout.split(separator: "\n").count == 2)
        }
    }

    @Test(arguments: [
        ("not-an-ip", "\"not-an-ip\" is not an IPv4 or IPv6 address"),
        ("192.0.2.0/24", "an IPv4 prefix must be /32"),
        ("2001:db8::1/64", "has bits set beyond its prefix length (did you mean 2001:db8::/64?)"),
        ("2001:db8::/16", "an IPv6 prefix must be /32 to /128"),
        ("", "empty client address"),
    ])
    func malformedAddresses(_ address: String, _ message: String) throws {
        try withConfig { h in
            let result = try penalty(h, "add", address)
            #expect(result.status == 1)
            #expect(result.stderr.contains(message), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }

    @Test func badTTLAndBadConfiguration() throws {
        try withConfig { h in
            let result = try penalty(h, "add", "192.0.2.7", "--ttl", "soon")
            #expect(result.status == 1)
            #expect(result.stderr.contains("bad --ttl \"soon\""))
        }
        try withConfig("penalty_box_ipv6_prefix = 8\n") { h in
            let result = try penalty(h, "list")
            #expect(result.status == 1)
            #expect(result.stderr.contains("heloguard.conf:3: error: penalty_box_ipv6_prefix = 8: must be 32 to 128"), "\(result.stderr)")
        }
    }

    @Test func corruptFileIsRefusedWithAdvice() throws {
        try withConfig { h in
            try FileManager.default.createDirectory(atPath: h.directory.path + "/state", withIntermediateDirectories: true)
            try h.write("state/heloguard.sqlite", String(repeating: "garbage, not SQLite. ", count: 20))
            let result = try penalty(h, "list")
            #expect(result.status == 1)
            #expect(result.stderr.contains("is not an SQLite database"), "\(result.stderr)")
            #expect(result.stderr.contains("move it aside"))
        }
    }

    @Test func configuredIPv6PrefixIsUsed() throws {
        try withConfig("penalty_box_ipv6_prefix = 48\n") { h in
            let added = try penalty(h, "add", "2001:db8:1:2::99")
            #expect(added.stdout.hasPrefix("2001:db8:1::/48 is in the penalty box until "), "\(added.stdout)")
            #expect(try penalty(h, "remove", "2001:db8:1:ffff::1").status == 0, "any address of the network names it")
        }
    }

    // MARK: Run as root: the state files stay the milter's

    static let unprivileged: uid_t = 65534   // nobody

    static func owner(_ path: String) -> uid_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_uid : nil
    }

    @Test("as root with no state directory yet, the command refuses and says how to run it",
          .enabled(if: geteuid() == 0, "needs root"))
    func rootWithoutStateDirectoryRefuses() throws {
        try withConfig(stateDirectory: false) { h in
            let result = try penalty(h, "add", "192.0.2.7")
            #expect(result.status == 1)
            #expect(result.stderr.contains("runuser -u heloguard -- heloguard penalty"), "\(result.stderr)")
            #expect(result.stderr.contains("--user heloguard"))
            #expect(!FileManager.default.fileExists(atPath: h.directory.path + "/state"), "nothing created as root")
        }
    }

    @Test("as root, the files are created by the owner of the state directory (the milter's account)",
          .enabled(if: geteuid() == 0 && getpwuid(65534) != nil, "needs root and the nobody account"))
    func rootActsAsStateDirectoryOwner() throws {
        try withConfig { h in
            let state = h.directory.path + "/state"
            #expect(chown(state, Self.unprivileged, gid_t(Self.unprivileged)) == 0)
            let added = try penalty(h, "add", "192.0.2.7")
            #expect(added.status == 0, "\(added.stderr)")
            let files = try FileManager.default.contentsOfDirectory(atPath: state)
            #expect(files.contains("heloguard.sqlite"))
            for file in files { #expect(Self.owner(state + "/" + file) == Self.unprivileged, "\(file) belongs to the milter's account") }
            let list = try penalty(h, "list")
            #expect(list.stdout.contains("192.0.2.7 "), "\(list.stderr)")
        }
    }

    @Test("a state file the account cannot write is an error that says whose it is and what to do",
          .enabled(if: geteuid() == 0 && getpwuid(65534) != nil, "needs root and the nobody account"))
    func unwritableStateFileIsNamed() throws {
        try withConfig { h in
            // Created by root (as `heloguard penalty` used to), then used as the milter's account.
            #expect(try penalty(h, "add", "192.0.2.7").status == 0)
            #expect(chmod(h.directory.path + "/state", 0o755) == 0)
            let name = String(cString: getpwuid(65534)!.pointee.pw_name)
            let result = try penalty(h, "list", "--user", name)
            #expect(result.status == 1)
            #expect(result.stderr.contains("belongs to root and \(name), the account heloguard runs as, cannot write it"), "\(result.stderr)")
            #expect(result.stderr.contains("chown -R \(name): \(h.directory.path)/state"))
        }
    }
}
