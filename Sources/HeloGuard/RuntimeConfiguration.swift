import HeloDNS
import HeloPolicy
import HeloState
import MilterKit
import Locking

/// One loaded configuration: the parsed parameters, the policy, the resolver its DNS
/// restrictions ask and the penalty box. Immutable; a reload makes a new one, and each
/// connection keeps the one it started with (and makes its own engine from it).
public final class RuntimeConfiguration: Sendable {
    public let path: String
    public let loaded: LoadedConfiguration
    /// The shared resolver (one libunbound context and cache for every connection).
    public let resolver: any HeloResolver
    /// Counts loads since start (1 = the configuration read at start).
    public let generation: Int
    /// What connections under this configuration ask of the MTA; worked out once, not per connection.
    public let negotiation: MilterNegotiation
    /// The penalty box and the HELO log (shared across reloads while their settings stay).
    public let penalties: PenaltyService
    /// True when the restriction lists ask DNS: only then is the list run ahead at HELO.
    public let asksDNSAtHelo: Bool
    /// True when no recipient can change the answer found at MAIL FROM (``RecipientDependence``):
    /// a plain acceptance is then answered there, for the whole message.
    public let acceptsAtMail: Bool

    public init(path: String, loaded: LoadedConfiguration, generation: Int, resolver: ResolverSetup,
                penalties: PenaltyService) {
        self.path = path
        self.loaded = loaded
        self.resolver = resolver.resolver
        self.penalties = penalties
        self.asksDNSAtHelo = loaded.policy.namesDNSRestrictions
        self.generation = generation
        self.acceptsAtMail = RecipientDependence(loaded.policy).isIndependent
        self.negotiation = HeloGuardFactory.negotiation(for: loaded.policy, acceptsAtMail: acceptsAtMail)
    }

    /// A configuration whose DNS restrictions use `resolver` (tests, tools); with no penalty
    /// service given, the box lives in memory only and the HELO log goes nowhere.
    public convenience init(path: String, loaded: LoadedConfiguration, generation: Int, resolver: any HeloResolver,
                            penalties: PenaltyService? = nil) {
        self.init(path: path, loaded: loaded, generation: generation,
                  resolver: ResolverSetup(resolver: resolver, settings: loaded.policy.dns),
                  penalties: penalties ?? PenaltyService.inMemory(settings: loaded.state))
    }

    public var policy: PolicyConfig { loaded.policy }

    /// An engine for one SMTP session: the same policy, with DNS answers kept for the session.
    func sessionEngine() -> (HeloPolicyEngine, SessionResolver) {
        let cache = SessionResolver(upstream: resolver, timeoutMilliseconds: loaded.policy.dns.timeoutMilliseconds)
        return (HeloPolicyEngine(config: loaded.policy, resolver: cache, penalties: penalties), cache)
    }
}

/// A resolver made for some DNS settings.
public struct ResolverSetup: Sendable {
    public let resolver: any HeloResolver
    public let settings: DNSSettings

    public init(resolver: any HeloResolver, settings: DNSSettings) {
        self.resolver = resolver
        self.settings = settings
    }

    /// The real resolver on libunbound, made at its first use (see ``SharedResolver``).
    public static func unbound(_ settings: DNSSettings) -> ResolverSetup {
        ResolverSetup(resolver: SharedResolver(settings: settings), settings: settings)
    }
}

/// The libunbound resolver all connections share, created when it is first needed rather than
/// when the configuration is read: the service reads its configuration before it detaches
/// (fork), and threads started before a fork do not exist in the child. When libunbound
/// refuses the settings, every question fails temporarily instead (DNS restrictions then
/// defer, as with DNS down) and ``problem`` says why.
public final class SharedResolver: HeloResolver {
    public let settings: DNSSettings
    private let made = Locked<(resolver: any HeloResolver, problem: String?)?>(nil)

    public init(settings: DNSSettings) {
        self.settings = settings
    }

    /// Creates the resolver now if it does not exist yet; nil when it works.
    @discardableResult
    public func prepare() -> String? {
        current().problem
    }

    /// True when the resolver was made and libunbound refused the settings.
    public var hasFailed: Bool { made.withLock { $0?.problem != nil } }

    public func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        current().resolver.lookup(name, type: type)
    }

    private func current() -> (resolver: any HeloResolver, problem: String?) {
        made.withLock { made in
            if let made { return made }
            let result: (resolver: any HeloResolver, problem: String?)
            do {
                result = (try UnboundResolver(settings: settings), nil)
            } catch {
                let why = "cannot set up the DNS resolver: \(error)"
                result = (BrokenResolver(reason: why), why)
            }
            made = result
            return result
        }
    }
}

/// Stands in for a resolver that could not be set up: every question fails temporarily.
struct BrokenResolver: HeloResolver {
    let reason: String
    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer { .temporaryFailure(reason) }
}

/// Holds the current configuration and swaps in a new one atomically on reload. A configuration
/// that fails to load is refused and the current one stays. The resolver (and its cache) is
/// kept across reloads unless `dns_servers` or `dns_timeout` changed; the penalty service (its
/// box, store and threads) unless a `state_directory`, `state_database`, `penalty_box_*` or
/// `helo_log*` setting changed, in which case the old one is flushed and closed.
public final class ConfigurationStore: Sendable {
    public let path: String
    private let state: Locked<RuntimeConfiguration>
    private let loader: @Sendable (String) throws(ConfigError) -> LoadedConfiguration
    private let makeResolver: @Sendable (DNSSettings) -> ResolverSetup
    private let makePenalties: @Sendable (StateSettings) -> PenaltyService

    /// Loads `path` now (by default with ``LoadEnvironment/system``, so that a reload also
    /// re-reads Postfix's configuration); throws when it cannot be used. `makePenalties` makes the penalty
    /// service for a configuration's state settings (by default one on the store they name,
    /// logging to standard error; it touches the disk or the network only once started).
    public init(path: String,
                loader: @escaping @Sendable (String) throws(ConfigError) -> LoadedConfiguration = { path throws(ConfigError) in
                    try ConfigurationLoader.load(path: path, environment: .system)
                },
                makeResolver: @escaping @Sendable (DNSSettings) -> ResolverSetup = ResolverSetup.unbound,
                makePenalties: @escaping @Sendable (StateSettings) -> PenaltyService = { PenaltyService(settings: $0, log: StderrLog()) }
    ) throws(ConfigError) {
        self.path = path
        self.loader = loader
        self.makeResolver = makeResolver
        self.makePenalties = makePenalties
        let loaded = try loader(path)
        let first = RuntimeConfiguration(path: path, loaded: loaded, generation: 1, resolver: makeResolver(loaded.policy.dns),
                                         penalties: makePenalties(loaded.state))
        state = Locked(first)
    }

    public var current: RuntimeConfiguration {
        state.withLock { $0 }
    }

    /// Reads the file again (tables included). On success the new configuration serves every
    /// connection that starts from now on; on failure nothing changes and the error is thrown.
    @discardableResult
    public func reload() throws(ConfigError) -> RuntimeConfiguration {
        let loaded = try loader(path)
        let previous = current
        let reusable = previous.policy.dns == loaded.policy.dns && !((previous.resolver as? SharedResolver)?.hasFailed ?? false)
        let setup = reusable
            ? ResolverSetup(resolver: previous.resolver, settings: loaded.policy.dns)
            : makeResolver(loaded.policy.dns)
        let penalties = previous.penalties.settings == loaded.state
            ? previous.penalties : makePenalties(loaded.state)
        let next = state.withLock { current in
            let next = RuntimeConfiguration(path: path, loaded: loaded, generation: current.generation + 1, resolver: setup,
                                            penalties: penalties)
            current = next
            return next
        }
        if penalties !== previous.penalties { previous.penalties.shutdown() }
        return next
    }
}
