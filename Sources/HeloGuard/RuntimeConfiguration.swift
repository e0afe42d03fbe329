import HeloPolicy
import MilterKit
import Synchronization

/// One loaded configuration: the parsed parameters, the policy and the engine that applies it.
/// Immutable; a reload makes a new one, and each connection keeps the one it started with.
public final class RuntimeConfiguration: Sendable {
    public let path: String
    public let loaded: LoadedConfiguration
    public let engine: HeloPolicyEngine
    /// Counts loads since start (1 = the configuration read at start).
    public let generation: Int
    /// What connections under this configuration ask of the MTA; worked out once, not per connection.
    public let negotiation: MilterNegotiation

    public init(path: String, loaded: LoadedConfiguration, generation: Int) {
        self.path = path
        self.loaded = loaded
        self.engine = HeloPolicyEngine(config: loaded.policy)
        self.generation = generation
        self.negotiation = HeloGuardFactory.negotiation(for: loaded.policy)
    }

    public var policy: PolicyConfig { loaded.policy }
}

/// Holds the current configuration and swaps in a new one atomically on reload. A configuration
/// that fails to load is refused and the current one stays.
public final class ConfigurationStore: Sendable {
    public let path: String
    private let state: Mutex<RuntimeConfiguration>
    private let loader: @Sendable (String) throws(ConfigError) -> LoadedConfiguration

    /// Loads `path` now; throws when it cannot be used.
    public init(path: String,
                loader: @escaping @Sendable (String) throws(ConfigError) -> LoadedConfiguration = { path throws(ConfigError) in
                    try ConfigurationLoader.load(path: path)
                }) throws(ConfigError) {
        self.path = path
        self.loader = loader
        let first = RuntimeConfiguration(path: path, loaded: try loader(path), generation: 1)
        state = Mutex(first)
    }

    public var current: RuntimeConfiguration {
        state.withLock { $0 }
    }

    /// Reads the file again (tables included). On success the new configuration serves every
    /// connection that starts from now on; on failure nothing changes and the error is thrown.
    @discardableResult
    public func reload() throws(ConfigError) -> RuntimeConfiguration {
        let loaded = try loader(path)
        return state.withLock { current in
            let next = RuntimeConfiguration(path: path, loaded: loaded, generation: current.generation + 1)
            current = next
            return next
        }
    }
}
