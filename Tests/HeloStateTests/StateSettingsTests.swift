import Testing
import HeloPolicy
import HeloState

/// The state store's parameters (`state_directory`, `state_database`, `penalty_box_*`,
/// `helo_log*`): read from the same file as the rule core's, checked by the state side through
/// the loader, so that their mistakes still refuse the configuration at their file:line.
struct StateSettingsTests {
    /// Loads `text` as `file` with the state store's parameters checked, as the milter and the
    /// tools do.
    static func load(_ text: String, file: String) throws(ConfigError) -> LoadedConfiguration {
        try ConfigurationLoader.load(text: text, file: file, environment: LoadEnvironment(interfaces: [], sections: [StateSettings.self]))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        let expected: String
        var testDescription: String { name }
    }

    static let refused: [Case] = [
        Case(name: "relative state_directory", config: "# state\nstate_directory = var/heloguard\n",
             expected: "heloguard.conf:2: error: state_directory = var/heloguard: must be an absolute path"),
        Case(name: "state_database that is not a URL", config: "\nstate_database = /var/lib/heloguard/db\n",
             expected: "heloguard.conf:2: error: state_database: expected empty (the embedded file in state_directory) or a URL postgresql://user:password@host:port/database"),
        Case(name: "state_database of another kind", config: "state_database = mysql://u:secret@db/heloguard\n",
             expected: "heloguard.conf:1: error: state_database: expected empty (the embedded file in state_directory) or a URL postgresql://user:password@host:port/database"),
        Case(name: "IPv6 prefix too short", config: "penalty_box_ipv6_prefix = 16\n",
             expected: "heloguard.conf:1: error: penalty_box_ipv6_prefix = 16: must be 32 to 128"),
        Case(name: "IPv6 prefix too long", config: "\n\npenalty_box_ipv6_prefix = 129\n",
             expected: "heloguard.conf:3: error: penalty_box_ipv6_prefix = 129: must be 32 to 128"),
        Case(name: "maximum penalty shorter than the first", config: "penalty_box_ttl = 2d\npenalty_box_max_ttl = 1d\n",
             expected: "heloguard.conf:2: error: penalty_box_max_ttl = 1d is shorter than penalty_box_ttl = 2d"),
    ]

    @Test(arguments: refused)
    func refusedWithFileAndLine(_ c: Case) {
        do throws(ConfigError) {
            _ = try Self.load(c.config, file: "heloguard.conf")
            Issue.record("configuration was accepted")
        } catch {
            #expect(error.diagnostics.contains { $0.severity == .error && $0.description.hasPrefix(c.expected) },
                    "got: \(error.diagnostics.map(\.description))")
        }
    }

    /// The rule core does not know these checks: without the section the same text loads (and
    /// the settings fall back to the defaults for the values the section would refuse).
    @Test(arguments: refused)
    func unknownToTheRuleCore(_ c: Case) throws {
        let loaded = try ConfigurationLoader.load(text: c.config, file: "heloguard.conf", interfaces: [])
        #expect(!loaded.diagnostics.contains { $0.severity == .error })
        #expect(StateSettings.diagnostics(for: loaded.parameters).contains { $0.description.hasPrefix(c.expected) })
    }

    @Test func settingsFromConfiguration() throws {
        let loaded = try Self.load("""
            state_directory = /srv/heloguard/
            state_database = postgresql://heloguard:secret@db.example:5432/heloguard?sslmode=verify-full
            penalty_box_ttl = 2h
            penalty_box_max_ttl = 2d
            penalty_box_max_entries = 500
            penalty_box_ipv6_prefix = 48
            helo_log = no
            helo_log_sample = 10
            helo_log_retention = 1w
            """, file: "heloguard.conf")
        let state = loaded.state
        #expect(state == StateSettings(directory: "/srv/heloguard/",
                                       database: "postgresql://heloguard:secret@db.example:5432/heloguard?sslmode=verify-full",
                                       penaltyTTL: 7200, penaltyMaxTTL: 172_800,
                                       penaltyMaxEntries: 500, ipv6PrefixLength: 48, heloLog: false,
                                       heloLogSample: 10, heloLogRetention: 604_800))
        #expect(state.databasePath == "/srv/heloguard/heloguard.sqlite")
        #expect(state.sharedDatabaseURL?.tlsMode == .verifyFull)
        let defaults = try Self.load("", file: "heloguard.conf").state
        #expect(defaults == StateSettings())
        #expect(!defaults.usesSharedDatabase && state.usesSharedDatabase)
        #expect(defaults.databasePath == "/var/lib/heloguard/heloguard.sqlite")
    }
}
