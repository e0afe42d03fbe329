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

    public init(
        hostnames: [String] = [], domains: [String] = [], addresses: [IPAddress] = [],
        replyText: String = "Host impersonates this server"
    ) {
        self.hostnames = hostnames
        self.domains = domains
        self.addresses = addresses
        self.replyText = replyText
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

    public init(
        heloRestrictions: [Restriction] = [], restrictionClasses: [String: [Restriction]] = [:],
        heloRequired: Bool = false, delayReject: Bool = true, softBounce: Bool = false,
        codes: ReplyCodes = ReplyCodes(), accessMapsMatchParentDomains: Bool = true,
        myNetworks: (any ClientNetworkMatching)? = nil,
        impersonation: ImpersonationIdentity = ImpersonationIdentity(),
        unknownHeloTempfailAction: TempfailAction = .deferIfPermit,
        nullAccessLookupKey: String = "<>", myOrigin: String = "localhost.localdomain",
        dns: DNSSettings = DNSSettings()
    ) {
        self.heloRestrictions = heloRestrictions
        self.restrictionClasses = restrictionClasses
        self.heloRequired = heloRequired
        self.delayReject = delayReject
        self.softBounce = softBounce
        self.codes = codes
        self.accessMapsMatchParentDomains = accessMapsMatchParentDomains
        self.myNetworks = myNetworks
        self.impersonation = impersonation
        self.unknownHeloTempfailAction = unknownHeloTempfailAction
        self.nullAccessLookupKey = nullAccessLookupKey
        self.myOrigin = myOrigin
        self.dns = dns
    }
}
