import PostfixSyntax

/// A `cidr:` table: rules matched in file order against an IP address (postfix-helo-semantics
/// §3.9, §9; Postfix `dict_cidr.c`, `cidr_match.c`).
///
/// Rule forms: `pattern result`, `!pattern result`, and `if pattern` / `if !pattern` …
/// `endif` blocks (nestable). A pattern is an IPv4 or IPv6 address, optionally in `[]`,
/// optionally with `/prefix`; host bits beyond the prefix must be zero. The lookup key is parsed
/// with `inet_pton`, so only plain addresses can match (`[1.2.3.4]`, `01.2.3.4` and host names
/// never do), and a rule of the other address family never matches, negated or not. Rules that
/// Postfix cannot parse are skipped; heloguard reports each as an error diagnostic because the
/// administrator's rule silently does nothing at run time.
public struct CIDRTable: AccessTable {
    /// One parsed line of the table.
    enum Rule: Sendable {
        /// A match rule; `positive` is false for a negated (`!`) rule.
        case match(network: IPNetwork, positive: Bool, value: String, line: Int)
        /// An `if` rule; `endIndex` is the index of its `endif`, nil when it has none.
        case ifBlock(network: IPNetwork, positive: Bool, endIndex: Int?)
        case endif
    }

    public let spec: String
    public var matchesFixedStrings: Bool { false }
    let rules: [Rule]

    /// The result of every match rule, in file order. Rules Postfix skipped are not here.
    public var resultTexts: [TableResultText] {
        rules.compactMap { rule in
            guard case let .match(_, _, value, line) = rule else { return nil }
            return TableResultText(text: value, line: line)
        }
    }

    public func lookup(_ key: String) -> TableLookup {
        guard let address = IPAddress(key) else { return .notFound }
        var index = 0
        while index < rules.count {
            switch rules[index] {
            case let .match(network, positive, value, line):
                if Self.matches(network, positive, address) {
                    return .found(value: value, line: line)
                }
            case let .ifBlock(network, positive, endIndex):
                if !Self.matches(network, positive, address) {
                    // Skip the block; an `if` without `endif` ends the table.
                    guard let endIndex else { return .notFound }
                    index = endIndex
                }
            case .endif:
                break
            }
            index += 1
        }
        return .notFound
    }

    /// Postfix's rule test: the other family never matches; otherwise the network test,
    /// inverted for a negated rule.
    private static func matches(_ network: IPNetwork, _ positive: Bool, _ address: IPAddress) -> Bool {
        guard network.address.family == address.family else { return false }
        return network.contains(address) == positive
    }

    /// Parses the table source `contents` read from `path`.
    public static func load(
        spec: String, path: String, contents: [UInt8], diagnostics: inout [ConfigDiagnostic]
    ) -> CIDRTable {
        var rules: [Rule] = []
        var openIfs: [(index: Int, line: Int)] = []

        LogicalLines.forEach(in: contents, warn: { diagnostics.append(.logicalLine($0, file: path)) }) {
            line, lineNumber in
            switch parseRule(line, lineNumber: lineNumber, nesting: openIfs.count) {
            case .failure(let problem):
                diagnostics.append(.error(SourceLocation(file: path, line: lineNumber),
                    "\(problem.message): skipping this rule"))
            case .success(let rule):
                switch rule {
                case let .ifBlock(network, positive, _):
                    openIfs.append((rules.count, lineNumber))
                    rules.append(.ifBlock(network: network, positive: positive, endIndex: nil))
                case .endif:
                    let opener = openIfs.removeLast()
                    if case let .ifBlock(network, positive, _) = rules[opener.index] {
                        rules[opener.index] = .ifBlock(network: network, positive: positive,
                                                       endIndex: rules.count)
                    }
                    rules.append(.endif)
                case .match:
                    rules.append(rule)
                }
            }
        }
        for opener in openIfs.reversed() {
            diagnostics.append(.warning(SourceLocation(file: path, line: opener.line),
                "IF has no matching ENDIF"))
        }
        return CIDRTable(spec: spec, rules: rules)
    }

    /// `cidr_match_parse()`, with Postfix's complaint as the reason for skipping the rule.
    private static func network(_ text: String) -> Result<IPNetwork, BraceTextProblem> {
        CIDRPattern.parse(text).mapError { BraceTextProblem(message: $0.message) }
    }

    /// `dict_cidr_parse_rule`: one logical line into a rule, or Postfix's reason for skipping it.
    private static func parseRule(
        _ line: [UInt8], lineNumber: Int, nesting: Int
    ) -> Result<Rule, BraceTextProblem> {
        let count = line.count
        func startsWithWord(_ word: String) -> Bool {
            let letters = Array(word.utf8)
            guard count >= letters.count else { return false }
            for (offset, letter) in letters.enumerated() where line[offset] | 0x20 != letter {
                return false
            }
            return count == letters.count || !CLocale.isAlnum(line[letters.count])
        }
        /// Skips `!` and whitespace from `index`, toggling `positive` at each `!`.
        func skipNegations(_ index: inout Int, _ positive: inout Bool) {
            while index < count {
                if line[index] == 0x21 /* ! */ {
                    positive.toggle()
                } else if !CLocale.isSpace(line[index]) {
                    break
                }
                index += 1
            }
        }

        var positive = true
        if startsWithWord("if") {
            var index = 2
            skipNegations(&index, &positive)
            let pattern = TableBytes.trimmed(line, index..<count)
            guard !pattern.isEmpty else { return .failure(BraceTextProblem(message: "no address pattern")) }
            return Self.network(TableBytes.string(line, pattern)).map {
                .ifBlock(network: $0, positive: positive, endIndex: nil)
            }
        }
        if startsWithWord("endif") {
            if !TableBytes.trimmed(line, 5..<count).isEmpty {
                return .failure(BraceTextProblem(message: "garbage after ENDIF"))
            }
            if nesting == 0 {
                return .failure(BraceTextProblem(message: "ENDIF without IF"))
            }
            return .success(.endif)
        }

        var index = 0
        skipNegations(&index, &positive)
        let patternStart = index
        while index < count && !CLocale.isSpace(line[index]) { index += 1 }
        let pattern = patternStart..<index
        let value = TableBytes.trimmed(line, index..<count)
        guard !pattern.isEmpty else { return .failure(BraceTextProblem(message: "no address pattern")) }
        let network: IPNetwork
        switch Self.network(TableBytes.string(line, pattern)) {
        case .failure(let problem): return .failure(problem)
        case .success(let parsed): network = parsed
        }
        guard !value.isEmpty else { return .failure(BraceTextProblem(message: "no lookup result")) }
        return .success(.match(network: network, positive: positive,
                               value: TableBytes.string(line, value), line: lineNumber))
    }
}
