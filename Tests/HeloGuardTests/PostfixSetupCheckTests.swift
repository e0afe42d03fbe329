import Foundation
import HeloGuard
import HeloPolicy
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `heloguard check-config --postfix`: Postfix configurations that are right, and wrong in each
/// way the check knows, read with the real `postconf -c DIR`. heloguard's socket is a real
/// unix socket under the configuration's own queue directory (DIR/spool).
@Suite("check-config --postfix")
struct PostfixSetupCheckTests {
    static let chrooted = "smtp      inet  n       -       y       -       -       smtpd\n"
        + "pickup    unix  n       -       y       60      1       pickup\n"
        + "cleanup   unix  n       -       y       -       0       cleanup\n"
    static let notChrooted = chrooted.replacingOccurrences(of: "smtp      inet  n       -       y",
                                                           with: "smtp      inet  n       -       n")
    static let defaultChroot = chrooted.replacingOccurrences(of: "smtp      inet  n       -       y",
                                                             with: "smtp      inet  n       -       -")

    /// One expected finding: severity, where (`main.cf@name` = the line of `name` in main.cf,
    /// or main.cf when it is not set there; `master.cf@service/type`; a path with DIR), the fix,
    /// and words the message must contain.
    struct Expected: Sendable, CustomStringConvertible {
        let severity: PostfixFinding.Severity
        let location: String
        let fix: String?
        let words: String
        var description: String { "\(severity) \(location) \(fix ?? "-")" }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var main: [(String, String)] = []
        var master: String = PostfixSetupCheckTests.chrooted
        var socket = "unix:DIR/spool/heloguard/heloguard.sock"
        var expected: [Expected] = []
        var testDescription: String { name }
    }

    static func problem(_ location: String, _ fix: String?, _ words: String) -> Expected {
        Expected(severity: .problem, location: location, fix: fix, words: words)
    }

    static func warning(_ location: String, _ fix: String?, _ words: String) -> Expected {
        Expected(severity: .warning, location: location, fix: fix, words: words)
    }

    static let spool = ("queue_directory", "DIR/spool")

    static let cases: [Case] = [
        Case(name: "right: chrooted smtpd, path under the queue directory",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock")]),
        Case(name: "right: smtpd not chrooted, full path",
             main: [spool, ("smtpd_milters", "unix:DIR/spool/heloguard/heloguard.sock")], master: notChrooted),
        Case(name: "right: chroot column '-' is n since Postfix 3.0",
             main: [spool, ("smtpd_milters", "unix:DIR/spool/heloguard/heloguard.sock")], master: defaultChroot),
        Case(name: "right: relative path, resolved in the queue directory",
             main: [spool, ("smtpd_milters", "unix:heloguard/heloguard.sock"), ("milter_default_action", "tempfail")]),
        Case(name: "right: a group with its own settings, next to another milter",
             main: [spool, ("smtpd_milters", "inet:127.0.0.1:8891, { unix:/heloguard/heloguard.sock, connect_timeout = 10s }")]),
        Case(name: "right: behind postscreen (smtpd pass)",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock")],
             master: "smtp      inet  n       -       y       -       1       postscreen\n"
                + "smtpd     pass  -       -       y       -       -       smtpd\n"),
        Case(name: "right: inet socket, localhost for 127.0.0.1",
             main: [spool, ("smtpd_milters", "inet:localhost:8899")], socket: "inet:8899@127.0.0.1"),

        Case(name: "wrong: chrooted smtpd given the full path",
             main: [spool, ("smtpd_milters", "unix:DIR/spool/heloguard/heloguard.sock")],
             expected: [problem("main.cf@smtpd_milters", "smtpd_milters = unix:/heloguard/heloguard.sock",
                                "the chrooted smtpd of smtp inet (DIR/master.cf:1, chroot y) connects to DIR/spoolDIR/spool/heloguard/heloguard.sock, not to heloguard's socket DIR/spool/heloguard/heloguard.sock")]),
        Case(name: "wrong: smtpd_milters empty",
             main: [spool],
             expected: [problem("main.cf@smtpd_milters", "smtpd_milters = unix:/heloguard/heloguard.sock",
                                "smtpd_milters is empty for smtp inet: heloguard is not asked")]),
        Case(name: "wrong: smtpd not chrooted given the chroot path",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock")], master: notChrooted,
             expected: [problem("main.cf@smtpd_milters", "smtpd_milters = unix:DIR/spool/heloguard/heloguard.sock",
                                "connects to /heloguard/heloguard.sock")]),
        Case(name: "wrong: chrooted smtpd, socket outside the queue directory",
             main: [spool, ("smtpd_milters", "unix:DIR/run/heloguard.sock")], socket: "unix:DIR/run/heloguard.sock",
             expected: [problem("main.cf@smtpd_milters", "smtpd_milters = unix:/heloguard/heloguard.sock",
                                "a chrooted smtpd sees only files under queue_directory = DIR/spool: run heloguard with --socket unix:DIR/spool/heloguard/heloguard.sock")]),
        Case(name: "wrong: other milters are kept in the fix",
             main: [spool, ("smtpd_milters", "inet:127.0.0.1:8891, unix:/run/heloguard/heloguard.sock")],
             expected: [problem("main.cf@smtpd_milters", "smtpd_milters = inet:127.0.0.1:8891, unix:/heloguard/heloguard.sock",
                                "connects to 127.0.0.1:8891, DIR/spool/run/heloguard/heloguard.sock")]),
        Case(name: "wrong: inet socket on another port",
             main: [spool, ("smtpd_milters", "inet:127.0.0.1:8898")], socket: "inet:8899@127.0.0.1",
             // An inet milter cannot be told apart from heloguard's: the fix keeps it.
             expected: [problem("main.cf@smtpd_milters", "smtpd_milters = inet:127.0.0.1:8898, inet:127.0.0.1:8899",
                                "not to heloguard's socket 127.0.0.1:8899")]),
        Case(name: "wrong: Postfix's own smtpd_helo_restrictions",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock"), ("smtpd_helo_restrictions", "reject_non_fqdn_helo_hostname")],
             expected: [problem("main.cf@smtpd_helo_restrictions", "smtpd_helo_restrictions =", "checks the HELO itself as well as heloguard")]),
        Case(name: "wrong: milter_default_action = accept (fail-open)",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock"), ("milter_default_action", "accept")],
             expected: [problem("main.cf@milter_default_action", "milter_default_action = tempfail", "is fail-open")]),
        Case(name: "wrong: default_action = accept for heloguard's milter alone",
             main: [spool, ("smtpd_milters", "{ unix:/heloguard/heloguard.sock, default_action = accept }")],
             expected: [problem("main.cf@smtpd_milters", "milter_default_action = tempfail", "is fail-open")]),
        Case(name: "wrong: milter_default_action = reject",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock"), ("milter_default_action", "reject")],
             expected: [problem("main.cf@milter_default_action", "milter_default_action = tempfail", "refuses every message for good")]),
        Case(name: "wrong: milter_protocol 2",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock"), ("milter_protocol", "2")],
             expected: [problem("main.cf@milter_protocol", "milter_protocol = 6", "heloguard needs milter protocol 6")]),
        Case(name: "warning: a service that overrides smtpd_milters without heloguard",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock")],
             master: chrooted + "submission inet n       -       y       -       -       smtpd\n  -o smtpd_milters=inet:127.0.0.1:8891\n",
             expected: [warning("master.cf@submission/inet", "-o smtpd_milters=inet:127.0.0.1:8891,unix:/heloguard/heloguard.sock",
                                "master.cf overrides smtpd_milters for this service")]),
        Case(name: "warning: heloguard in non_smtpd_milters",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock"), ("non_smtpd_milters", "$smtpd_milters")],
             expected: [warning("main.cf@non_smtpd_milters", "non_smtpd_milters =", "mail submitted locally has no HELO")]),
        Case(name: "wrong: several at once",
             main: [spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock"), ("milter_default_action", "accept"),
                    ("milter_protocol", "4"), ("smtpd_helo_restrictions", "permit")],
             expected: [problem("main.cf@smtpd_helo_restrictions", "smtpd_helo_restrictions =", "twice"),
                        problem("main.cf@milter_default_action", "milter_default_action = tempfail", "fail-open"),
                        problem("main.cf@milter_protocol", "milter_protocol = 6", "milter_protocol = 4")]),
    ]

    @Test("Postfix configurations right and wrong", arguments: cases)
    func check(_ testCase: Case) throws {
        let directory = try PostfixDirectory(main: testCase.main, master: testCase.master)
        defer { directory.remove() }
        try Self.makeSocket(in: directory)
        let findings = try PostfixSetupCheck(
            configDirectory: directory.path,
            socketSpec: testCase.socket.replacingOccurrences(of: "DIR", with: directory.path)).run()
        #expect(findings.map { "\($0.severity) \($0.location) \($0.fix ?? "-")" }
                == testCase.expected.map { "\($0.severity) \(Self.location($0.location, directory)) \(Self.fill($0.fix, directory) ?? "-")" },
                "\(findings.map(\.description).joined(separator: "\n"))")
        for (finding, expected) in zip(findings, testCase.expected) {
            let words = expected.words.replacingOccurrences(of: "DIR", with: directory.path)
            #expect(finding.message.contains(words), "\(finding.message)")
        }
    }

    /// The permission checks need files of other owners: as root only (CI runs as root).
    @Test("the postfix user cannot reach the socket", .enabled(if: geteuid() == 0), arguments: [
        ("directory mode 0700", "spool/heloguard", "chgrp postfix DIR/spool/heloguard && chmod g+x DIR/spool/heloguard"),
        ("socket 0660 root:nogroup", "spool/heloguard/heloguard.sock", "adduser postfix nogroup"),
        ("socket 0600 postfix:postfix", "", ""),
        ("no socket", "spool/heloguard/heloguard.sock", "heloguard run --socket unix:DIR/spool/heloguard/heloguard.sock"),
    ])
    func permissions(_ setup: String, _ place: String, _ fix: String) throws {
        let directory = try PostfixDirectory(main: [Self.spool, ("smtpd_milters", "unix:/heloguard/heloguard.sock"),
                                                    ("mail_owner", "postfix")], master: Self.chrooted)
        defer { directory.remove() }
        let socket = directory.path + "/spool/heloguard/heloguard.sock"
        try Self.makeSocket(in: directory)
        switch setup {
        case "directory mode 0700":
            chmod(directory.path + "/spool/heloguard", 0o700)
        case "socket 0660 root:nogroup":
            chown(socket, 0, 65534)
            chmod(socket, 0o660)
        case "socket 0600 postfix:postfix":
            let postfix = getpwnam("postfix")!.pointee
            chown(socket, postfix.pw_uid, postfix.pw_gid)
            chmod(socket, 0o600)
        default:
            unlink(socket)
        }
        let findings = try PostfixSetupCheck(configDirectory: directory.path, socketSpec: "unix:" + socket).run()
        if place.isEmpty {
            #expect(findings.isEmpty, "\(findings)")
            return
        }
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.first?.severity == .problem)
        #expect(findings.first?.location == directory.path + "/" + place)
        #expect(findings.first?.fix?.hasPrefix(fix.replacingOccurrences(of: "DIR", with: directory.path)) == true,
                "\(findings.first?.fix ?? "-")")
    }

    @Test("an unreadable Postfix configuration is an error, not a pass")
    func missingConfiguration() throws {
        #expect(throws: PostfixReadError.self) {
            try PostfixSetupCheck(configDirectory: "/nonexistent/postfix", socketSpec: "unix:/tmp/x.sock").run()
        }
    }

    // MARK: Support

    /// Binds heloguard's stand-in socket at DIR/spool/heloguard/heloguard.sock (mode 0666,
    /// directories 0755) and another one at DIR/run/heloguard.sock.
    static func makeSocket(in directory: PostfixDirectory) throws {
        for (folder, name) in [("spool/heloguard", "heloguard.sock"), ("run", "heloguard.sock")] {
            let path = directory.path + "/" + folder
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            chmod(directory.path, 0o755)
            chmod(directory.path + "/spool", 0o755)
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(descriptor) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let file = path + "/" + name
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: Array(file.utf8) + [0])
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            #expect(bound == 0, "bind \(file): \(String(cString: strerror(errno)))")
            chmod(file, 0o666)
        }
    }

    static func fill(_ text: String?, _ directory: PostfixDirectory) -> String? {
        text?.replacingOccurrences(of: "DIR", with: directory.path)
    }

    /// `main.cf@name` → `DIR/main.cf:LINE` (or `DIR/main.cf`), `master.cf@service/type` →
    /// `DIR/master.cf:LINE`, else the text with DIR filled in.
    static func location(_ text: String, _ directory: PostfixDirectory) -> String {
        guard let at = text.firstIndex(of: "@") else { return fill(text, directory)! }
        let file = String(text[..<at])
        let key = String(text[text.index(after: at)...])
        let lines = ((try? String(contentsOfFile: directory.path + "/" + file, encoding: .utf8)) ?? "")
            .split(separator: "\n", omittingEmptySubsequences: false)
        let wanted = file == "main.cf" ? key + " =" : key.replacingOccurrences(of: "/", with: " ")
        for (index, line) in lines.enumerated() {
            let squeezed = line.split(separator: " ").joined(separator: " ")
            if squeezed.hasPrefix(wanted) { return "\(directory.path)/\(file):\(index + 1)" }
        }
        return "\(directory.path)/\(file)"
    }
}
