import HeloPolicy
import MilterKit
#if canImport(Glibc)
import Glibc
#endif
import PostfixSyntax

/// One thing `heloguard check-config --postfix` found, with the line to write instead.
public struct PostfixFinding: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        /// Postfix and heloguard do not work together as intended: the check exits 1.
        case problem
        /// Worth a look, but not wrong.
        case warning
    }

    public let severity: Severity
    /// `DIR/main.cf:LINE`, `DIR/master.cf:LINE`, `DIR/main.cf` (a parameter left at its default)
    /// or a path.
    public let location: String
    public let message: String
    /// The exact line to write (or the command to run) to fix it.
    public let fix: String?

    public init(_ severity: Severity, _ location: String, _ message: String, fix: String? = nil) {
        self.severity = severity
        self.location = location
        self.message = message
        self.fix = fix
    }

    public var description: String {
        "\(location): \(severity.rawValue): \(message)" + (fix.map { "\n    fix: \($0)" } ?? "")
    }
}

/// `heloguard check-config --postfix`: reads a Postfix configuration with `postconf` and checks
/// that Postfix's SMTP server asks heloguard the way heloguard expects.
///
/// - Every `smtpd` service of master.cf (`inet`, and `pass` behind postscreen) must reach
///   heloguard's socket through `smtpd_milters`, as that smtpd sees the path: a chrooted smtpd
///   (master.cf's chroot column; `-` is `n` since Postfix 3.0, Debian's stock master.cf says
///   `y` for `smtp inet`) resolves `unix:/path` under `queue_directory`, and every smtpd
///   resolves a relative path there. A service whose master.cf entry overrides
///   `smtpd_milters` without heloguard is a warning (an administrator's choice).
/// - The `mail_owner` user must be able to connect to a unix socket: search permission on
///   every directory on its path, write permission on the socket (owner, group membership
///   or others; ACLs are not looked at).
/// - `smtpd_helo_restrictions` must be empty (heloguard checks the HELO; Postfix would check it
///   a second time, with a different reply).
/// - `milter_default_action` must not be `accept` (heloguard down = every message accepted
///   unchecked) nor `reject` (heloguard down = every message refused for good); `tempfail` is
///   the safe one.
/// - `milter_protocol` must be 6 or more.
/// - heloguard's socket in `non_smtpd_milters` is a warning: local submissions have no HELO.
public struct PostfixSetupCheck: Sendable {
    public let configDirectory: String
    /// heloguard's socket as heloguard listens on it.
    public let socket: MilterSocket
    public let postconf: Postconf

    public init(configDirectory: String, socket: MilterSocket, postconf: Postconf = Postconf()) {
        self.configDirectory = configDirectory
        self.socket = socket
        self.postconf = postconf
    }

    /// The same with heloguard's socket written as for `heloguard run --socket`.
    public init(configDirectory: String, socketSpec: String, postconf: Postconf = Postconf()) throws(MilterSocketError) {
        self.init(configDirectory: configDirectory, socket: try MilterSocket(parsing: socketSpec), postconf: postconf)
    }

    static let parameters = ["smtpd_milters", "non_smtpd_milters", "milter_default_action", "milter_protocol",
                             "smtpd_helo_restrictions", "queue_directory", "mail_owner", "mail_version"]

    /// Everything found; no problem means Postfix reaches heloguard as intended.
    public func run() throws(PostfixReadError) -> [PostfixFinding] {
        let values = try postconf.values(of: Self.parameters, configDirectory: configDirectory)
        let setup = PostfixSetup(
            directory: configDirectory, values: values,
            fields: try postconf.masterFields(configDirectory: configDirectory),
            overrides: try postconf.masterOverrides(configDirectory: configDirectory))
        var findings: [PostfixFinding] = []
        let services = setup.smtpdServices()
        if services.isEmpty {
            findings.append(PostfixFinding(.problem, setup.masterFile,
                "master.cf runs no smtpd service (inet or pass): Postfix receives no SMTP mail here"))
        }
        findings += services.compactMap { milterFinding($0, setup) }
        findings += behaviourFindings(services, setup)
        findings += nonSMTPFindings(setup)
        if let path = socket.path {
            findings += SocketAccess.findings(socketPath: path, mailOwner: values["mail_owner"] ?? "postfix",
                                              mainCf: setup.location(of: "mail_owner"))
        }
        var seen: Set<PostfixFinding> = []
        return findings.filter { seen.insert($0).inserted }
    }

    /// Nil when `service` reaches heloguard; else what is wrong, with the line to write.
    func milterFinding(_ service: PostfixSetup.Service, _ setup: PostfixSetup) -> PostfixFinding? {
        let entries = service.milters.map(MilterEntry.init(parsing:))
        if entries.contains(where: { reaches($0, chrooted: service.chrooted, setup) }) { return nil }
        let wanted = recommendedSpec(service, setup)
        let kept = entries.filter { !$0.spec.lowercased().contains("heloguard") }.map(\.text)
        let items = kept + [wanted.spec]
        let seen = service.chrooted ? "the chrooted smtpd of \(service.name)" : "the smtpd of \(service.name)"
        var message: String
        if entries.isEmpty {
            message = "smtpd_milters is empty for \(service.name): heloguard is not asked"
        } else {
            let targets = entries.map { $0.target(chrooted: service.chrooted, queueDirectory: setup.queueDirectory) }
            message = "smtpd_milters = \(service.milters.joined(separator: ", ")): \(seen) "
                + "(\(setup.masterLocation(service)), chroot \(service.chrooted ? "y" : "n")) connects to "
                + targets.joined(separator: ", ") + ", not to heloguard's socket \(socket.endpointText)"
        }
        if let note = wanted.note { message += "; " + note }
        if service.overriddenMilters != nil {
            // master.cf splits its arguments at white space: no spaces in an -o value.
            return PostfixFinding(.warning, setup.masterLocation(service),
                message + " (master.cf overrides smtpd_milters for this service: no HELO checks there)",
                fix: "-o smtpd_milters=" + items.joined(separator: ","))
        }
        return PostfixFinding(.problem, setup.location(of: "smtpd_milters"), message,
                              fix: "smtpd_milters = " + items.joined(separator: ", "))
    }

    /// True when `entry` ends at heloguard's socket as a (chrooted or not) Postfix daemon sees it.
    func reaches(_ entry: MilterEntry, chrooted: Bool, _ setup: PostfixSetup) -> Bool {
        switch (entry.kind, socket.endpoint) {
        case (.unix(let path), .local(let ours)):
            let seen = MilterEntry.hostPath(path, chrooted: chrooted, queueDirectory: setup.queueDirectory)
            return SocketAccess.sameFile(seen, ours)
        case (.inet(let host, let port), .inet(let ourPort, let ourHost)),
             (.inet(let host, let port), .inet6(let ourPort, let ourHost)):
            return port == ourPort && Self.sameHost(host, ourHost)
        default:
            return false
        }
    }

    static func sameHost(_ postfixHost: String, _ ourHost: String?) -> Bool {
        let wildcard: Set<String> = ["", "*", "0.0.0.0", "::", "[::]", "inaddr_any"]
        guard let ourHost = ourHost?.lowercased(), !wildcard.contains(ourHost) else { return true }
        let loopback: Set<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
        let theirs = postfixHost.lowercased()
        return theirs == ourHost || "[\(ourHost)]" == theirs || (loopback.contains(theirs) && loopback.contains(ourHost))
    }

    /// The `smtpd_milters` item that reaches heloguard from `service`, and what else must change.
    func recommendedSpec(_ service: PostfixSetup.Service, _ setup: PostfixSetup) -> (spec: String, note: String?) {
        switch socket.endpoint {
        case .inet(let port, let host):
            return ("inet:\(host.flatMap { Self.sameHost("127.0.0.1", $0) ? "127.0.0.1" : $0 } ?? "127.0.0.1"):\(port)", nil)
        case .inet6(let port, let host):
            return ("inet:[\(host ?? "::1")]:\(port)", nil)
        case .local(let path):
            guard service.chrooted else { return ("unix:" + path, nil) }
            let base = setup.queueDirectory.hasSuffix("/") ? String(setup.queueDirectory.dropLast()) : setup.queueDirectory
            if path.hasPrefix(base + "/") {
                return ("unix:" + path.dropFirst(base.count), nil)
            }
            return ("unix:/heloguard/heloguard.sock",
                    "a chrooted smtpd sees only files under queue_directory = \(base): run heloguard with "
                    + "--socket unix:\(base)/heloguard/heloguard.sock (or set the chroot column of \(service.name) to n "
                    + "and write smtpd_milters = unix:\(path))")
        }
    }

    /// `smtpd_helo_restrictions`, `milter_default_action`, `milter_protocol` of every smtpd
    /// service (for heloguard's milter a per-milter `{ ..., default_action = ..., protocol = ... }` wins).
    func behaviourFindings(_ services: [PostfixSetup.Service], _ setup: PostfixSetup) -> [PostfixFinding] {
        var findings: [PostfixFinding] = []
        for service in services {
            let (helo, heloPlace) = setup.effective("smtpd_helo_restrictions", for: service)
            if !PostfixList.tokens(helo).isEmpty {
                findings.append(PostfixFinding(.problem, heloPlace,
                    "smtpd_helo_restrictions = \(helo): Postfix checks the HELO itself as well as heloguard (twice, with different replies); leave the HELO to heloguard",
                    fix: "smtpd_helo_restrictions ="))
            }
            let entry = service.milters.map(MilterEntry.init(parsing:)).first { reaches($0, chrooted: service.chrooted, setup) }
            var (action, actionPlace) = setup.effective("milter_default_action", for: service)
            if let own = entry?.attributes["default_action"] {
                (action, actionPlace) = (own, setup.location(of: "smtpd_milters"))
            }
            switch action.lowercased() {
            case "accept":
                findings.append(PostfixFinding(.problem, actionPlace,
                    "milter_default_action = accept is fail-open: while heloguard cannot be reached (stopped, restarting, overloaded) Postfix accepts every message without any HELO check",
                    fix: "milter_default_action = tempfail"))
            case "reject":
                findings.append(PostfixFinding(.problem, actionPlace,
                    "milter_default_action = reject refuses every message for good (5xx) while heloguard cannot be reached",
                    fix: "milter_default_action = tempfail"))
            default:
                break
            }
            var (version, versionPlace) = setup.effective("milter_protocol", for: service)
            if let own = entry?.attributes["protocol"] {
                (version, versionPlace) = (own, setup.location(of: "smtpd_milters"))
            }
            if let number = Int(version), number < 6 {
                findings.append(PostfixFinding(.problem, versionPlace,
                    "milter_protocol = \(version): heloguard needs milter protocol 6 (it asks for the macros it reads and skips the stages it does not use)",
                    fix: "milter_protocol = 6"))
            }
        }
        return findings
    }

    /// heloguard in `non_smtpd_milters` (cleanup, for sendmail(1) and pickup) does nothing useful.
    func nonSMTPFindings(_ setup: PostfixSetup) -> [PostfixFinding] {
        let entries = PostfixList.tokens(setup.values["non_smtpd_milters"] ?? "").map(MilterEntry.init(parsing:))
        let isOurs = { (entry: MilterEntry) in [true, false].contains { reaches(entry, chrooted: $0, setup) } }
        guard entries.contains(where: isOurs) else { return [] }
        return [PostfixFinding(.warning, setup.location(of: "non_smtpd_milters"),
            "non_smtpd_milters names heloguard's socket: mail submitted locally has no HELO, heloguard has nothing to check there",
            fix: (["non_smtpd_milters ="] + [entries.filter { !isOurs($0) }.map(\.text).joined(separator: ", ")])
                .filter { !$0.isEmpty }.joined(separator: " "))]
    }
}

extension MilterSocket {
    /// The socket as a path or `host:port`, for messages.
    var endpointText: String {
        switch endpoint {
        case .local(let path): return path
        case .inet(let port, let host), .inet6(let port, let host): return "\(host ?? "*"):\(port)"
        }
    }
}
