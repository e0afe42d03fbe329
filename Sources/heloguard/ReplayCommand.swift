import ArgumentParser
import Foundation
import HeloGuard
import HeloPolicy
import HeloState

/// `heloguard replay`: what a candidate configuration would have done to the connections the
/// HELO log recorded. Each record (client, reverse name, HELO name, recorded verdict) is
/// evaluated with the milter's own engine (``ReplayEvaluator``) and compared with what was
/// recorded. Reads the state store and never writes to it.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay the HELO log against a candidate configuration and report what would change.",
        discussion: """
            Reads the HELO log of the state store (that of --state-config, else the candidate's own \
            state_directory / state_database), newest record first, and evaluates each recorded connection \
            with the candidate's smtpd_helo_restrictions. Restrictions that need what the log does not keep \
            (sender, recipient, SASL login, the penalty box at the time) make a record not replayable; so do \
            DNS restrictions with --no-dns. Refused = reject or defer; a dry run's would-reject/would-defer \
            compares as the refusal it would have been.
            """
    )

    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("state-config"), help: ArgumentHelp(
        "The configuration whose state store holds the HELO log (the running one); default: the candidate's.",
        valueName: "file"))
    var stateConfig: String?
    @OptionGroup var account: StateUserOption
    @Option(name: .long, help: ArgumentHelp(
        "Only records of the last TIME (24h, 7d, 2w) or since a date (2026-05-01, 2026-05-01T12:00:00Z).", valueName: "time"))
    var since: String?
    @Option(name: .long, help: ArgumentHelp("At most this many records, the newest.", valueName: "n"))
    var limit: String?
    @Flag(name: .long, help: "Print JSON instead of tables.") var json = false
    @Flag(name: .customLong("no-dns"), help: "Ask no DNS: records whose decision needs DNS are not replayable.")
    var noDNS = false

    func validate() throws {
        guard options.config != nil else { throw ValidationError("give the candidate configuration with --config FILE") }
        if let since, StatsCommand.parsePeriodStart(since, now: Date()) == nil {
            throw ValidationError("bad --since \"\(since)\": use a time with its unit (90m, 24h, 7d, 2w) "
                                  + "or an ISO 8601 date (2026-05-01, 2026-05-01T12:00:00Z)")
        }
        if let limit, Int(limit).map({ $0 < 1 }) ?? true {
            throw ValidationError("bad --limit \"\(limit)\": use a whole number of at least 1")
        }
    }

    func run() throws {
        let candidatePath = options.config ?? ConfigOption.defaultPath
        let candidate = try Self.load(candidatePath)
        let periodStart = since.flatMap { StatsCommand.parsePeriodStart($0, now: Date()) }
        let storeOptions = try ConfigOption.parse(["--config", stateConfig ?? candidatePath])
        let (_, opened) = try PenaltyCommand.open(storeOptions, user: account.user, for: "heloguard replay")
        let store: any StateStore = opened
        defer { store.close() }
        guard let log = store as? any HeloLogReading else {
            Output.error("heloguard replay: the configured state store cannot be read record by record")
            throw ExitCode(1)
        }
        var resolver: ResolverSetup? = nil
        if !noDNS {
            let setup = ResolverSetup.unbound(candidate.policy.dns)
            if let problem = (setup.resolver as? SharedResolver)?.prepare() {
                Output.error("warning: \(problem); DNS lookups fail temporarily")
            }
            resolver = setup
        }
        let evaluator = ReplayEvaluator(candidate: candidate, path: candidatePath, resolver: resolver)
        let report: ReplayReport
        do {
            report = try ReplayReport.build(from: log, since: periodStart, limit: limit.flatMap { Int($0) },
                                            evaluator: evaluator)
        } catch {
            Output.error("heloguard replay: \(error)")
            throw ExitCode(1)
        }
        let context = ReplayRendering.Context(candidate: candidatePath, since: periodStart, limit: limit.flatMap { Int($0) },
                                              asksDNS: !noDNS, dryRun: candidate.policy.dryRun)
        Output.write(json ? ReplayRendering.json(report, context) : ReplayRendering.text(report, context))
        Output.flush()
    }

    /// The candidate configuration; its errors (file:line) are printed, exit 1.
    static func load(_ path: String) throws -> LoadedConfiguration {
        do throws(ConfigError) {
            let loaded = try ConfigurationLoader.load(path: path, environment: .system)
            for diagnostic in loaded.diagnostics where diagnostic.severity == .error { Output.error(diagnostic.description) }
            return loaded
        } catch {
            for diagnostic in error.diagnostics { Output.error(diagnostic.description) }
            Output.error("\(path): candidate configuration refused")
            throw ExitCode(1)
        }
    }
}
