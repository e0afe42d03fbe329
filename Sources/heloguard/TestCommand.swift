import ArgumentParser
import HeloGuard
import HeloPolicy
import HeloState

/// `heloguard test`: what would each recipient get if this client said this HELO? Plays one
/// SMTP session through the milter's own session code (``SessionRehearsal``) with the given
/// configuration, no MTA needed: the penalty box is consulted (read only) and DNS asked as the
/// milter asks it.
struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Show what each recipient would get for a HELO, without any MTA.",
        discussion: """
            Plain output is one line per recipient, `RCPT <recipient>: <reply>` (`250 2.1.5 Ok` when \
            accepted). With smtpd_delay_reject = no, each refused HELO first gets a \
            `HELO <name>: <reply>` line. --json prints {"recipients":[{"recipient","action","reply","restriction"}]}. \
            --explain prints every restriction evaluated and what it found. The penalty box of the \
            configured state store is consulted, never changed (--no-penalty-box: as if it were empty).
            """
    )

    @OptionGroup var options: ConfigOption

    // Unconditional: a HELO that starts with "-" (`--helo -foo.example.com`) is a name to test.
    @Option(name: .customLong("helo"), parsing: .unconditionalSingleValue, help: ArgumentHelp("A HELO/EHLO argument; repeat for several HELOs (the last one counts). None: the client sends no HELO.", valueName: "name"))
    var helos: [String] = []

    @Option(help: ArgumentHelp("The client's IP address.", valueName: "address"))
    var client = "127.0.0.1"

    @Option(name: .customLong("client-name"), help: ArgumentHelp("The client's verified host name.", valueName: "name"))
    var clientName = "unknown"

    @Option(name: .customLong("sasl-user"), help: ArgumentHelp("The client authenticated (SASL) as this user.", valueName: "user"))
    var saslUser: String?

    // Unconditional: the next argument is the sender even when it starts with "-"; an empty one
    // (`--sender=` or `--sender ""`) is the null sender.
    @Option(parsing: .unconditional, help: ArgumentHelp("The envelope sender (MAIL FROM).", valueName: "address"))
    var sender = "<>"

    @Flag(help: "MAIL FROM carried SMTPUTF8.")
    var smtputf8 = false

    @Option(name: .customLong("rcpt"), help: ArgumentHelp("A recipient (RCPT TO); repeat for several.", valueName: "address"))
    var recipients: [String] = []

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Print every restriction evaluated and what it found.")
    var explain = false

    @Flag(name: .customLong("no-penalty-box"), help: "Test as if the penalty box were empty (it is never changed either way).")
    var noPenaltyBox = false

    func validate() throws {
        if recipients.isEmpty { throw ValidationError("give at least one --rcpt") }
        if IPAddress(client) == nil { throw ValidationError("--client must be an IPv4 or IPv6 address, not \"\(client)\"") }
        if json && explain { throw ValidationError("--json and --explain cannot be combined") }
    }

    func run() throws {
        let (path, loaded) = try loadConfiguration()
        let policy = loaded.policy
        // DNS restrictions ask the configured servers (dns_servers), as the milter would.
        let resolver = ResolverSetup.unbound(policy.dns)
        if let problem = (resolver.resolver as? SharedResolver)?.prepare() {
            Output.error("warning: \(problem); DNS lookups fail temporarily")
        }
        let penalties: PenaltyService
        if noPenaltyBox {
            penalties = PenaltyService.inMemory(settings: loaded.state)
        } else {
            let snapshot = PenaltyService.snapshot(settings: loaded.state, log: StderrLog())
            if let problem = snapshot.problem { Output.error("warning: \(problem); testing with an empty penalty box") }
            penalties = snapshot.service
        }
        let configuration = RuntimeConfiguration(path: path, loaded: loaded, generation: 1, resolver: resolver, penalties: penalties)
        let script = SessionScript(clientAddress: client, clientName: clientName, helos: helos, saslUsername: saslUser,
                                   sender: sender, smtputf8: smtputf8, recipients: recipients)
        let outcome = SessionRehearsal.play(script, configuration: configuration).outcome
        if json {
            Output.write(OutcomeRendering.json(outcome))
        } else if explain {
            Output.write(OutcomeRendering.explain(outcome))
        } else {
            Output.write(OutcomeRendering.plain(outcome))
        }
        Output.flush()
    }

    /// The configuration named, else the default file, else built-in defaults; errors exit 1.
    private func loadConfiguration() throws -> (String, LoadedConfiguration) {
        do throws(ConfigError) {
            if let path = options.config {
                let loaded = try ConfigurationLoader.load(path: path, environment: .system)
                for diagnostic in loaded.diagnostics where diagnostic.severity == .error { Output.error(diagnostic.description) }
                return (path, loaded)
            } else if ConfigurationLoader.fileExists(ConfigOption.defaultPath) {
                return (ConfigOption.defaultPath, try ConfigurationLoader.load(path: ConfigOption.defaultPath, environment: .system))
            } else {
                Output.error("note: \(ConfigOption.defaultPath) not found; using built-in defaults (no HELO restrictions)")
                return ("(built-in defaults)", try ConfigurationLoader.load(text: "", file: "(built-in defaults)"))
            }
        } catch {
            for diagnostic in error.diagnostics { Output.error(diagnostic.description) }
            throw ExitCode(1)
        }
    }
}
