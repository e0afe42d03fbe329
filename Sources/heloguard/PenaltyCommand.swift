import ArgumentParser
import Foundation
import HeloPolicy
import HeloState
import HeloStatePostgres
import PostfixSyntax

/// `heloguard penalty list | add | remove`: the administrator's view of the penalty box. Works
/// on the configured state database: the PostgreSQL database of `state_database`, else the file
/// under `state_directory` (created when missing); a running milter picks changes up at its
/// next refresh (`penalty_box_refresh_interval`, 10 seconds by default).
struct PenaltyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "penalty",
        abstract: "List, add or remove penalty-box entries.",
        discussion: "Works on the configured state database (state_database, else heloguard.sqlite in state_directory); a running milter sees changes within penalty_box_refresh_interval (10 seconds by default).",
        subcommands: [List.self, Add.self, Remove.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Show the clients in the penalty box.")

        @OptionGroup var options: ConfigOption
        @OptionGroup var account: StateUserOption
        @Flag(name: .long, help: "Print JSON instead of a table.") var json = false

        func run() throws {
            let (_, store) = try PenaltyCommand.open(options, user: account.user)
            defer { store.close() }
            let now = Date()
            let entries = try PenaltyCommand.attempt { try store.loadPenalties(rememberedSince: now) }
                .filter { $0.isActive(at: now) }
                .sorted { ($0.expires, $0.key) < ($1.expires, $1.key) }
            Output.write(json ? PenaltyCommand.json(entries) : PenaltyCommand.table(entries))
            Output.flush()
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add", abstract: "Put a client (an IPv4 address, an IPv6 address or network) into the penalty box.")

        @OptionGroup var options: ConfigOption
        @OptionGroup var account: StateUserOption
        @Argument(help: ArgumentHelp("The client: 192.0.2.1, 2001:db8::1 (boxed by its penalty_box_ipv6_prefix network) or 2001:db8::/48.", valueName: "address"))
        var address: String
        @Option(name: .long, help: ArgumentHelp("How long (Postfix time syntax: 90m, 24h, 7d); default penalty_box_ttl.", valueName: "time"))
        var ttl: String?
        @Option(name: .long, help: ArgumentHelp("Why, shown in the refusals.", valueName: "text"))
        var reason: String = "added by the administrator"

        func run() throws {
            let (settings, store) = try PenaltyCommand.open(options, user: account.user)
            defer { store.close() }
            let key = try PenaltyCommand.key(address, settings)
            var seconds = settings.penaltyTTL
            if let ttl {
                guard let value = KnownParameters.timeInSeconds(ttl), value > 0 else {
                    Output.error("heloguard penalty add: bad --ttl \"\(ttl)\": use a number greater than zero with an optional unit s, m, h, d or w")
                    throw ExitCode(1)
                }
                seconds = value
            }
            let cleaned = Printable.sanitized(reason, for: .terminalLine)
            let now = Date()
            let entry = PenaltyEntry(key: key, reason: cleaned, firstSeen: now,
                                     expires: now.addingTimeInterval(TimeInterval(seconds)), offences: 1)
            try PenaltyCommand.attempt { try store.upsertPenalty(entry) }
            Output.write("\(key) is in the penalty box until \(PenaltyCommand.utc(entry.expires)): \(entry.reason)\n")
            Output.flush()
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Take a client out of the penalty box.")

        @OptionGroup var options: ConfigOption
        @OptionGroup var account: StateUserOption
        @Argument(help: ArgumentHelp("The client, written as for `add`.", valueName: "address"))
        var address: String

        func run() throws {
            let (settings, store) = try PenaltyCommand.open(options, user: account.user)
            defer { store.close() }
            let key = try PenaltyCommand.key(address, settings)
            let known = try PenaltyCommand.attempt { try store.loadPenalties(rememberedSince: .distantPast) }
            guard known.contains(where: { $0.key == key }) else {
                Output.error("heloguard penalty remove: \(key) is not in the penalty box")
                throw ExitCode(1)
            }
            try PenaltyCommand.attempt { try store.removePenalty(key) }
            Output.write("\(key) removed from the penalty box\n")
            Output.flush()
        }
    }

    // MARK: Helpers

    /// Loads the configuration and opens its state database — the PostgreSQL database of
    /// `state_database`, else the embedded file — and returns it with the settings; errors are
    /// printed after `command` (the command that asked), exit 1. A PostgreSQL store connects at
    /// its first call, within its connect timeout.
    static func open(_ options: ConfigOption, user: String?, for command: String = "heloguard penalty") throws
        -> (StateSettings, any StateStore) {
        let path = options.config ?? ConfigOption.defaultPath
        let settings: StateSettings
        do throws(ConfigError) {
            settings = try ConfigurationLoader.load(path: path, environment: .withState).state
        } catch {
            for diagnostic in error.diagnostics where diagnostic.severity == .error { Output.error(diagnostic.description) }
            Output.error("\(path): configuration refused")
            throw ExitCode(1)
        }
        if settings.usesSharedDatabase {
            do throws(PostgresStoreError) {
                return (settings, try PostgresStateStore(urlText: settings.database))
            } catch {
                Output.error("\(command): \(error)")
                throw ExitCode(1)
            }
        }
        try StateAccount.actAsOwner(of: settings, user: user, command: command)
        do {
            return (settings, try SQLiteStateStore(path: settings.databasePath))
        } catch {
            Output.error("\(command): \(error)")
            throw ExitCode(1)
        }
    }

    /// A store call whose failure is printed, exit 1.
    static func attempt<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            Output.error("heloguard penalty: \(error)")
            throw ExitCode(1)
        }
    }

    static func key(_ text: String, _ settings: StateSettings) throws -> PenaltyKey {
        do throws(PenaltyKeyError) {
            return try PenaltyKey(parsing: text, ipv6PrefixLength: settings.ipv6PrefixLength)
        } catch {
            Output.error("heloguard penalty: \(error)")
            throw ExitCode(1)
        }
    }

    static func utc(_ date: Date) -> String {
        PenaltyNotice.utcText(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    /// One line per entry, columns aligned: client, expiry, offences, reason.
    static func table(_ entries: [PenaltyEntry]) -> String {
        guard !entries.isEmpty else { return "the penalty box is empty\n" }
        let rows = [["CLIENT", "EXPIRES", "OFFENCES", "REASON"]]
            + entries.map { [$0.key.description, utc($0.expires), String($0.offences), $0.reason] }
        let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            (0..<3).map { row[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                + "  " + row[3]
        }.joined(separator: "\n") + "\n"
    }

    struct JSONEntry: Encodable {
        let client: String
        let reason: String
        let firstSeen: String
        let expires: String
        let offences: Int

        enum CodingKeys: String, CodingKey {
            case client, reason, offences, expires
            case firstSeen = "first_seen"
        }
    }

    /// An array of objects; times in ISO 8601, UTC.
    static func json(_ entries: [PenaltyEntry]) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        let values = entries.map {
            JSONEntry(client: $0.key.description, reason: $0.reason, firstSeen: formatter.string(from: $0.firstSeen),
                      expires: formatter.string(from: $0.expires), offences: $0.offences)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(values)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
