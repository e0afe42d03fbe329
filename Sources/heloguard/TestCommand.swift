import ArgumentParser
import HeloGuard
import HeloPolicy

/// `heloguard test`: what would each recipient get if this client said this HELO? Plays one
/// SMTP session through the rule core with the given configuration, no MTA needed.
struct TestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Show what each recipient would get for a HELO, without any MTA.",
        discussion: """
            Plain output is one line per recipient, `RCPT <recipient>: <reply>` (`250 2.1.5 Ok` when \
            accepted). With smtpd_delay_reject = no, each refused HELO first gets a \
            `HELO <name>: <reply>` line. --json prints {"recipients":[{"recipient","action","reply","restriction"}]}. \
            --explain prints every restriction evaluated and what it found.
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

    func validate() throws {
        if recipients.isEmpty { throw ValidationError("give at least one --rcpt") }
        if IPAddress(client) == nil { throw ValidationError("--client must be an IPv4 or IPv6 address, not \"\(client)\"") }
        if json && explain { throw ValidationError("--json and --explain cannot be combined") }
    }

    func run() throws {
        let policy: PolicyConfig
        do throws(ConfigError) {
            if let path = options.config {
                let loaded = try ConfigurationLoader.load(path: path)
                for diagnostic in loaded.diagnostics where diagnostic.severity == .error { Output.error(diagnostic.description) }
                policy = loaded.policy
            } else if ConfigurationLoader.fileExists(ConfigOption.defaultPath) {
                policy = try ConfigurationLoader.load(path: ConfigOption.defaultPath).policy
            } else {
                Output.error("note: \(ConfigOption.defaultPath) not found; using built-in defaults (no HELO restrictions)")
                policy = try ConfigurationLoader.load(text: "", file: "(built-in defaults)").policy
            }
        } catch {
            for diagnostic in error.diagnostics { Output.error(diagnostic.description) }
            throw ExitCode(1)
        }
        // DNS restrictions ask the configured servers (dns_servers), as the milter would.
        let resolver = SharedResolver(settings: policy.dns)
        if let problem = resolver.prepare() { Output.error("warning: \(problem); DNS lookups fail temporarily") }
        let engine = HeloPolicyEngine(config: policy, resolver: resolver)
        let script = SessionScript(clientAddress: client, clientName: clientName, helos: helos, saslUsername: saslUser,
                                   sender: sender, smtputf8: smtputf8, recipients: recipients)
        let outcome = engine.play(script)
        if json {
            Output.write(OutcomeRendering.json(outcome))
        } else if explain {
            Output.write(OutcomeRendering.explain(outcome))
        } else {
            Output.write(OutcomeRendering.plain(outcome))
        }
        Output.flush()
    }
}
