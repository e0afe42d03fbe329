/// Reply codes that administrators can change, with Postfix's parameter names and defaults.
public struct ReplyCodes: Sendable, Hashable {
    /// `invalid_hostname_reject_code`
    public var invalidHostname = 501
    /// `non_fqdn_reject_code`
    public var nonFQDN = 504
    /// `unknown_hostname_reject_code`
    public var unknownHostname = 450
    /// `access_map_reject_code`
    public var accessMapReject = 554
    /// `access_map_defer_code`
    public var accessMapDefer = 450
    /// `reject_code`
    public var reject = 554
    /// `defer_code`
    public var `defer` = 450
    /// `maps_rbl_reject_code`
    public var mapsRBLReject = 554
    /// `impersonation_reject_code` (heloguard's own)
    public var impersonation = 550
    /// `penalty_box_reject_code` (heloguard's own): `reject_penalized_client`'s refusals.
    public var penaltyBox = 550

    public init() {}
}

/// What `reject_unknown_helo_hostname` does when DNS fails temporarily
/// (`unknown_helo_hostname_tempfail_action`).
public enum TempfailAction: String, Sendable, Hashable {
    case deferIfPermit = "defer_if_permit"
    case `defer`
}

/// Who "we" are, for `reject_impersonating_helo`: our host names, our domains and our addresses.
public struct ImpersonationIdentity: Sendable, Hashable {
    /// Host names, compared whole and case-insensitively.
    public var hostnames: [String]
    /// Domains; an entry with a leading dot (`.example.com`) also covers every subdomain.
    public var domains: [String]
    public var addresses: [IPAddress]
    /// The reason text in the reply (`impersonation_reply_text`).
    public var replyText: String
    /// `impersonation_check_dns`: also refuse a HELO host name whose A or AAAA records point
    /// at one of our addresses (heloguard's own; default off).
    public var checkDNS: Bool

    public init(
        hostnames: [String] = [], domains: [String] = [], addresses: [IPAddress] = [],
        replyText: String = "Host impersonates this server", checkDNS: Bool = false
    ) {
        self.hostnames = hostnames
        self.domains = domains
        self.addresses = addresses
        self.replyText = replyText
        self.checkDNS = checkDNS
    }
}

/// How `reject_rhsbl_helo` words its refusal (Postfix's `rbl_reply_maps`, `default_rbl_reply`,
/// `smtpd_expansion_filter`).
public struct RBLReplySettings: Sendable {
    /// `rbl_reply_maps`: tables that map an RBL argument to a reply template, searched in order.
    public var replyMaps: [TableReference]
    /// `default_rbl_reply`: the template used when no table has one.
    public var defaultTemplate: String
    /// `smtpd_expansion_filter`: the characters a `$name` value may bring into a reply.
    public var expansionFilter: ExpansionFilter

    public init(
        replyMaps: [TableReference] = [], defaultTemplate: String = KnownParameters.defaultRBLReply,
        expansionFilter: ExpansionFilter = ExpansionFilter(postfixText: KnownParameters.defaultExpansionFilter)
    ) {
        self.replyMaps = replyMaps
        self.defaultTemplate = defaultTemplate
        self.expansionFilter = expansionFilter
    }
}

/// Memory across connections (heloguard's own parameters): where the state file lives, how the
/// penalty box keeps clients and what the HELO log records. Times are in seconds. The rule core
/// only carries these values; the application's state store applies them.
public struct StateSettings: Sendable, Hashable {
    /// The file name of the embedded store inside ``directory``.
    public static let databaseFileName = "heloguard.sqlite"

    /// `state_directory`: where the embedded store's file lives.
    public var directory: String
    /// `state_database`: empty for the embedded store, else a `postgresql://` (or `postgres://`)
    /// URL of a database shared by several hosts.
    public var database: String
    /// `penalty_box_ttl`: how long a first offence boxes a client.
    public var penaltyTTL: Int
    /// `penalty_box_max_ttl`: the longest a repeat offence boxes a client.
    public var penaltyMaxTTL: Int
    /// `penalty_box_max_entries`: the most entries the box holds.
    public var penaltyMaxEntries: Int
    /// `penalty_box_ipv6_prefix`: IPv6 clients are boxed by networks of this many bits.
    public var ipv6PrefixLength: Int
    /// `helo_log`: record each connection's HELO and verdict.
    public var heloLog: Bool
    /// `helo_log_sample`: record one connection in this many (1: every one).
    public var heloLogSample: Int
    /// `helo_log_retention`: how long HELO log records are kept.
    public var heloLogRetention: Int
    /// `penalty_box_refresh_interval`, in seconds: how often the in-memory box is reloaded from
    /// the store (with a shared database: how fast a client boxed by one host is refused by the others).
    public var refreshInterval: Int

    public init(
        directory: String = "/var/lib/heloguard", database: String = "", penaltyTTL: Int = 86_400, penaltyMaxTTL: Int = 7 * 86_400,
        penaltyMaxEntries: Int = 100_000, ipv6PrefixLength: Int = 64, heloLog: Bool = true,
        heloLogSample: Int = 1, heloLogRetention: Int = 30 * 86_400, refreshInterval: Int = 10
    ) {
        self.directory = directory
        self.database = database
        self.penaltyTTL = penaltyTTL
        self.penaltyMaxTTL = penaltyMaxTTL
        self.penaltyMaxEntries = penaltyMaxEntries
        self.ipv6PrefixLength = ipv6PrefixLength
        self.heloLog = heloLog
        self.heloLogSample = heloLogSample
        self.heloLogRetention = heloLogRetention
        self.refreshInterval = refreshInterval
    }

    /// True when `state_database` names a PostgreSQL database rather than the embedded file.
    public var usesSharedDatabase: Bool { !database.isEmpty }

    /// ``database`` parsed; nil for the embedded store (or a URL the loader has refused).
    public var sharedDatabaseURL: PostgresURL? {
        usesSharedDatabase ? try? PostgresURL(parsing: database) : nil
    }

    /// The URL schemes `state_database` accepts.
    public static let databaseSchemes = ["postgresql", "postgres"]

    /// The embedded store's file: ``directory``/``databaseFileName``.
    public var databasePath: String {
        directory.hasSuffix("/") ? directory + Self.databaseFileName : directory + "/" + Self.databaseFileName
    }
}

/// Decides whether a client belongs to `mynetworks`.
public protocol ClientNetworkMatching: Sendable {
    func matchesClient(name: String, address: String) -> TableLookup
}

/// An immutable snapshot of everything the rule core needs, built once from the configuration
/// file; a reload builds a new one and swaps it in whole.
public struct PolicyConfig: Sendable {
    public var heloRestrictions: [Restriction]
    /// `smtpd_restriction_classes`: class name → its parsed list.
    public var restrictionClasses: [String: [Restriction]]
    public var heloRequired: Bool
    public var delayReject: Bool
    /// `dry_run` (heloguard's own): refusals are logged as warnings, never given.
    public var dryRun: Bool
    public var softBounce: Bool
    public var codes: ReplyCodes
    /// True when `parent_domain_matches_subdomains` lists `smtpd_access_maps` (the default).
    public var accessMapsMatchParentDomains: Bool
    public var myNetworks: (any ClientNetworkMatching)?
    public var impersonation: ImpersonationIdentity
    public var unknownHeloTempfailAction: TempfailAction
    /// `smtpd_null_access_lookup_key`: the key `check_sender_access` uses for the null sender.
    public var nullAccessLookupKey: String
    /// `myorigin`: the domain Postfix appends to an address without one.
    public var myOrigin: String
    /// `dns_servers`, `dns_timeout`: where and how the DNS restrictions ask.
    public var dns: DNSSettings
    /// `dns_rr_list_limit`: how many server addresses `check_helo_{a,mx,ns}_access` looks at
    /// in one check before it gives up with a warning (Postfix: 100, built in).
    public var dnsRRListLimit: Int
    /// `rbl_reply_maps`, `default_rbl_reply`, `smtpd_expansion_filter`.
    public var rbl: RBLReplySettings
    /// `myhostname`, which reply templates may show as `$server_name`.
    public var myHostname: String
    /// `penalize_impersonation`: a refusal by `reject_impersonating_helo` boxes the client.
    public var penalizeImpersonation: Bool
    /// `state_directory`, `penalty_box_*`, `helo_log*`.
    public var state: StateSettings

    public init(
        heloRestrictions: [Restriction] = [], restrictionClasses: [String: [Restriction]] = [:],
        heloRequired: Bool = false, delayReject: Bool = true, dryRun: Bool = false, softBounce: Bool = false,
        codes: ReplyCodes = ReplyCodes(), accessMapsMatchParentDomains: Bool = true,
        myNetworks: (any ClientNetworkMatching)? = nil,
        impersonation: ImpersonationIdentity = ImpersonationIdentity(),
        unknownHeloTempfailAction: TempfailAction = .deferIfPermit,
        nullAccessLookupKey: String = "<>", myOrigin: String = "localhost.localdomain",
        dns: DNSSettings = DNSSettings(), dnsRRListLimit: Int = 100,
        rbl: RBLReplySettings = RBLReplySettings(), myHostname: String = "localhost.localdomain",
        penalizeImpersonation: Bool = true, state: StateSettings = StateSettings()
    ) {
        self.penalizeImpersonation = penalizeImpersonation
        self.state = state
        self.heloRestrictions = heloRestrictions
        self.restrictionClasses = restrictionClasses
        self.heloRequired = heloRequired
        self.delayReject = delayReject
        self.dryRun = dryRun
        self.softBounce = softBounce
        self.codes = codes
        self.accessMapsMatchParentDomains = accessMapsMatchParentDomains
        self.myNetworks = myNetworks
        self.impersonation = impersonation
        self.unknownHeloTempfailAction = unknownHeloTempfailAction
        self.nullAccessLookupKey = nullAccessLookupKey
        self.myOrigin = myOrigin
        self.dns = dns
        self.dnsRRListLimit = dnsRRListLimit
        self.rbl = rbl
        self.myHostname = myHostname
    }
}

extension PolicyConfig {
    /// True when the HELO list or a restriction class names a restriction that asks DNS. A
    /// table result naming one is not seen here; its questions are asked when it fires.
    public var namesDNSRestrictions: Bool {
        let lists = [heloRestrictions] + Array(restrictionClasses.values)
        return lists.contains { list in list.contains { $0.needsDNS(impersonationChecksDNS: impersonation.checkDNS) } }
    }
}
