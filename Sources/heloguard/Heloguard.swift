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
                      StatsCommand.self, ReplayCommand.self, IdentityCommand.self]
    )

    /// Parses the command line with empty attached values kept (see ``EmptyOptionValues``).
    static func main() {
        main(EmptyOptionValues.separated(Array(CommandLine.arguments.dropFirst())))
    }
}

/// swift-argument-parser reads `--name=` (an option with an empty attached value) as `--name`
/// without a value, so `heloguard test --sender=` (the null sender) would fail with "Missing
/// value". Writing such an argument as two, `--name` and an empty string, keeps the empty value:
/// an empty argument is always a value to the parser. Arguments after `--` stay as they are.
enum EmptyOptionValues {
    static func separated(_ arguments: [String]) -> [String] {
        var result: [String] = []
        result.reserveCapacity(arguments.count)
        for (index, argument) in arguments.enumerated() {
            if argument == "--" {
                return result + arguments[index...]
            }
            if argument.count > 3, argument.hasPrefix("--"), argument.hasSuffix("="),
               argument.firstIndex(of: "=") == argument.index(before: argument.endIndex) {
                result += [String(argument.dropLast()), ""]
            } else {
                result.append(argument)
            }
        }
        return result
    }
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
