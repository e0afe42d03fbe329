#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostfixSyntax

/// A configuration turned into a policy snapshot, with everything noticed on the way.
public struct LoadedConfiguration: Sendable {
    public let policy: PolicyConfig
    public let parameters: Parameters
    /// Warnings, and errors that Postfix would tolerate at run time (broken table content:
    /// heloguard answers such lookups with `451 4.3.5` exactly as Postfix does).
    public let diagnostics: [ConfigDiagnostic]
    /// Every name and address `reject_impersonating_helo` counts as ours, with its source
    /// (the same entries as `policy.impersonation`, for `heloguard identity`).
    public let identity: [IdentityEntry]
}

/// Reads a heloguard configuration file (Postfix main.cf syntax) and builds the immutable
/// ``PolicyConfig`` snapshot: parameters expanded, restriction lists parsed, every table opened.
///
/// Problems that make the configuration unusable (syntax, unknown restrictions, bad
/// parameter values, unreadable tables) throw a ``ConfigError`` listing every diagnostic.
/// Broken table *content* is reported but tolerated, as Postfix tolerates it.
public enum ConfigurationLoader {
    public static func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func load(path: String, interfaces: [InterfaceAddress]? = nil) throws(ConfigError) -> LoadedConfiguration {
        try load(path: path, environment: LoadEnvironment(interfaces: interfaces))
    }

    public static func load(text: String, file: String, interfaces: [InterfaceAddress]? = nil) throws(ConfigError) -> LoadedConfiguration {
        try load(text: text, file: file, environment: LoadEnvironment(interfaces: interfaces))
    }

    /// Loads `path` with what `environment` provides (Postfix's configuration, DNS at load).
    public static func load(path: String, environment: LoadEnvironment) throws(ConfigError) -> LoadedConfiguration {
        let (mainCf, diagnostics) = try MainCf.load(path: path)
        return try build(mainCf, diagnostics: diagnostics, environment: environment)
    }

    public static func load(text: String, file: String, environment: LoadEnvironment) throws(ConfigError) -> LoadedConfiguration {
        let (mainCf, diagnostics) = MainCf.parse(text, file: file)
        return try build(mainCf, diagnostics: diagnostics, environment: environment)
    }

    static func build(_ mainCf: MainCf, diagnostics parseDiagnostics: [ConfigDiagnostic], environment: LoadEnvironment) throws(ConfigError) -> LoadedConfiguration {
        var fatal = parseDiagnostics
        let parameters = KnownParameters.parameters(from: mainCf, interfaces: environment.interfaces)
        fatal += parameters.diagnostics
        fatal += KnownParameters.validate(parameters)
        // Broken table content is tolerated (the opener collects it), everything else is fatal.
        let tables = TableOpener()

        let (heloRestrictions, classes) = restrictionLists(parameters, tables: tables, diagnostics: &fatal)

        // Simple parameters; validate() has already reported bad values.
        func flag(_ name: String, _ fallback: Bool) -> Bool { KnownParameters.boolean(parameters.value(name)) ?? fallback }

        // mynetworks.
        let (networks, networkDiagnostics) = NetworkList.parse(
            parameters.value("mynetworks"), location: parameters.location("mynetworks"),
            parentMatchesSubdomains: KnownParameters.parentDomainMatchesSubdomains("mynetworks", in: parameters),
            openTable: { spec, location throws(ConfigError) in try tables.open(spec, location).table })
        fatal += networkDiagnostics

        if parameters.isSet("smtpd_log_access_permit_actions") {
            fatal.append(.warning(parameters.location("smtpd_log_access_permit_actions"),
                                  "smtpd_log_access_permit_actions has no effect in this release of heloguard (permits are not logged)"))
        }
        let tempfail = TempfailAction(rawValue: parameters.value("unknown_helo_hostname_tempfail_action").lowercased()) ?? .deferIfPermit

        // DNS: dns_servers and dns_timeout (heloguard's own), dns_rr_list_limit.
        let (dns, timeout) = dnsSettings(parameters)
        fatal += CommandTimeBudget.diagnostics(
            heloRestrictions: heloRestrictions, classes: classes, dnsTimeoutSeconds: timeout,
            listLocation: parameters.location("smtpd_helo_restrictions"), dnsTimeoutLocation: parameters.location("dns_timeout"))

        let identityEntries = identityEntries(parameters, environment: environment, dns: dns, diagnostics: &fatal)
        var impersonation = IdentitySources.identity(identityEntries, replyText: parameters.value("impersonation_reply_text"))
        impersonation.checkDNS = flag("impersonation_check_dns", false)
        let rrListLimit = KnownParameters.integer(parameters.value("dns_rr_list_limit")).flatMap { $0 > 0 ? $0 : nil } ?? 100

        // reject_rhsbl_helo replies: rbl_reply_maps, default_rbl_reply, smtpd_expansion_filter.
        let (rbl, rblDiagnostics) = rblReplySettings(parameters, open: tables.open)
        fatal += rblDiagnostics

        // Parameters other modules own (the state store's), checked here so that their
        // mistakes refuse the configuration with file:line like any other.
        for section in environment.sections { fatal += section.diagnostics(for: parameters) }

        let policy = PolicyConfig(
            heloRestrictions: heloRestrictions, restrictionClasses: classes,
            heloRequired: flag("smtpd_helo_required", false), delayReject: flag("smtpd_delay_reject", true),
            dryRun: flag("dry_run", false), softBounce: flag("soft_bounce", false), codes: replyCodes(parameters),
            accessMapsMatchParentDomains: KnownParameters.parentDomainMatchesSubdomains("smtpd_access_maps", in: parameters),
            myNetworks: networks, impersonation: impersonation, unknownHeloTempfailAction: tempfail,
            nullAccessLookupKey: parameters.value("smtpd_null_access_lookup_key"),
            myOrigin: parameters.value("myorigin"), dns: dns, dnsRRListLimit: rrListLimit,
            rbl: rbl, myHostname: parameters.value("myhostname"),
            penalizeImpersonation: flag("penalize_impersonation", true))

        let all = sorted(fatal + tables.diagnostics)
        if fatal.contains(where: { $0.severity == .error }) {
            throw ConfigError(all)
        }
        return LoadedConfiguration(policy: policy, parameters: parameters, diagnostics: all, identity: identityEntries)
    }

    /// Opens each table once per load, however often it is named, and keeps what its content
    /// gave to say (tolerated: Postfix answers lookups in a broken table with a server error).
    private final class TableOpener {
        private var tables: [String: TableReference] = [:]
        /// Tables named in restriction lists are access tables: their results are actions.
        /// Each is checked once, where it is first named as one.
        private var checkedAccessTables: Set<String> = []
        private(set) var diagnostics: [ConfigDiagnostic] = []

        func open(_ spec: String, _ location: SourceLocation?) throws(ConfigError) -> TableReference {
            if let cached = tables[spec] { return cached }
            let loaded = try TableLoader.open(spec, at: location)
            diagnostics += loaded.diagnostics
            let reference = TableReference(spec: spec, table: loaded.table)
            tables[spec] = reference
            return reference
        }

        func openAccessTable(_ spec: String, _ location: SourceLocation?) throws(ConfigError) -> TableReference {
            let reference = try open(spec, location)
            if checkedAccessTables.insert(spec).inserted {
                diagnostics += ConfigurationLoader.unavailableActions(in: reference.table, namedAt: location)
            }
            return reference
        }
    }

    /// The HELO list and every restriction class, parsed; classes listed but not defined, and
    /// classes that name themselves, are errors.
    private static func restrictionLists(_ parameters: Parameters, tables: TableOpener,
                                         diagnostics fatal: inout [ConfigDiagnostic]) -> ([Restriction], [String: [Restriction]]) {
        let classNames = KnownParameters.restrictionClasses(parameters)
        let classSet = Set(classNames)
        func parseList(_ name: String) -> [Restriction] {
            let location = parameters.location(name)
            return RestrictionListParser.parseConfigured(
                parameters.value(name), location: location, classNames: classSet,
                openTable: { spec throws(ConfigError) in try tables.openAccessTable(spec, location) }, diagnostics: &fatal)
        }
        let heloRestrictions = parseList("smtpd_helo_restrictions")
        var classes: [String: [Restriction]] = [:]
        for name in classNames {
            if !parameters.isSet(name) {
                fatal.append(.error(parameters.location("smtpd_restriction_classes"),
                                    "restriction class \"\(name)\" is listed in smtpd_restriction_classes but not defined"))
            }
            classes[name] = parseList(name)
        }
        fatal += classCycles(classes, parameters: parameters)
        return (heloRestrictions, classes)
    }

    /// The `*_reject_code` parameters (validate() has already reported bad values).
    private static func replyCodes(_ parameters: Parameters) -> ReplyCodes {
        func code(_ name: String, _ fallback: Int) -> Int { KnownParameters.integer(parameters.value(name)) ?? fallback }
        var codes = ReplyCodes()
        codes.invalidHostname = code("invalid_hostname_reject_code", codes.invalidHostname)
        codes.nonFQDN = code("non_fqdn_reject_code", codes.nonFQDN)
        codes.unknownHostname = code("unknown_hostname_reject_code", codes.unknownHostname)
        codes.accessMapReject = code("access_map_reject_code", codes.accessMapReject)
        codes.accessMapDefer = code("access_map_defer_code", codes.accessMapDefer)
        codes.reject = code("reject_code", codes.reject)
        codes.defer = code("defer_code", codes.defer)
        codes.mapsRBLReject = code("maps_rbl_reject_code", codes.mapsRBLReject)
        codes.impersonation = code("impersonation_reject_code", codes.impersonation)
        codes.penaltyBox = code("penalty_box_reject_code", codes.penaltyBox)
        return codes
    }

    /// `dns_servers` and `dns_timeout`, with the timeout in whole seconds for the budget check.
    private static func dnsSettings(_ parameters: Parameters) -> (DNSSettings, timeoutSeconds: Int) {
        let servers = DNSServerList.parse(parameters.value("dns_servers")).servers
        let timeout = KnownParameters.timeInSeconds(parameters.value("dns_timeout")).flatMap { $0 > 0 ? $0 : nil } ?? 10
        return (DNSSettings(servers: servers.isEmpty ? nil : servers, timeoutMilliseconds: timeout * 1000), timeout)
    }

    /// Warnings for access-table results a milter cannot carry out. Postfix's `FILTER
    /// transport:destination` sets a content filter, which the milter protocol has no way to
    /// do: heloguard only logs it when it fires, so the message goes on unfiltered. `location`
    /// is where the table is named; the table's own line, when it has one, is in the message.
    static func unavailableActions(in table: any AccessTable, namedAt location: SourceLocation?) -> [ConfigDiagnostic] {
        table.resultTexts.compactMap { result in
            // The same first-word reading as at lookup time (case-insensitive).
            guard AccessAction(result.text).command == .filter else { return nil }
            let entry = result.line.map { "\(table.spec) line \($0)" } ?? table.spec
            return .warning(location,
                "\(entry): FILTER is not available to a milter: the message would be delivered without the content filter")
        }
    }

    /// Errors first, then by file and line.
    private static func sorted(_ diagnostics: [ConfigDiagnostic]) -> [ConfigDiagnostic] {
        diagnostics.enumerated().sorted { a, b in
            if a.element.severity != b.element.severity { return a.element.severity == .error }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// A class that names itself, directly or through other classes, would recurse until
    /// Postfix's limit; refuse it at load.
    private static func classCycles(_ classes: [String: [Restriction]], parameters: Parameters) -> [ConfigDiagnostic] {
        var result: [ConfigDiagnostic] = []
        for start in classes.keys.sorted() {
            var stack = [start]
            var seen: Set<String> = []
            while let name = stack.popLast() {
                for case .restrictionClass(let next) in classes[name] ?? [] {
                    if next == start {
                        result.append(.error(parameters.location(start), "restriction class \"\(start)\" refers to itself (through \"\(name)\")"))
                        stack.removeAll()
                        break
                    }
                    if seen.insert(next).inserted { stack.append(next) }
                }
            }
        }
        return result
    }

    /// `rbl_reply_maps` (a list of tables), `default_rbl_reply` (must expand, or Postfix would
    /// stop at the first listed client) and `smtpd_expansion_filter`. Templates in the tables
    /// that cannot be used are warnings: Postfix falls back to the default for them.
    /// (`open` records the tables' own diagnostics itself.)
    private static func rblReplySettings(
        _ parameters: Parameters, open: (String, SourceLocation?) throws(ConfigError) -> TableReference
    ) -> (RBLReplySettings, [ConfigDiagnostic]) {
        var diagnostics: [ConfigDiagnostic] = []
        let mapsLocation = parameters.location("rbl_reply_maps")
        var maps: [TableReference] = []
        for spec in PostfixList.tokens(parameters.value("rbl_reply_maps")) {
            guard spec.contains(":") else {
                diagnostics.append(.error(mapsLocation, "rbl_reply_maps: \"\(spec)\" is not a table (use type:name)"))
                continue
            }
            do throws(ConfigError) {
                let table = try open(spec, mapsLocation)
                maps.append(table)
                for result in table.table.resultTexts {
                    let problems = ReplyTemplate.rblTemplateProblems(result.text)
                    guard !problems.isEmpty else { continue }
                    let entry = result.line.map { "\(spec) line \($0)" } ?? spec
                    diagnostics.append(.warning(mapsLocation,
                        "\(entry): bad rbl reply template \"\(result.text)\" (\(problems.joined(separator: "; "))); default_rbl_reply is used instead"))
                }
            } catch {
                diagnostics += error.diagnostics
            }
        }
        let defaultTemplate = parameters.value("default_rbl_reply")
        let problems = ReplyTemplate.rblTemplateProblems(defaultTemplate)
        if !problems.isEmpty {
            diagnostics.append(.error(parameters.location("default_rbl_reply"),
                "bad default_rbl_reply template: \(problems.joined(separator: "; "))"))
        }
        let settings = RBLReplySettings(replyMaps: maps, defaultTemplate: defaultTemplate,
                                        expansionFilter: ExpansionFilter(postfixText: parameters.value("smtpd_expansion_filter")))
        return (settings, diagnostics)
    }

    /// Who "we" are: heloguard's `impersonation_*` parameters, then Postfix's configuration
    /// (`impersonation_postfix_config`, when the environment can read it), then, with
    /// `impersonation_check_dns = yes` and a resolver in the environment, what DNS says about
    /// those names. Without duplicates.
    private static func identityEntries(_ parameters: Parameters, environment: LoadEnvironment, dns: DNSSettings,
                                        diagnostics: inout [ConfigDiagnostic]) -> [IdentityEntry] {
        var entries = IdentitySources.configured(parameters, interfaces: environment.interfaces, diagnostics: &diagnostics)
        let postfixDirectory = parameters.value("impersonation_postfix_config")
        let postfixLocation = parameters.location("impersonation_postfix_config")
        if !postfixDirectory.isEmpty {
            if !postfixDirectory.hasPrefix("/") {
                diagnostics.append(.error(postfixLocation,
                    "impersonation_postfix_config = \(postfixDirectory): must be an absolute path (Postfix's configuration directory)"))
            } else if let reader = environment.postfix {
                entries += IdentitySources.postfix(directory: postfixDirectory, reader: reader, interfaces: environment.interfaces,
                                                   location: postfixLocation, diagnostics: &diagnostics)
            } else {
                diagnostics.append(.warning(postfixLocation,
                    "impersonation_postfix_config is not read by this tool; Postfix's names and addresses are left out here"))
            }
        }
        entries = IdentitySources.unique(entries)
        if KnownParameters.boolean(parameters.value("impersonation_check_dns")) == true,
           let makeResolver = environment.makeIdentityResolver {
            let resolver = makeResolver(dns)
            entries = IdentitySources.unique(entries + IdentitySources.resolved(
                entries, resolver: resolver, budgetMilliseconds: environment.identityDNSBudgetMilliseconds,
                location: parameters.location("impersonation_check_dns"), diagnostics: &diagnostics))
        }
        return entries
    }

    static func isLoopback(_ address: IPAddress) -> Bool {
        if address.family == .v4 { return address.bytes[0] == 127 }
        return address.bytes == [UInt8](repeating: 0, count: 15) + [1]
    }
}

extension NetworkList: ClientNetworkMatching {
    public func matchesClient(name: String, address: IPAddress?) -> TableLookup {
        guard let parsed = address else { return .notFound }
        switch matches(clientName: name, clientAddress: parsed) {
        case .matched: return .found(value: "mynetworks", line: nil)
        case .notMatched: return .notFound
        case .failed(let reason): return .failed(reason: reason)
        }
    }
}
