import ArgumentParser
import HeloPolicy

/// `heloguard check-config`: load the configuration and every table it names, print every
/// warning and error with its file and line, and exit non-zero when there is an error.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file and the tables it names.",
        discussion: "Prints `file:line: error: ...` and `file:line: warning: ...` lines. Exits 0 when there is no error, 1 otherwise."
    )

    @OptionGroup var options: ConfigOption

    func run() throws {
        let path = options.config ?? ConfigOption.defaultPath
        let loaded: LoadedConfiguration
        do throws(ConfigError) {
            loaded = try ConfigurationLoader.load(path: path)
        } catch {
            for diagnostic in error.diagnostics { Output.error(diagnostic.description) }
            throw ExitCode(1)
        }
        for diagnostic in loaded.diagnostics { Output.error(diagnostic.description) }
        if loaded.diagnostics.contains(where: { $0.severity == .error }) {
            throw ExitCode(1)
        }
        Output.write("\(path): configuration OK (\(loaded.policy.heloRestrictions.count) HELO restriction(s))\n")
        Output.flush()
    }
}
