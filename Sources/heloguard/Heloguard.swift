import ArgumentParser

/// The `heloguard` command line: the milter (`run`), and the tools
/// administrators use to try a configuration without any MTA.
@main
struct Heloguard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heloguard",
        abstract: "A HELO/EHLO policy milter with Postfix's smtpd_helo_restrictions semantics.",
        version: HeloguardVersion.current,
        subcommands: [RunCommand.self, TestCommand.self, CheckConfigCommand.self, QueryCommand.self, PenaltyCommand.self,
                      StatsCommand.self, IdentityCommand.self]
    )
}

enum HeloguardVersion {
    static let current = "0.1.0"
}

/// The `--config` option every subcommand shares.
struct ConfigOption: ParsableArguments {
    static let defaultPath = "/etc/heloguard/heloguard.conf"

    @Option(name: .long, help: ArgumentHelp("The configuration file (Postfix main.cf syntax).", valueName: "file"))
    var config: String?
}
