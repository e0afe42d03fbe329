import PostfixSyntax

/// One name or address `reject_impersonating_helo` counts as ours, with where it came from
/// (shown by `heloguard identity`).
public struct IdentityEntry: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Compared whole with the HELO name.
        case hostname
        /// Compared whole; with a leading dot also every subdomain.
        case domain
        /// Compared with a HELO written as an address (bare or in brackets).
        case address
    }

    public let kind: Kind
    public let value: String
    /// Where the entry came from, e.g. `impersonation_hostnames`, `postfix mydestination`,
    /// `postfix virtual_mailbox_domains hash:/etc/postfix/vdomains line 3`, `DNS MX of example.com`.
    public let source: String

    public init(_ kind: Kind, _ value: String, source: String) {
        self.kind = kind
        self.value = value
        self.source = source
    }

    public var description: String { "\(kind.rawValue) \(value) (\(source))" }
}

/// Why Postfix's configuration could not be read.
public struct PostfixReadError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// How the configuration loader reads Postfix's parameters for `impersonation_postfix_config`.
///
/// The rule core never starts a process itself: the application provides the reader that
/// runs `postconf -c DIR -x` (see `PostconfReader` in HeloGuard); tests may give fixed values.
public protocol PostfixConfigurationReader: Sendable {
    /// The values of `names` as Postfix reads them from the configuration directory
    /// `configDirectory`, with `$name` references expanded as Postfix expands them.
    func values(of names: [String], configDirectory: String) throws(PostfixReadError) -> [String: String]
}

/// What loading a configuration may use from outside the rule core. The default uses nothing:
/// no Postfix reader (`impersonation_postfix_config` then draws a warning) and no DNS at load.
public struct LoadEnvironment: Sendable {
    /// This machine's interface addresses (nil: ask the system).
    public var interfaces: [InterfaceAddress]?
    /// Reads Postfix's configuration for `impersonation_postfix_config`.
    public var postfix: (any PostfixConfigurationReader)?
    /// Makes the resolver that looks up our names at load when `impersonation_check_dns = yes`.
    /// It is dropped when the load is done (the application's one stops its threads then).
    public var makeIdentityResolver: (@Sendable (DNSSettings) -> any HeloResolver)?
    /// How long all of those lookups together may take; the names not asked by then are left
    /// out with a warning.
    public var identityDNSBudgetMilliseconds: Int
    /// Parameters of the same file that other modules own (the state store's), checked at load.
    public var sections: [any ConfigurationSection.Type]

    public init(interfaces: [InterfaceAddress]? = nil, postfix: (any PostfixConfigurationReader)? = nil,
                makeIdentityResolver: (@Sendable (DNSSettings) -> any HeloResolver)? = nil,
                identityDNSBudgetMilliseconds: Int = 30_000, sections: [any ConfigurationSection.Type] = []) {
        self.interfaces = interfaces
        self.postfix = postfix
        self.makeIdentityResolver = makeIdentityResolver
        self.identityDNSBudgetMilliseconds = identityDNSBudgetMilliseconds
        self.sections = sections
    }
}

/// Parameters of heloguard's configuration file that belong to a module the rule core does not
/// know (the state store's: `state_directory`, `state_database`, `penalty_box_*`, `helo_log*`).
/// ``KnownParameters`` still names them, gives their defaults and checks each value's kind; a
/// section checks what needs its own knowledge (a URL, values that depend on each other).
/// Pass the sections in ``LoadEnvironment/sections``: the loader adds their diagnostics to its
/// own, so a mistake refuses the configuration and shows its file:line like any other.
public protocol ConfigurationSection: SendableMetatype {
    /// The problems of the section's parameters, at their file:line.
    static func diagnostics(for parameters: Parameters) -> [ConfigDiagnostic]
}

/// Builds the list of ``IdentityEntry`` behind ``ImpersonationIdentity``: heloguard's own
/// `impersonation_*` parameters, Postfix's parameters (`impersonation_postfix_config`) and,
/// with `impersonation_check_dns = yes`, what DNS says about those names.
enum IdentitySources {
    /// Postfix parameters whose names are ours. `myhostname` is a host name; the others are
    /// domain lists (names, `type:table` whose keys are domains, `/file` of names).
    static let postfixHostnameParameters = ["myhostname"]
    static let postfixDomainParameters = ["mydomain", "mydestination", "virtual_alias_domains",
                                          "virtual_mailbox_domains", "relay_domains"]
    /// Postfix parameters whose addresses are ours. `$mynetworks` never is: those clients are
    /// permitted before this check anyway.
    static let postfixAddressParameters = ["inet_interfaces", "proxy_interfaces"]

    /// The names every host gives itself; a remote client that uses one does not claim to be us.
    static let genericNames: Set<String> = ["localhost", "localhost.localdomain"]

    /// `impersonation_hostnames`, `impersonation_domains`, `impersonation_addresses` (empty:
    /// every non-loopback address of this machine).
    static func configured(_ parameters: Parameters, interfaces: [InterfaceAddress]?,
                           diagnostics: inout [ConfigDiagnostic]) -> [IdentityEntry] {
        var entries = PostfixList.tokens(parameters.value("impersonation_hostnames"))
            .map { IdentityEntry(.hostname, $0, source: "impersonation_hostnames") }
        entries += PostfixList.tokens(parameters.value("impersonation_domains"))
            .map { IdentityEntry(.domain, $0, source: "impersonation_domains") }
        let addressText = parameters.value("impersonation_addresses")
        if addressText.isEmpty {
            entries += (interfaces ?? NetworkList.localInterfaces()).map(\.address)
                .filter { !ConfigurationLoader.isLoopback($0) }
                .map { IdentityEntry(.address, $0.description, source: "interface of this machine (impersonation_addresses is empty)") }
        } else {
            for item in PostfixList.tokens(addressText) {
                if let address = address(in: item) {
                    entries.append(IdentityEntry(.address, address.description, source: "impersonation_addresses"))
                } else {
                    diagnostics.append(.error(parameters.location("impersonation_addresses"),
                                              "impersonation_addresses: \"\(item)\" is not an IPv4 or IPv6 address"))
                }
            }
        }
        return entries
    }

    /// An address written bare, in brackets or with `IPv6:`.
    static func address(in item: String) -> IPAddress? {
        var text = item
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        if text.lowercased().hasPrefix("ipv6:") { text = String(text.dropFirst(5)) }
        return IPAddress(text)
    }

    /// The identity as the rule compares it, from `entries` (duplicates removed).
    static func identity(_ entries: [IdentityEntry], replyText: String) -> ImpersonationIdentity {
        var identity = ImpersonationIdentity(replyText: replyText)
        for entry in entries {
            switch entry.kind {
            case .hostname: identity.hostnames.append(entry.value)
            case .domain: identity.domains.append(entry.value)
            case .address: if let address = IPAddress(entry.value) { identity.addresses.append(address) }
            }
        }
        return identity
    }

    /// `entries` without repeats: names (host or domain: both are compared whole)
    /// case-insensitively without a trailing dot, addresses by value; the first source is kept.
    static func unique(_ entries: [IdentityEntry]) -> [IdentityEntry] {
        var seen: Set<String> = []
        return entries.filter { entry in
            let key: String
            switch entry.kind {
            case .address: key = "a " + (IPAddress(entry.value)?.description ?? entry.value)
            case .hostname, .domain: key = "n " + ImpersonationCheck.normalisedName(entry.value)
            }
            return seen.insert(key).inserted
        }
    }
}
