import ArgumentParser
import HeloPolicy

/// `heloguard query TYPE:NAME [KEY...]`: look keys up in a table exactly as heloguard reads
/// it, like `postmap -q`. Without keys, one key per line is read from standard input.
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query",
        abstract: "Look keys up in a lookup table, like postmap -q.",
        discussion: """
            Prints `key<TAB>value` for every key found, nothing for a key not found. Fixed-string \
            tables (hash:, texthash:, inline:, ...) fold the key to lower case; regexp:, pcre: and \
            cidr: tables see it as given. Exits 0 when at least one key was found, 1 when none was, \
            2 when the table could not be read or a lookup failed.
            """
    )

    @Argument(help: ArgumentHelp("The table, e.g. hash:/etc/postfix/helo_access.", valueName: "type:name"))
    var table: String

    @Argument(help: "Keys to look up; none: read keys from standard input, one per line.")
    var keys: [String] = []

    func run() throws {
        let loaded: LoadedTable
        do throws(ConfigError) {
            loaded = try TableLoader.open(table, at: nil)
        } catch {
            for diagnostic in error.diagnostics { Output.error(diagnostic.description) }
            throw ExitCode(2)
        }
        for diagnostic in loaded.diagnostics { Output.error(diagnostic.description) }
        var found = false
        var failed = false
        func lookUp(_ key: String) {
            switch loaded.table.lookup(key) {
            case .found(let value, _):
                found = true
                Output.write("\(key)\t\(value)\n")
            case .notFound:
                break
            case .failed(let reason):
                failed = true
                Output.error("\(table): lookup of \"\(key)\" failed: \(reason)")
            }
        }
        if keys.isEmpty {
            while let line = readLine(strippingNewline: true) { lookUp(line) }
        } else {
            keys.forEach(lookUp)
        }
        Output.flush()
        if failed { throw ExitCode(2) }
        if !found { throw ExitCode(1) }
    }
}
