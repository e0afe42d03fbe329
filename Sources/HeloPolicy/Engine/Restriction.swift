/// The restriction names heloguard understands inside `smtpd_helo_restrictions`, spelled as in
/// Postfix. Matching is case-insensitive, as in Postfix.
public enum RestrictionName: String, Sendable, CaseIterable {
    case permit
    case reject
    case `defer`
    case deferIfPermit = "defer_if_permit"
    case deferIfReject = "defer_if_reject"
    case warnIfReject = "warn_if_reject"
    case sleep
    case permitMynetworks = "permit_mynetworks"
    case permitSaslAuthenticated = "permit_sasl_authenticated"
    case checkClientAccess = "check_client_access"
    case checkHeloAccess = "check_helo_access"
    case checkSenderAccess = "check_sender_access"
    case checkRecipientAccess = "check_recipient_access"
    case checkHeloAAccess = "check_helo_a_access"
    case checkHeloMXAccess = "check_helo_mx_access"
    case checkHeloNSAccess = "check_helo_ns_access"
    case rejectInvalidHeloHostname = "reject_invalid_helo_hostname"
    case rejectInvalidHostname = "reject_invalid_hostname"
    case rejectNonFQDNHeloHostname = "reject_non_fqdn_helo_hostname"
    case rejectNonFQDNHostname = "reject_non_fqdn_hostname"
    case rejectUnknownHeloHostname = "reject_unknown_helo_hostname"
    case rejectUnknownHostname = "reject_unknown_hostname"
    case rejectRHSBLHelo = "reject_rhsbl_helo"
    case permitNakedIPAddress = "permit_naked_ip_address"
    case rejectImpersonatingHelo = "reject_impersonating_helo"
    case rejectPenalizedClient = "reject_penalized_client"
    case penalizeClient = "penalize_client"

    /// Looks a name up case-insensitively.
    public init?(caseInsensitive name: String) {
        self.init(rawValue: name.lowercased())
    }
}

/// One parsed item of a restriction list. Lists are parsed once, when the configuration is
/// loaded; access-table results that name restrictions are parsed when they are found.
public indirect enum Restriction: Sendable, CustomStringConvertible {
    case permit
    case reject
    case `defer`
    case deferIfPermit
    case deferIfReject
    /// A prefix: the next restriction only logs what it would have rejected.
    case warnIfReject
    case sleep(seconds: Int)
    case permitMynetworks
    case permitSaslAuthenticated
    case checkClientAccess(TableReference)
    case checkHeloAccess(TableReference)
    case checkSenderAccess(TableReference)
    case checkRecipientAccess(TableReference)
    case checkHeloServerAccess(ServerKind, TableReference)
    case rejectInvalidHeloHostname
    case rejectNonFQDNHeloHostname
    case rejectUnknownHeloHostname
    case rejectRHSBLHelo(RHSBLDomain)
    case permitNakedIPAddress
    case rejectImpersonatingHelo
    /// Refuses a client that is in the penalty box (heloguard's own).
    case rejectPenalizedClient
    /// Marks the evaluation: its next permanent refusal boxes the client (heloguard's own).
    case penalizeClient
    /// A name listed in `smtpd_restriction_classes`; expands to that class's list in place.
    case restrictionClass(String)
    /// Something Postfix answers with `451 4.3.5 Server configuration error` when it is reached
    /// (an unknown name in a table result, a missing argument); `why` is logged.
    case serverError(why: String)

    /// The kind of servers `check_helo_{a,mx,ns}_access` looks at.
    public enum ServerKind: String, Sendable {
        case a = "A"
        case mx = "MX"
        case ns = "NS"
    }

    public var description: String {
        switch self {
        case .permit: return "permit"
        case .reject: return "reject"
        case .defer: return "defer"
        case .deferIfPermit: return "defer_if_permit"
        case .deferIfReject: return "defer_if_reject"
        case .warnIfReject: return "warn_if_reject"
        case .sleep(let seconds): return "sleep \(seconds)"
        case .permitMynetworks: return "permit_mynetworks"
        case .permitSaslAuthenticated: return "permit_sasl_authenticated"
        case .checkClientAccess(let t): return "check_client_access \(t.spec)"
        case .checkHeloAccess(let t): return "check_helo_access \(t.spec)"
        case .checkSenderAccess(let t): return "check_sender_access \(t.spec)"
        case .checkRecipientAccess(let t): return "check_recipient_access \(t.spec)"
        case .checkHeloServerAccess(let kind, let t):
            return "check_helo_\(kind.rawValue.lowercased())_access \(t.spec)"
        case .rejectInvalidHeloHostname: return "reject_invalid_helo_hostname"
        case .rejectNonFQDNHeloHostname: return "reject_non_fqdn_helo_hostname"
        case .rejectUnknownHeloHostname: return "reject_unknown_helo_hostname"
        case .rejectRHSBLHelo(let d): return "reject_rhsbl_helo \(d.argument)"
        case .permitNakedIPAddress: return "permit_naked_ip_address"
        case .rejectImpersonatingHelo: return "reject_impersonating_helo"
        case .rejectPenalizedClient: return "reject_penalized_client"
        case .penalizeClient: return "penalize_client"
        case .restrictionClass(let name): return name
        case .serverError(let why): return "(error: \(why))"
        }
    }

    /// True for restrictions that ask DNS (`reject_impersonating_helo` only when
    /// `impersonation_check_dns` is on).
    func needsDNS(impersonationChecksDNS: Bool) -> Bool {
        switch self {
        case .rejectUnknownHeloHostname, .checkHeloServerAccess, .rejectRHSBLHelo: return true
        case .rejectImpersonatingHelo: return impersonationChecksDNS
        default: return false
        }
    }
}

/// A table named in a restriction, opened when the configuration was loaded.
public struct TableReference: Sendable {
    public let spec: String
    public let table: any AccessTable

    public init(spec: String, table: any AccessTable) {
        self.spec = spec
        self.table = table
    }
}

/// The argument of `reject_rhsbl_helo`: `rbl.domain` or `rbl.domain=127.0.0.[2..11]`.
public struct RHSBLDomain: Sendable, Hashable {
    /// The whole argument as written, the first key for `rbl_reply_maps`.
    public let argument: String
    /// The text before the first `=`: the block list's domain (`$rbl_domain`).
    public let domain: String
    /// The text after the first `=`, if any: which A records count.
    public let filter: String?
    /// The filter, parsed; nil when there is none.
    public let pattern: Result<IPMatchPattern, IPMatchPattern.SyntaxError>?

    public init(_ argument: String) {
        self.argument = argument
        if let equals = argument.firstIndex(of: "=") {
            domain = String(argument[..<equals])
            let filter = String(argument[argument.index(after: equals)...])
            self.filter = filter
            pattern = IPMatchPattern.parse(filter)
        } else {
            domain = argument
            filter = nil
            pattern = nil
        }
    }

    /// Why the filter cannot be used (Postfix stops with "RBL reply error"), or nil.
    public var patternError: String? {
        if case .failure(let error)? = pattern { return "RBL reply error: \(error)" }
        return nil
    }
}
