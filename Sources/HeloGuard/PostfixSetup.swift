import HeloPolicy
#if canImport(Glibc)
import Glibc
#endif
import PostfixSyntax

/// A Postfix configuration as `postconf` reports it, with the lines of main.cf and master.cf
/// where each setting is written (for messages that say which line to change).
struct PostfixSetup {
    /// An `smtpd` service of master.cf.
    struct Service: Hashable {
        /// `smtp inet`, as master.cf writes it.
        let name: String
        /// `smtp/inet`, as postconf keys it.
        let key: String
        let chrooted: Bool
        /// Its `smtpd_milters` items (master.cf's `-o smtpd_milters=` if there is one, else main.cf's).
        let milters: [String]
        /// master.cf's `-o smtpd_milters=` value, if it sets one.
        let overriddenMilters: String?
    }

    let directory: String
    /// `postconf -x` values of ``PostfixSetupCheck/parameters``.
    let values: [String: String]
    /// `postconf -F`: `service/type/field = value`.
    let fields: [String: String]
    /// `postconf -P -x`: `service/type/name = value`.
    let overrides: [String: String]
    private let mainLines: [String: Int]
    private let masterLines: [String: Int]

    init(directory: String, values: [String: String], fields: [String: String], overrides: [String: String]) {
        self.directory = directory
        self.values = values
        self.fields = fields
        self.overrides = overrides
        mainLines = (try? MainCf.load(path: directory + "/main.cf"))
            .map { $0.0.entries.mapValues(\.location.line) } ?? [:]
        masterLines = Self.serviceLines(directory + "/master.cf")
    }

    var mainFile: String { directory + "/main.cf" }
    var masterFile: String { directory + "/master.cf" }

    /// `queue_directory`, the root of a chrooted daemon.
    var queueDirectory: String { values["queue_directory"] ?? "/var/spool/postfix" }

    /// `main.cf:LINE` where `name` is set, or `main.cf` when it is left at its default.
    func location(of name: String) -> String {
        mainLines[name].map { "\(mainFile):\($0)" } ?? mainFile
    }

    func masterLocation(_ service: Service) -> String {
        masterLines[service.key].map { "\(masterFile):\($0)" } ?? masterFile
    }

    /// The value of `name` for `service` (master.cf's `-o` if any, else main.cf's) and where it is set.
    func effective(_ name: String, for service: Service) -> (value: String, location: String) {
        if let own = overrides["\(service.key)/\(name)"] { return (own, masterLocation(service)) }
        return (values[name] ?? "", location(of: name))
    }

    /// Every `smtpd` service of type `inet` or `pass`, `smtp inet` (or the `pass` one behind
    /// postscreen) first.
    func smtpdServices() -> [Service] {
        var services: [Service] = []
        for (key, command) in fields where key.hasSuffix("/command") {
            let parts = key.split(separator: "/")
            guard parts.count == 3, ["inet", "pass"].contains(parts[1]),
                  command.split(separator: " ").first == "smtpd" else { continue }
            let serviceKey = "\(parts[0])/\(parts[1])"
            let override = overrides["\(serviceKey)/smtpd_milters"]
            services.append(Service(
                name: "\(parts[0]) \(parts[1])", key: serviceKey,
                chrooted: isChrooted(fields["\(serviceKey)/chroot"] ?? "-"),
                milters: PostfixList.tokens(override ?? values["smtpd_milters"] ?? ""),
                overriddenMilters: override))
        }
        return services.sorted { a, b in
            let rank = { (s: Service) in s.key == "smtp/inet" ? 0 : s.key.hasSuffix("/pass") ? 1 : 2 }
            return (rank(a), a.key) < (rank(b), b.key)
        }
    }

    /// master.cf's chroot column: `y` or `n`; `-` is the default, `n` since Postfix 3.0 (`y` before).
    func isChrooted(_ column: String) -> Bool {
        switch column.lowercased() {
        case "y": return true
        case "n": return false
        default:
            let major = Int((values["mail_version"] ?? "3").split(separator: ".").first ?? "3") ?? 3
            return major < 3
        }
    }

    /// The line of each `service type` entry of master.cf, keyed `service/type`.
    static func serviceLines(_ path: String) -> [String: Int] {
        guard let file = fopen(path, "r") else { return [:] }
        defer { fclose(file) }
        var lines: [String: Int] = [:]
        var number = 0
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(buffer) }
        while getline(&buffer, &capacity, file) >= 0, let buffer {
            number += 1
            let line = String(cString: buffer)
            guard let first = line.unicodeScalars.first, first != "#", first != " ", first != "\t", first != "\n" else { continue }
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if words.count >= 2 { lines["\(words[0])/\(words[1])"] = lines["\(words[0])/\(words[1])"] ?? number }
        }
        return lines
    }
}

/// One item of a Postfix milter list: `unix:path`, `inet:host:port`, or a group
/// `{ spec, name = value, ... }` with per-milter settings.
struct MilterEntry {
    enum Kind {
        case unix(String)
        case inet(host: String, port: Int)
        case other
    }

    /// The item as written.
    let text: String
    /// The milter's address without the group's settings.
    let spec: String
    let kind: Kind
    /// Per-milter settings of a group (`default_action`, `protocol`, ...), names in lower case.
    let attributes: [String: String]

    init(parsing text: String) {
        self.text = text
        var spec = text
        var attributes: [String: String] = [:]
        if text.hasPrefix("{") && text.hasSuffix("}") {
            let inner = text.dropFirst().dropLast()
            let parts = inner.split(separator: ",").map { stripped($0) }
            spec = parts.first ?? ""
            for part in parts.dropFirst() {
                guard let equals = part.firstIndex(of: "=") else { continue }
                let name = stripped(part[..<equals]).lowercased()
                attributes[name] = stripped(part[part.index(after: equals)...])
            }
        }
        self.spec = spec
        self.attributes = attributes
        if spec.lowercased().hasPrefix("unix:") {
            kind = .unix(String(spec.dropFirst(5)))
        } else if spec.lowercased().hasPrefix("inet:"), let colon = spec.lastIndex(of: ":"),
                  let port = Int(spec[spec.index(after: colon)...]) {
            let host = spec[spec.index(spec.startIndex, offsetBy: 5)..<colon]
            kind = .inet(host: String(host), port: port)
        } else {
            kind = .other
        }
    }

    /// Where the milter is, as seen from outside any chroot.
    func target(chrooted: Bool, queueDirectory: String) -> String {
        switch kind {
        case .unix(let path): return Self.hostPath(path, chrooted: chrooted, queueDirectory: queueDirectory)
        case .inet(let host, let port): return "\(host):\(port)"
        case .other: return spec
        }
    }

    /// A `unix:` path as the system sees it: Postfix daemons work in `queue_directory`, so a
    /// relative path is under it; a chrooted daemon's `/` is `queue_directory`.
    static func hostPath(_ path: String, chrooted: Bool, queueDirectory: String) -> String {
        let base = queueDirectory.hasSuffix("/") ? String(queueDirectory.dropLast()) : queueDirectory
        if !path.hasPrefix("/") { return base + "/" + path }
        return chrooted ? base + path : path
    }
}

/// `text` without white space at either end.
private func stripped(_ text: some StringProtocol) -> String {
    var slice = Substring(text)
    while let first = slice.first, first.isWhitespace { slice = slice.dropFirst() }
    while let last = slice.last, last.isWhitespace { slice = slice.dropLast() }
    return String(slice)
}
