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
        let interfaces = environment.interfaces
        var fatal = parseDiagnostics
        var tolerated: [ConfigDiagnostic] = []
        let parameters = KnownParameters.parameters(from: mainCf, interfaces: interfaces)
        fatal += parameters.diagnostics
        fatal += KnownParameters.validate(parameters)

        var tables: [String: TableReference] = [:]
        func open(_ spec: String, _ location: SourceLocation?) throws(ConfigError) -> TableReference {
            if let cached = tables[spec] { return cached }
            let loaded = try TableLoader.open(spec, at: location)
            tolerated += loaded.diagnostics
            let reference = TableReference(spec: spec, table: loaded.table)
            tables[spec] = reference
            return reference
        }

        // Tables named in restriction lists are access tables: their results are actions.
        // Each is checked once, where it is first named as one.
        var checkedAccessTables: Set<String> = []
        func openAccessTable(_ spec: String, _ location: SourceLocation?) throws(ConfigError) -> TableReference {
            let reference = try open(spec, location)
            if checkedAccessTables.insert(spec).inserted {
                tolerated += unavailableActions(in: reference.table, namedAt: location)
            }
            return reference
        }

        // Restriction lists: the HELO list and every restriction class.
        let classNames = KnownParameters.restrictionClasses(parameters)
        let classSet = Set(classNames)
        func parseList(_ name: String) -> [Restriction] {
            let location = parameters.location(name)
            return RestrictionListParser.parseConfigured(
                parameters.value(name), location: location, classNames: classSet,
                openTable: { spec throws(ConfigError) in try openAccessTable(spec, location) }, diagnostics: &fatal)
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

        // Simple parameters; validate() has already reported bad values.
        func flag(_ name: String, _ fallback: Bool) -> Bool { KnownParameters.boolean(parameters.value(name)) ?? fallback }
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

        // mynetworks.
        let networksLocation = parameters.location("mynetworks")
        let (networks, networkDiagnostics) = NetworkList.parse(
            parameters.value("mynetworks"), location: networksLocation,
            parentMatchesSubdomains: KnownParameters.parentDomainMatchesSubdomains("mynetworks", in: parameters),
            openTable: { spec, location throws(ConfigError) in try open(spec, location).table })
        fatal += networkDiagnostics

        if parameters.isSet("smtpd_log_access_permit_actions") {
            fatal.append(.warning(parameters.location("smtpd_log_access_permit_actions"),
                                  "smtpd_log_access_permit_actions has no effect in this release of heloguard (permits are not logged)"))
        }
        let tempfail = TempfailAction(rawValue: parameters.value("unknown_helo_hostname_tempfail_action").lowercased()) ?? .deferIfPermit

        // DNS: dns_servers and dns_timeout (heloguard's own), dns_rr_list_limit.
        let servers = DNSServerList.parse(parameters.value("dns_servers")).servers
        let timeout = KnownParameters.timeInSeconds(parameters.value("dns_timeout")).flatMap { $0 > 0 ? $0 : nil } ?? 10
        let dns = DNSSettings(servers: servers.isEmpty ? nil : servers, timeoutMilliseconds: timeout * 1000)
        fatal += CommandTimeBudget.diagnostics(
            heloRestrictions: heloRestrictions, classes: classes, dnsTimeoutSeconds: timeout,
            listLocation: parameters.location("smtpd_helo_restrictions"), dnsTimeoutLocation: parameters.location("dns_timeout"))

        let identityEntries = identityEntries(parameters, environment: environment, dns: dns, diagnostics: &fatal)
        var impersonation = IdentitySources.identity(identityEntries, replyText: parameters.value("impersonation_reply_text"))
        impersonation.checkDNS = flag("impersonation_check_dns", false)
        let rrListLimit = KnownParameters.integer(parameters.value("dns_rr_list_limit")).flatMap { $0 > 0 ? $0 : nil } ?? 100

        // reject_rhsbl_helo replies: rbl_reply_maps, default_rbl_reply, smtpd_expansion_filter.
        let (rbl, rblDiagnostics) = rblReplySettings(parameters, open: open)
        fatal += rblDiagnostics

        let state = stateSettings(parameters, diagnostics: &fatal)

        let policy = PolicyConfig(
            heloRestrictions: heloRestrictions, restrictionClasses: classes,
            heloRequired: flag("smtpd_helo_required", false), delayReject: flag("smtpd_delay_reject", true),
            dryRun: flag("dry_run", false), softBounce: flag("soft_bounce", false), codes: codes,
            accessMapsMatchParentDomains: KnownParameters.parentDomainMatchesSubdomains("smtpd_access_maps", in: parameters),
            myNetworks: networks, impersonation: impersonation, unknownHeloTempfailAction: tempfail,
            nullAccessLookupKey: parameters.value("smtpd_null_access_lookup_key"),
            myOrigin: parameters.value("myorigin"), dns: dns, dnsRRListLimit: rrListLimit,
            rbl: rbl, myHostname: parameters.value("myhostname"),
            penalizeImpersonation: flag("penalize_impersonation", true), state: state)

        if fatal.contains(where: { $0.severity == .error }) {
            throw ConfigError(sorted(fatal + tolerated))
        }
        return LoadedConfiguration(policy: policy, parameters: parameters, diagnostics: sorted(fatal + tolerated),
                                   identity: identityEntries)
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

    /// `state_directory` (an absolute path), `state_database` (empty or a PostgreSQL URL, see ``PostgresURL``), `penalty_box_*` (the IPv6 prefix 32 to 128, the
    /// maximum time not shorter than the first) and `helo_log*`. validate() has already
    /// reported values of the wrong kind; these are the checks that need more than one value.
    private static func stateSettings(_ parameters: Parameters, diagnostics: inout [ConfigDiagnostic]) -> StateSettings {
        let defaults = StateSettings()
        func time(_ name: String, _ fallback: Int) -> Int {
            KnownParameters.timeInSeconds(parameters.value(name)).flatMap { $0 > 0 ? $0 : nil } ?? fallback
        }
        func count(_ name: String, _ fallback: Int) -> Int {
            KnownParameters.integer(parameters.value(name)).flatMap { $0 > 0 ? $0 : nil } ?? fallback
        }
        var settings = StateSettings(
            directory: parameters.value("state_directory"),
            database: parameters.value("state_database"),
            penaltyTTL: time("penalty_box_ttl", defaults.penaltyTTL),
            penaltyMaxTTL: time("penalty_box_max_ttl", defaults.penaltyMaxTTL),
            penaltyMaxEntries: count("penalty_box_max_entries", defaults.penaltyMaxEntries),
            ipv6PrefixLength: count("penalty_box_ipv6_prefix", defaults.ipv6PrefixLength),
            heloLog: KnownParameters.boolean(parameters.value("helo_log")) ?? defaults.heloLog,
            heloLogSample: count("helo_log_sample", defaults.heloLogSample),
            heloLogRetention: time("helo_log_retention", defaults.heloLogRetention),
            refreshInterval: time("penalty_box_refresh_interval", defaults.refreshInterval))
        if !settings.directory.hasPrefix("/") {
            diagnostics.append(.error(parameters.location("state_directory"),
                "state_directory = \(settings.directory): must be an absolute path"))
            settings.directory = defaults.directory
        }
        if !settings.database.isEmpty {
            do throws(PostgresURLError) {
                let url = try PostgresURL(parsing: settings.database)
                if let warning = url.unverifiedPasswordWarning {
                    diagnostics.append(.warning(parameters.location("state_database"), "state_database: \(warning)"))
                }
            } catch {
                diagnostics.append(.error(parameters.location("state_database"), "state_database: \(error)"))
                settings.database = defaults.database
            }
        }
        if !(32...128).contains(settings.ipv6PrefixLength) {
            diagnostics.append(.error(parameters.location("penalty_box_ipv6_prefix"),
                "penalty_box_ipv6_prefix = \(settings.ipv6PrefixLength): must be 32 to 128 (a shorter prefix would box whole providers)"))
            settings.ipv6PrefixLength = defaults.ipv6PrefixLength
        }
        if settings.penaltyMaxTTL < settings.penaltyTTL {
            diagnostics.append(.error(parameters.location("penalty_box_max_ttl") ?? parameters.location("penalty_box_ttl"),
                "penalty_box_max_ttl = \(parameters.value("penalty_box_max_ttl")) is shorter than penalty_box_ttl = \(parameters.value("penalty_box_ttl"))"))
        }
        return settings
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
    public func matchesClient(name: String, address: String) -> TableLookup {
        guard let parsed = IPAddress(address) else { return .notFound }
        switch matches(clientName: name, clientAddress: parsed) {
        case .matched: return .found(value: "mynetworks", line: nil)
        case .notMatched: return .notFound
        case .failed(let reason): return .failed(reason: reason)
        }
    }
}
