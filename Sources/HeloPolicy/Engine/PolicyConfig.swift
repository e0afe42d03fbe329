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

/// Decides whether a client belongs to `mynetworks`.
public protocol ClientNetworkMatching: Sendable {
    /// `address`: the client's, parsed (nil: not an IP address, which no list matches).
    func matchesClient(name: String, address: IPAddress?) -> TableLookup
}

/// An immutable snapshot of everything the rule core needs, built once from the configuration
/// file (every property is a `let`); a reload builds a new one and swaps it in whole.
///
/// A class, not a struct: nothing in it ever changes, and every session's engine and every
/// evaluation holds it, so sharing one reference costs one retain where a copy of some twenty
/// fields cost twenty.
public final class PolicyConfig: Sendable {
    public let heloRestrictions: [Restriction]
    /// `smtpd_restriction_classes`: class name → its parsed list.
    public let restrictionClasses: [String: [Restriction]]
    public let heloRequired: Bool
    public let delayReject: Bool
    /// `dry_run` (heloguard's own): refusals are logged as warnings, never given.
    public let dryRun: Bool
    public let softBounce: Bool
    public let codes: ReplyCodes
    /// True when `parent_domain_matches_subdomains` lists `smtpd_access_maps` (the default).
    public let accessMapsMatchParentDomains: Bool
    public let myNetworks: (any ClientNetworkMatching)?
    public let impersonation: ImpersonationIdentity
    public let unknownHeloTempfailAction: TempfailAction
    /// `smtpd_null_access_lookup_key`: the key `check_sender_access` uses for the null sender.
    public let nullAccessLookupKey: String
    /// `myorigin`: the domain Postfix appends to an address without one.
    public let myOrigin: String
    /// `dns_servers`, `dns_timeout`: where and how the DNS restrictions ask.
    public let dns: DNSSettings
    /// `dns_rr_list_limit`: how many server addresses `check_helo_{a,mx,ns}_access` looks at
    /// in one check before it gives up with a warning (Postfix: 100, built in).
    public let dnsRRListLimit: Int
    /// `rbl_reply_maps`, `default_rbl_reply`, `smtpd_expansion_filter`.
    public let rbl: RBLReplySettings
    /// `myhostname`, which reply templates may show as `$server_name`.
    public let myHostname: String
    /// `penalize_impersonation`: a refusal by `reject_impersonating_helo` boxes the client.
    /// (Where the box lives and how long it holds are the state side's: HeloState's `StateSettings`.)
    public let penalizeImpersonation: Bool

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
        penalizeImpersonation: Bool = true
    ) {
        self.penalizeImpersonation = penalizeImpersonation
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
