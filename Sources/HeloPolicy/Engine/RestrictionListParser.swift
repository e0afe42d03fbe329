import PostfixSyntax

/// Turns restriction-list text into ``Restriction`` values: once at load time for the lists in
/// the configuration (where every problem is a diagnostic naming file and line), and at run time
/// for access-table results that name restrictions (where a problem becomes Postfix's
/// `451 4.3.5 Server configuration error` when it is reached).
public enum RestrictionListParser {
    /// Restrictions Postfix has that heloguard refuses at load, with the reason.
    static let unsupported: [String: String] = {
        var reasons: [String: String] = [
            "reject_unauth_pipelining": "a milter cannot see Postfix's pipelining flag; keep it in Postfix's own smtpd_helo_restrictions",
            "check_policy_service": "policy servers are consulted by Postfix itself; keep it in Postfix's own restriction lists",
            "reject_plaintext_session": "a milter cannot see whether the session uses TLS; keep it in Postfix's own restriction lists",
            "permit_tls_clientcerts": "a milter cannot verify client certificates; keep it in Postfix's own restriction lists",
            "permit_tls_all_clientcerts": "a milter cannot verify client certificates; keep it in Postfix's own restriction lists",
            "check_ccert_access": "a milter cannot verify client certificates; keep it in Postfix's own restriction lists",
            "check_sasl_access": "not implemented by heloguard; keep it in Postfix's own restriction lists",
            "permit_inet_interfaces": "not implemented by heloguard; use permit_mynetworks",
            "permit_mx_backup": "recipient routing is Postfix's business; keep it in Postfix's own restriction lists",
            "permit_auth_destination": "recipient routing is Postfix's business; keep it in smtpd_relay_restrictions",
            "reject_unauth_destination": "recipient routing is Postfix's business; keep it in smtpd_relay_restrictions",
            "defer_unauth_destination": "recipient routing is Postfix's business; keep it in smtpd_relay_restrictions",
            "check_relay_domains": "recipient routing is Postfix's business; keep it in smtpd_relay_restrictions",
            "reject_unlisted_recipient": "recipient validation is Postfix's business; keep it in smtpd_recipient_restrictions",
            "reject_unlisted_sender": "sender validation is Postfix's business; keep it in smtpd_sender_restrictions",
            "check_recipient_maps": "recipient validation is Postfix's business; keep it in smtpd_recipient_restrictions",
            "reject_unverified_recipient": "address verification is Postfix's business",
            "reject_unverified_sender": "address verification is Postfix's business",
            "reject_multi_recipient_bounce": "not implemented by heloguard; keep it in Postfix's own restriction lists",
        ]
        for name in [
            "reject_unknown_client_hostname", "reject_unknown_client", "reject_unknown_reverse_client_hostname",
            "reject_unknown_forward_client_hostname", "reject_rbl_client", "reject_rbl", "reject_maps_rbl",
            "permit_dnswl_client", "reject_rhsbl_client", "permit_rhswl_client", "reject_rhsbl_reverse_client",
            "reject_rhsbl_sender", "reject_rhsbl_recipient", "check_client_a_access", "check_client_mx_access",
            "check_client_ns_access", "check_reverse_client_hostname_access", "check_reverse_client_hostname_a_access",
            "check_reverse_client_hostname_mx_access", "check_reverse_client_hostname_ns_access",
            "check_sender_a_access", "check_sender_mx_access", "check_sender_ns_access",
            "check_recipient_a_access", "check_recipient_mx_access", "check_recipient_ns_access",
            "reject_unknown_sender_domain", "reject_unknown_recipient_domain", "reject_unknown_address",
            "reject_non_fqdn_sender", "reject_non_fqdn_recipient", "reject_sender_login_mismatch",
            "reject_authenticated_sender_login_mismatch", "reject_known_sender_login_mismatch",
            "reject_unauthenticated_sender_login_mismatch", "check_etrn_access", "check_address_map",
        ] where reasons[name] == nil {
            reasons[name] = "not a HELO check; heloguard leaves it to Postfix's own restriction lists"
        }
        return reasons
    }()

    /// Restriction names that take a `type:table` argument.
    static func tableCommand(_ name: RestrictionName) -> ((TableReference) -> Restriction)? {
        switch name {
        case .checkClientAccess: return { .checkClientAccess($0) }
        case .checkHeloAccess: return { .checkHeloAccess($0) }
        case .checkSenderAccess: return { .checkSenderAccess($0) }
        case .checkRecipientAccess: return { .checkRecipientAccess($0) }
        case .checkHeloAAccess: return { .checkHeloServerAccess(.a, $0) }
        case .checkHeloMXAccess: return { .checkHeloServerAccess(.mx, $0) }
        case .checkHeloNSAccess: return { .checkHeloServerAccess(.ns, $0) }
        default: return nil
        }
    }

    /// Parses a list from the configuration. Tables are opened through `openTable`; every
    /// problem is reported in `diagnostics` with `location`.
    public static func parseConfigured(
        _ text: String, location: SourceLocation?, classNames: Set<String>,
        openTable: (String) throws(ConfigError) -> TableReference,
        diagnostics: inout [ConfigDiagnostic]
    ) -> [Restriction] {
        var collected: [ConfigDiagnostic] = []
        let result = parse(PostfixList.tokens(text), isClass: classNames.contains) { problem, restriction in
            if let message = problem {
                collected.append(.error(location, message))
                return nil
            }
            if case .deprecated(let message) = restriction {
                collected.append(.warning(location, message))
                return .permitNakedIPAddress
            }
            if case .table(let make, let spec) = restriction {
                do throws(ConfigError) {
                    return make(try openTable(spec))
                } catch {
                    collected.append(contentsOf: error.diagnostics)
                    return nil
                }
            }
            return restriction.restriction
        }
        diagnostics += collected
        return result
    }

    /// Parses the restriction names in an access-table result. Tables cannot be named there
    /// (the caller refuses values with `:` before calling); a problem becomes a `.serverError`
    /// item that ends the list, which Postfix answers with `451 4.3.5` when it is reached.
    static func parseTableResult(_ items: [String], isClass: (String) -> Bool) -> [Restriction] {
        var stopped = false
        return parse(items, isClass: isClass) { problem, restriction in
            if stopped { return nil }
            if let problem {
                stopped = true
                return .serverError(why: problem)
            }
            if case .table(_, let spec) = restriction {
                stopped = true
                return .serverError(why: "do not specify lookup tables inside SMTPD access maps: \(spec)")
            }
            if case .deprecated = restriction { return .permitNakedIPAddress }
            return restriction.restriction
        }
    }

    /// One item as the shared parser sees it, before the caller decides what to do with it.
    private enum Parsed {
        case ready(Restriction)
        case table((TableReference) -> Restriction, spec: String)
        case deprecated(String)

        var restriction: Restriction? {
            if case .ready(let restriction) = self { return restriction }
            return nil
        }
    }

    /// The grammar shared by both entry points: names with their arguments, classes, a bare
    /// `type:table`. `accept` gets either a problem text or a parsed item and returns what to
    /// add to the list (nil: nothing).
    private static func parse(
        _ items: [String], isClass: (String) -> Bool,
        accept: (String?, Parsed) -> Restriction?
    ) -> [Restriction] {
        var result: [Restriction] = []
        var index = 0
        func add(_ problem: String?, _ parsed: Parsed = .ready(.permit)) {
            if let restriction = accept(problem, parsed) { result.append(restriction) }
        }
        while index < items.count {
            let token = items[index]
            index += 1
            if isClass(token) {
                add(nil, .ready(.restrictionClass(token)))
                continue
            }
            var tableArgument: String? = nil
            var name = RestrictionName(caseInsensitive: token)
            if name == nil && token.contains(":") {
                // A bare table is short for check_helo_access in the HELO list.
                name = .checkHeloAccess
                tableArgument = token
            }
            guard let name else {
                if let why = unsupported[token.lowercased()] {
                    add("restriction \"\(token)\" is not supported by heloguard: \(why)")
                } else {
                    add("unknown restriction \"\(token)\"")
                }
                continue
            }
            if let make = tableCommand(name) {
                if tableArgument == nil, index < items.count, items[index].contains(":") {
                    tableArgument = items[index]
                    index += 1
                }
                guard let spec = tableArgument else {
                    let shown = index < items.count ? items[index] : ""
                    add("restriction \(name.rawValue): bad argument \"\(shown)\": need maptype:mapname")
                    continue
                }
                add(nil, .table(make, spec: spec))
                continue
            }
            switch name {
            case .sleep:
                if index < items.count, let seconds = Int(items[index]), items[index].allSatisfy({ $0.isASCII && $0.isNumber }) {
                    index += 1
                    if seconds > CommandTimeBudget.seconds {
                        add("restriction sleep \(seconds): at most \(CommandTimeBudget.seconds) seconds, so that heloguard answers "
                            + "before Postfix's milter_command_timeout (\(CommandTimeBudget.milterCommandTimeout) s) gives up on it")
                    } else {
                        add(nil, .ready(.sleep(seconds: seconds)))
                    }
                } else {
                    add("restriction sleep must be followed by a number of seconds")
                }
            case .rejectRHSBLHelo:
                if index < items.count {
                    let list = RHSBLDomain(items[index])
                    index += 1
                    if let problem = list.patternError {
                        add("restriction reject_rhsbl_helo \(list.argument): \(problem)")
                    } else {
                        add(nil, .ready(.rejectRHSBLHelo(list)))
                    }
                } else {
                    add("restriction reject_rhsbl_helo requires a domain name argument")
                }
            case .permitNakedIPAddress:
                add(nil, .deprecated("permit_naked_ip_address is deprecated (Postfix 3.9 removed it); it permits every bare IP address HELO"))
            default:
                add(nil, .ready(simple(name)))
            }
        }
        return result
    }

    private static func simple(_ name: RestrictionName) -> Restriction {
        switch name {
        case .permit: return .permit
        case .reject: return .reject
        case .defer: return .defer
        case .deferIfPermit: return .deferIfPermit
        case .deferIfReject: return .deferIfReject
        case .warnIfReject: return .warnIfReject
        case .permitMynetworks: return .permitMynetworks
        case .permitSaslAuthenticated: return .permitSaslAuthenticated
        case .rejectInvalidHeloHostname, .rejectInvalidHostname: return .rejectInvalidHeloHostname
        case .rejectNonFQDNHeloHostname, .rejectNonFQDNHostname: return .rejectNonFQDNHeloHostname
        case .rejectUnknownHeloHostname, .rejectUnknownHostname: return .rejectUnknownHeloHostname
        case .permitNakedIPAddress: return .permitNakedIPAddress
        case .rejectImpersonatingHelo: return .rejectImpersonatingHelo
        case .rejectPenalizedClient: return .rejectPenalizedClient
        case .penalizeClient: return .penalizeClient
        case .sleep, .rejectRHSBLHelo, .checkClientAccess, .checkHeloAccess, .checkSenderAccess,
             .checkRecipientAccess, .checkHeloAAccess, .checkHeloMXAccess, .checkHeloNSAccess:
            return .serverError(why: "restriction \(name.rawValue) needs an argument")
        }
    }
}
