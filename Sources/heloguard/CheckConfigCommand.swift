import ArgumentParser
import HeloGuard
import HeloPolicy

/// `heloguard check-config`: load the configuration and every table it names, print every
/// warning and error with its file and line, and exit non-zero when there is an error.
/// With `--postfix`, check Postfix's configuration instead: that its SMTP server reaches
/// heloguard's socket and works with heloguard as intended (see ``PostfixSetupCheck``).
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and the tables it names, or (--postfix) Postfix's setup.",
        discussion: """
            Prints `file:line: error: ...` and `file:line: warning: ...` lines. Exits 0 when there is no error, 1 otherwise.

            With --postfix [CONFIG_DIR] (default /etc/postfix), reads Postfix's configuration with postconf and \
            reports, each with the line to write instead: smtpd_milters not reaching heloguard's socket as the \
            (chrooted or not, per master.cf) smtpd sees it; the mail_owner user unable to connect to the socket; \
            smtpd_helo_restrictions still set; milter_default_action = accept (fail-open) or reject; \
            milter_protocol below 6. Exits 0 when nothing is wrong, 1 otherwise.
            """
    )

    @OptionGroup var options: ConfigOption

    @Flag(name: .long, help: "Check Postfix's configuration (in CONFIG_DIR, default /etc/postfix) against heloguard's socket.")
    var postfix = false

    @Argument(help: ArgumentHelp("Postfix's configuration directory (with --postfix).", valueName: "CONFIG_DIR"))
    var postfixDirectory: String?

    @Option(name: .long, help: ArgumentHelp(
        "heloguard's socket, as given to `heloguard run --socket` (with --postfix; default \(RunCommand.defaultSocket)).",
        valueName: "spec"))
    var socket: String?

    func validate() throws {
        if !postfix && (postfixDirectory != nil || socket != nil) {
            throw ValidationError("CONFIG_DIR and --socket go with --postfix")
        }
    }

    func run() throws {
        if postfix {
            try checkPostfix()
            return
        }
        let path = options.config ?? ConfigOption.defaultPath
        let loaded = try ConfigOption.loadAsRun(path)
        if loaded.diagnostics.contains(where: { $0.severity == .error }) {
            throw ExitCode(1)
        }
        Output.write("\(path): configuration OK (\(loaded.policy.heloRestrictions.count) HELO restriction(s))\n")
        Output.flush()
    }

    private func checkPostfix() throws {
        let directory = postfixDirectory ?? "/etc/postfix"
        let spec = socket ?? RunCommand.defaultSocket
        let check: PostfixSetupCheck
        do {
            check = try PostfixSetupCheck(configDirectory: directory, socketSpec: spec)
        } catch {
            Output.error("--socket: \(error)")
            throw ExitCode(1)
        }
        let findings: [PostfixFinding]
        do throws(PostfixReadError) {
            findings = try check.run()
        } catch {
            Output.error("cannot read Postfix's configuration in \(directory): \(error.message)")
            throw ExitCode(1)
        }
        for finding in findings { Output.write(finding.description + "\n") }
        let problems = findings.filter { $0.severity == .problem }.count
        if problems == 0 {
            Output.write("\(directory): Postfix reaches heloguard at \(spec) as intended\n")
        } else {
            Output.write("\(directory): \(problems) problem(s) between Postfix and heloguard at \(spec)\n")
        }
        Output.flush()
        if problems > 0 { throw ExitCode(1) }
    }
}

extension ConfigOption {
    /// Loads `path` as `heloguard run` does (Postfix's configuration and DNS at load
    /// included) and prints every diagnostic to standard error; a configuration that cannot
    /// be used exits with status 1.
    static func loadAsRun(_ path: String) throws -> LoadedConfiguration {
        let loaded: LoadedConfiguration
        do throws(ConfigError) {
            loaded = try ConfigurationLoader.load(path: path, environment: .system)
        } catch {
            for diagnostic in error.diagnostics { Output.error(diagnostic.description) }
            throw ExitCode(1)
        }
        for diagnostic in loaded.diagnostics { Output.error(diagnostic.description) }
        return loaded
    }
}
