import ArgumentParser
import Foundation
import HeloGuard
import HeloPolicy

/// `heloguard identity`: who "we" are for `reject_impersonating_helo` under a configuration,
/// each name and address with where it came from (heloguard's `impersonation_*` parameters,
/// Postfix's configuration, DNS), exactly as `heloguard run` loads it.
struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Print the names and addresses reject_impersonating_helo counts as ours.",
        discussion: """
            Loads the configuration as `heloguard run` does (Postfix's configuration when \
            impersonation_postfix_config is set, DNS when impersonation_check_dns = yes) and prints \
            one line per entry: kind (hostname, domain, address), value and source. Warnings go to \
            standard error. At run time the MTA's own name ({j}) and the address the client \
            connected to ({daemon_addr}) count as ours as well.
            """
    )

    @OptionGroup var options: ConfigOption

    @Flag(name: .long, help: "Print JSON: a list of {kind, value, source} objects.")
    var json = false

    func run() throws {
        let path = options.config ?? ConfigOption.defaultPath
        let loaded = try ConfigOption.loadAsRun(path)
        Output.write(json ? Self.json(loaded.identity) : Self.text(loaded.identity))
        Output.flush()
    }

    /// One line per entry, in aligned columns.
    static func text(_ entries: [IdentityEntry]) -> String {
        let width = entries.map(\.value.count).max() ?? 0
        return entries.map { entry in
            let kind = entry.kind.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
            return kind + entry.value.padding(toLength: width + 2, withPad: " ", startingAt: 0) + entry.source + "\n"
        }.joined()
    }

    static func json(_ entries: [IdentityEntry]) -> String {
        let objects = entries.map { ["kind": $0.kind.rawValue, "value": $0.value, "source": $0.source] }
        let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
