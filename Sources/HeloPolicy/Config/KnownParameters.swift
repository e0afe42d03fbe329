#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostfixSyntax

/// The parameters heloguard understands, with Postfix 3.7.11's defaults (`postconf -d`,
/// `compatibility_level` 3.6), plus heloguard's own `impersonation_*`, `dns_*`, `state_directory`, `penalty_box_*`,
/// `penalize_impersonation` and `helo_log*` parameters.
///
/// Names that mean the same as in Postfix keep Postfix's names so administrators can paste lines
/// from main.cf. A name not in this registry draws a warning, unless it is listed in
/// `smtpd_restriction_classes` (then it defines a restriction class).
public enum KnownParameters {
    /// How a parameter's value is checked.
    public enum Kind: Sendable, Hashable {
        case text
        /// `yes` or `no`, case-insensitive (Postfix `get_mail_conf_bool()`).
        case boolean
        /// An SMTP reply code. Postfix requires a number; a number outside 400-599 is accepted at
        /// start and replaced at reply time by `450 4.7.1 Service unavailable`.
        case replyCode
        /// `defer_if_permit` or `defer`, case-insensitive (Postfix `name_code()`).
        case tempfailAction
        /// `host`, `subnet` or `class`.
        case mynetworksStyle
        /// Used without `$name` expansion (Postfix `get_mail_conf_raw()`).
        case rawText
        /// A time: a whole number with an optional unit `s`, `m`, `h`, `d` or `w` (seconds when
        /// there is none), as Postfix's `conv_time()` reads it; heloguard also requires it to be
        /// greater than zero.
        case time
        /// A whole number greater than zero.
        case positiveInteger
        /// `dns_servers`: addresses with optional ports (see ``DNSServerList``).
        case dnsServers
        /// `metrics_listen`: empty, or `host:port` (see ``ListenAddress``).
        case listenAddress
    }

    public struct Parameter: Sendable, Hashable {
        public let name: String
        /// The default as Postfix writes it (may refer to other parameters); nil when it is
        /// computed from this machine (`myhostname`, `mydomain`, `mynetworks`).
        public let defaultValue: String?
        public let kind: Kind
    }

    /// `postconf -d default_rbl_reply`.
    public static let defaultRBLReply =
        "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}"

    /// `postconf -d smtpd_expansion_filter`, as written in main.cf (backslash escapes are
    /// decoded when the filter is used, as Postfix's `unescape()` does).
    public static let defaultExpansionFilter =
        ##"\t\40!"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"##

    /// `postconf -d parent_domain_matches_subdomains`.
    public static let defaultParentDomainMatchesSubdomains =
        "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps"

    public static let all: [Parameter] = [
        Parameter(name: "smtpd_helo_restrictions", defaultValue: "", kind: .text),
        Parameter(name: "smtpd_helo_required", defaultValue: "no", kind: .boolean),
        Parameter(name: "smtpd_delay_reject", defaultValue: "yes", kind: .boolean),
        // heloguard's own: log every refusal as a warning (reject_warning) and accept instead.
        Parameter(name: "dry_run", defaultValue: "no", kind: .boolean),
        Parameter(name: "mynetworks", defaultValue: nil, kind: .text),
        Parameter(name: "mynetworks_style", defaultValue: "host", kind: .mynetworksStyle),
        Parameter(name: "parent_domain_matches_subdomains", defaultValue: defaultParentDomainMatchesSubdomains, kind: .text),
        Parameter(name: "smtpd_restriction_classes", defaultValue: "", kind: .text),
        Parameter(name: "invalid_hostname_reject_code", defaultValue: "501", kind: .replyCode),
        Parameter(name: "non_fqdn_reject_code", defaultValue: "504", kind: .replyCode),
        Parameter(name: "unknown_hostname_reject_code", defaultValue: "450", kind: .replyCode),
        Parameter(name: "unknown_helo_hostname_tempfail_action", defaultValue: "$reject_tempfail_action", kind: .tempfailAction),
        Parameter(name: "reject_tempfail_action", defaultValue: "defer_if_permit", kind: .tempfailAction),
        Parameter(name: "access_map_reject_code", defaultValue: "554", kind: .replyCode),
        Parameter(name: "access_map_defer_code", defaultValue: "450", kind: .replyCode),
        Parameter(name: "reject_code", defaultValue: "554", kind: .replyCode),
        Parameter(name: "defer_code", defaultValue: "450", kind: .replyCode),
        Parameter(name: "maps_rbl_reject_code", defaultValue: "554", kind: .replyCode),
        Parameter(name: "default_rbl_reply", defaultValue: defaultRBLReply, kind: .rawText),
        Parameter(name: "rbl_reply_maps", defaultValue: "", kind: .text),
        Parameter(name: "smtpd_expansion_filter", defaultValue: defaultExpansionFilter, kind: .rawText),
        Parameter(name: "soft_bounce", defaultValue: "no", kind: .boolean),
        Parameter(name: "myhostname", defaultValue: nil, kind: .text),
        Parameter(name: "mydomain", defaultValue: nil, kind: .text),
        Parameter(name: "smtpd_null_access_lookup_key", defaultValue: "<>", kind: .text),
        Parameter(name: "myorigin", defaultValue: "$myhostname", kind: .text),
        Parameter(name: "smtpd_log_access_permit_actions", defaultValue: "", kind: .text),
        // heloguard's own.
        Parameter(name: "impersonation_hostnames", defaultValue: "$myhostname", kind: .text),
        Parameter(name: "impersonation_domains", defaultValue: "$mydomain", kind: .text),
        Parameter(name: "impersonation_addresses", defaultValue: "", kind: .text),
        Parameter(name: "impersonation_reject_code", defaultValue: "550", kind: .replyCode),
        Parameter(name: "impersonation_reply_text", defaultValue: "Host impersonates this server", kind: .text),
        Parameter(name: "impersonation_check_dns", defaultValue: "no", kind: .boolean),
        // heloguard's own: Postfix's configuration directory whose names and addresses are ours
        // too (empty: none); read with postconf by the application.
        Parameter(name: "impersonation_postfix_config", defaultValue: "", kind: .text),
        // heloguard's own: Postfix resolves through libc and has no such settings.
        Parameter(name: "dns_servers", defaultValue: "", kind: .dnsServers),
        Parameter(name: "dns_timeout", defaultValue: "10s", kind: .time),
        // Postfix's limit on the server addresses check_helo_{a,mx,ns}_access looks at is the
        // built-in variable var_dns_rr_list_limit (100, src/dns/dns_rr.c); Postfix 3.7 has no
        // parameter for it, heloguard makes it one under the same name.
        Parameter(name: "dns_rr_list_limit", defaultValue: "100", kind: .positiveInteger),
        // heloguard's own: memory across connections (penalty box, HELO log).
        Parameter(name: "state_directory", defaultValue: "/var/lib/heloguard", kind: .text),
        // Empty: the embedded SQLite file in state_directory; postgresql://…: a shared database.
        Parameter(name: "state_database", defaultValue: "", kind: .text),
        Parameter(name: "penalty_box_ttl", defaultValue: "24h", kind: .time),
        Parameter(name: "penalty_box_max_ttl", defaultValue: "7d", kind: .time),
        Parameter(name: "penalty_box_max_entries", defaultValue: "100000", kind: .positiveInteger),
        Parameter(name: "penalty_box_ipv6_prefix", defaultValue: "64", kind: .positiveInteger),
        Parameter(name: "penalty_box_reject_code", defaultValue: "550", kind: .replyCode),
        // How often each host reloads the box from the store (the shared database: how fast a box spreads).
        Parameter(name: "penalty_box_refresh_interval", defaultValue: "10s", kind: .time),
        Parameter(name: "penalize_impersonation", defaultValue: "yes", kind: .boolean),
        Parameter(name: "helo_log", defaultValue: "yes", kind: .boolean),
        Parameter(name: "helo_log_sample", defaultValue: "1", kind: .positiveInteger),
        Parameter(name: "helo_log_retention", defaultValue: "30d", kind: .time),
        // heloguard's own: the Prometheus endpoint (GET /metrics); empty = off. Read at start.
        Parameter(name: "metrics_listen", defaultValue: "", kind: .listenAddress),
    ]

    public static let byName: [String: Parameter] =
        Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    public static let rawNames: Set<String> = Set(all.filter { $0.kind == .rawText }.map(\.name))

    /// This machine's name from `gethostname()`, as Postfix's `get_hostname()` reads it.
    public static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Builds the parameters of a parsed main.cf over the defaults.
    ///
    /// Machine-dependent defaults follow Postfix's `mail_params.c`:
    /// - `myhostname`: `gethostname()`; when that has no dot, `.` and `$mydomain` (if main.cf sets
    ///   `mydomain`) or `.localdomain` is appended. Postfix never asks DNS here.
    /// - `mydomain`: `$myhostname` without its first label, or `localdomain` when it has no dot.
    /// - `mynetworks`: computed from `mynetworks_style` and the interface addresses.
    public static func parameters(
        from mainCf: MainCf,
        systemHostname: String = KnownParameters.systemHostname(),
        interfaces: [InterfaceAddress]? = nil
    ) -> Parameters {
        var defaults: [String: String] = [:]
        for parameter in all {
            if let value = parameter.defaultValue { defaults[parameter.name] = value }
        }
        if systemHostname.contains(".") {
            defaults["myhostname"] = escape(systemHostname)
        } else {
            defaults["myhostname"] = escape(systemHostname) + (mainCf["mydomain"] != nil ? ".$mydomain" : ".localdomain")
        }
        if mainCf["mydomain"] == nil || mainCf["mynetworks"] == nil {
            let first = Parameters(mainCf: mainCf, defaults: defaults, rawNames: rawNames)
            if mainCf["mydomain"] == nil {
                let host = first.value("myhostname")
                if let dot = host.firstIndex(of: ".") {
                    defaults["mydomain"] = escape(String(host[host.index(after: dot)...]))
                } else {
                    defaults["mydomain"] = "localdomain"
                }
            }
            if mainCf["mynetworks"] == nil {
                let style = first.value("mynetworks_style")
                let value = NetworkList.defaultValue(style: style, interfaces: interfaces ?? NetworkList.localInterfaces())
                defaults["mynetworks"] = value ?? ""
            }
        }
        return Parameters(mainCf: mainCf, defaults: defaults, rawNames: rawNames)
    }

    private static func escape(_ text: String) -> String {
        text.split(separator: "$", omittingEmptySubsequences: false).joined(separator: "$$")
    }

    /// The restriction class names listed in `smtpd_restriction_classes`.
    public static func restrictionClasses(_ parameters: Parameters) -> [String] {
        PostfixList.tokens(parameters.value("smtpd_restriction_classes"))
    }

    /// True when `feature` (e.g. `mynetworks`, `smtpd_access_maps`) is listed in
    /// `parent_domain_matches_subdomains` (case-insensitive; `!name` excludes).
    public static func parentDomainMatchesSubdomains(_ feature: String, in parameters: Parameters) -> Bool {
        for item in PostfixList.tokens(parameters.value("parent_domain_matches_subdomains")) {
            var negated = false
            var name = Substring(item)
            while name.first == "!" { negated.toggle(); name = name.dropFirst() }
            if name.lowercased() == feature.lowercased() { return !negated }
        }
        return false
    }

    /// Reads a boolean parameter (`yes`/`no`, any case); nil when the value is neither.
    public static func boolean(_ value: String) -> Bool? {
        switch value.lowercased() {
        case "yes": return true
        case "no": return false
        default: return nil
        }
    }

    /// Reads a number as Postfix's `strtol()`-based check does: optional leading white space and
    /// sign, decimal digits, nothing after; nil otherwise.
    public static func integer(_ value: String) -> Int? {
        var text = Substring(value)
        while let first = text.unicodeScalars.first, CLocale.isSpace(UInt8(truncatingIfNeeded: first.value)), first.isASCII {
            text = text.dropFirst()
        }
        guard let number = Int(text), Int32(exactly: number) != nil else { return nil }
        return number
    }

    /// Reads a Postfix time value (`conv_time()`): a whole number, then optionally one unit
    /// letter `s`, `m`, `h`, `d` or `w` (seconds when there is none). Returns seconds, or nil.
    /// Stricter than Postfix 3.7, which ignores text after the unit letter.
    public static func timeInSeconds(_ value: String) -> Int? {
        var digits = Substring(value)
        var multiplier = 1
        if let last = digits.last, !last.isASCII || !last.isNumber {
            switch last {
            case "s": multiplier = 1
            case "m": multiplier = 60
            case "h": multiplier = 3600
            case "d": multiplier = 86_400
            case "w": multiplier = 604_800
            default: return nil
            }
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let number = Int(digits), Int32(exactly: number) != nil else { return nil }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, Int32(exactly: seconds) != nil else { return nil }
        return seconds
    }

    /// Checks the values in force: unknown names, booleans, reply codes, tempfail actions,
    /// `mynetworks_style`, times, counts and `dns_servers`. Errors name the assignment (file:line) that holds the bad value.
    public static func validate(_ parameters: Parameters) -> [ConfigDiagnostic] {
        var diagnostics: [ConfigDiagnostic] = []
        let classes = Set(restrictionClasses(parameters))
        for (name, entry) in parameters.mainCf.entries.sorted(by: { $0.value.location.line < $1.value.location.line }) {
            if byName[name] == nil, !classes.contains(name) {
                diagnostics.append(.warning(entry.location, "unknown parameter \"\(name)\" (not used by heloguard)"))
            }
        }
        for parameter in all {
            let value = parameters.value(parameter.name)
            // A bad value that came from a default refers to another parameter; point there.
            let location = parameters.location(parameter.name) ?? referencedLocation(parameter.name, parameters)
            let shown = "\(parameter.name) = \(value)"
            switch parameter.kind {
            case .boolean:
                if boolean(value) == nil {
                    diagnostics.append(.error(location, "bad boolean configuration: \(shown) (use yes or no)"))
                }
            case .replyCode:
                if let code = integer(value) {
                    if !(400...599).contains(code) {
                        diagnostics.append(.error(location,
                            "\(shown): reply code out of range 400-599; at run time every reply with it becomes \"450 4.7.1 Service unavailable\""))
                    }
                } else {
                    diagnostics.append(.error(location, "bad numerical configuration: \(shown)"))
                }
            case .tempfailAction:
                if !["defer_if_permit", "defer"].contains(value.lowercased()) {
                    diagnostics.append(.error(location, "bad configuration: \(shown) (use defer_if_permit or defer)"))
                }
            case .mynetworksStyle:
                if !["host", "subnet", "class"].contains(value.lowercased()) {
                    diagnostics.append(.error(location, "bad \(parameter.name) value: \(value); specify exactly one of host, subnet or class"))
                }
            case .time:
                if let seconds = timeInSeconds(value) {
                    if seconds <= 0 {
                        diagnostics.append(.error(location, "invalid \(parameter.name): \(value) (must be greater than zero)"))
                    }
                } else {
                    diagnostics.append(.error(location, "parameter \(parameter.name): bad time value or unit: \(value) (use a number with an optional unit s, m, h, d or w)"))
                }
            case .positiveInteger:
                if let number = integer(value) {
                    if number <= 0 {
                        diagnostics.append(.error(location, "invalid \(parameter.name): \(value) (must be greater than zero)"))
                    }
                } else {
                    diagnostics.append(.error(location, "bad numerical configuration: \(shown)"))
                }
            case .dnsServers:
                for problem in DNSServerList.parse(value).problems {
                    diagnostics.append(.error(location, "\(parameter.name): \(problem)"))
                }
            case .listenAddress:
                if !value.isEmpty, case .failure(let problem) = ListenAddress.parse(value) {
                    diagnostics.append(.error(location, "bad \(parameter.name): \(problem)"))
                }
            case .text, .rawText:
                break
            }
        }
        return diagnostics
    }

    /// For a parameter left at a default like `$reject_tempfail_action`: where the referenced
    /// parameter was set.
    private static func referencedLocation(_ name: String, _ parameters: Parameters) -> SourceLocation? {
        guard let raw = parameters.rawValue(name), raw.hasPrefix("$") else { return nil }
        let referenced = raw.dropFirst().trimmingBraces()
        return parameters.location(String(referenced))
    }
}

private extension Substring {
    func trimmingBraces() -> Substring {
        if first == "{" || first == "(" { return dropFirst().dropLast() }
        return self
    }
}

