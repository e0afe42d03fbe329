import HeloPolicy

/// Memory across connections (heloguard's own parameters): where the state file lives, how the
/// penalty box keeps clients and what the HELO log records. Times are in seconds. Read from the
/// same file as the rule core's parameters (``init(_:)``), and checked at load as a
/// ``HeloPolicy/ConfigurationSection``; the rule core itself knows nothing of them.
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

    /// The embedded store's file: ``directory``/``databaseFileName``.
    public var databasePath: String {
        directory.hasSuffix("/") ? directory + Self.databaseFileName : directory + "/" + Self.databaseFileName
    }
}

extension StateSettings: ConfigurationSection {
    /// The settings a loaded configuration names; a value the load refused (reported there)
    /// is replaced by its default.
    public init(_ parameters: Parameters) {
        var ignored: [ConfigDiagnostic] = []
        self = Self.read(parameters, diagnostics: &ignored)
    }

    public static func diagnostics(for parameters: Parameters) -> [ConfigDiagnostic] {
        var diagnostics: [ConfigDiagnostic] = []
        _ = read(parameters, diagnostics: &diagnostics)
        return diagnostics
    }

    /// `state_directory` (an absolute path), `state_database` (empty or a PostgreSQL URL, see ``PostgresURL``), `penalty_box_*` (the IPv6 prefix 32 to 128, the
    /// maximum time not shorter than the first) and `helo_log*`. validate() has already
    /// reported values of the wrong kind; these are the checks that need more than one value.
    private static func read(_ parameters: Parameters, diagnostics: inout [ConfigDiagnostic]) -> StateSettings {
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
}

extension LoadedConfiguration {
    /// Where this configuration keeps the penalty box and the HELO log, and how.
    public var state: StateSettings { StateSettings(parameters) }
}

extension LoadEnvironment {
    /// Only the state store's parameters checked besides the rule core's: for tools that need
    /// neither Postfix's configuration nor DNS at load.
    public static var withState: LoadEnvironment { LoadEnvironment(sections: [StateSettings.self]) }
}
