import ArgumentParser
import Foundation
import HeloPolicy
import HeloState

/// `heloguard stats`: what the HELO log says about the clients — HELO names many clients share,
/// clients that rotate through names, the most refused names per restriction and big providers'
/// names given from elsewhere — each finding with a `check_helo_access` line to paste. Reads the
/// state store of the configuration and never writes to it.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Report HELO findings from the HELO log, with suggested check_helo_access lines.",
        discussion: """
            Reads the HELO log of the configured state store. Lines of the suggestions are ready for a \
            check_helo_access table (hash: unless marked pcre:); a line that starts with '#' needs review first.
            """
    )

    @OptionGroup var options: ConfigOption
    @OptionGroup var account: StateUserOption
    @Option(name: .long, help: ArgumentHelp(
        "Only records of the last TIME (24h, 7d, 2w) or since a date (2026-05-01, 2026-05-01T12:00:00Z).", valueName: "time"))
    var since: String?
    @Option(name: .long, help: ArgumentHelp("Findings per section (per restriction for refused names); default 10.", valueName: "n"))
    var limit: String?
    @Option(name: .customLong("min-clients"), help: ArgumentHelp(
        "A HELO name is shared when this many client addresses gave it; default 3.", valueName: "n"))
    var minClients: String?
    @Option(name: .customLong("min-names"), help: ArgumentHelp(
        "A client rotates when it gave this many HELO names; default 3.", valueName: "n"))
    var minNames: String?
    @Option(name: .customLong("provider"), help: ArgumentHelp(
        "Also treat DOMAIN as a big provider's (repeatable; each is a group of its own).", valueName: "domain"))
    var providers: [String] = []
    @Flag(name: .long, help: "Print JSON instead of tables.") var json = false

    func run() throws {
        let now = Date()
        var reportOptions = HeloReportOptions()
        reportOptions.since = try since.map { try Self.periodStart($0, now: now) }
        reportOptions.limit = try Self.count(limit, option: "--limit", default: HeloReportOptions.defaultLimit)
        reportOptions.minClients = try Self.count(minClients, option: "--min-clients", default: HeloReportOptions.defaultMinClients)
        reportOptions.minNames = try Self.count(minNames, option: "--min-names", default: HeloReportOptions.defaultMinNames)
        for domain in providers {
            guard Self.isDomain(domain) else {
                Output.error("heloguard stats: bad --provider \"\(domain)\": give a domain name such as example.com")
                throw ExitCode(1)
            }
            reportOptions.providers.append(ProviderGroup(name: ProviderDomain.normalized(domain), domains: [domain]))
        }

        let (settings, opened) = try PenaltyCommand.open(options, user: account.user, for: "heloguard stats")
        let store: any StateStore = opened
        defer { store.close() }
        guard let statistics = store as? any HeloLogStatistics else {
            Output.error("heloguard stats: the configured state store cannot report statistics")
            throw ExitCode(1)
        }
        let report: HeloReport
        do {
            report = try HeloReport.build(from: statistics, options: reportOptions)
        } catch {
            Output.error("heloguard stats: \(error)")
            throw ExitCode(1)
        }
        let configPath = options.config ?? ConfigOption.defaultPath
        Output.write(json ? StatsRendering.json(report, settings: settings)
                          : StatsRendering.text(report, settings: settings, configPath: configPath))
        Output.flush()
    }

    /// `--since`: a Postfix time (`24h`: the last 24 hours) or an ISO 8601 date or date and time.
    static func periodStart(_ text: String, now: Date) throws -> Date {
        if let date = parsePeriodStart(text, now: now) { return date }
        Output.error("heloguard stats: bad --since \"\(text)\": use a time with its unit (90m, 24h, 7d, 2w) "
                     + "or an ISO 8601 date (2026-05-01, 2026-05-01T12:00:00Z)")
        throw ExitCode(1)
    }

    /// `--since` as ``periodStart(_:now:)`` reads it; nil when it is neither form.
    static func parsePeriodStart(_ text: String, now: Date) -> Date? {
        let hasUnit = text.last.map { "smhdw".contains($0) } ?? false
        if hasUnit, let seconds = KnownParameters.timeInSeconds(text), seconds > 0 {
            return now.addingTimeInterval(-TimeInterval(seconds))
        }
        return parseISO8601(text)
    }

    /// A date (midnight UTC), or a date and time with a zone (`Z`, `+02:00`) or without one (UTC).
    static func parseISO8601(_ text: String) -> Date? {
        let forms: [ISO8601DateFormatter.Options] = [
            [.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds],
            [.withFullDate, .withTime, .withDashSeparatorInDate, .withColonSeparatorInTime],
            [.withFullDate, .withDashSeparatorInDate],
        ]
        for options in forms {
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// A whole number from 1 to 100,000 for `option`; `fallback` when not given.
    static func count(_ text: String?, option: String, default fallback: Int) throws -> Int {
        guard let text else { return fallback }
        guard let value = Int(text), (1...100_000).contains(value) else {
            Output.error("heloguard stats: bad \(option) \"\(text)\": use a whole number from 1 to 100000")
            throw ExitCode(1)
        }
        return value
    }

    /// Letters, digits, hyphens and dots, with at least one dot inside: `example.com`.
    static func isDomain(_ text: String) -> Bool {
        let name = ProviderDomain.normalized(text)
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}
