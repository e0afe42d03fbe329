/// Postfix's `smtpd_expansion_filter`: the bytes a `$name` value may carry into a reply built
/// from a template; every other byte of the value becomes `_` (the template's own text is
/// never filtered). The parameter is written with backslash escapes that Postfix's
/// `unescape()` decodes: `\t`, `\n` and the other C letters, `\ooo` octal (one to three
/// digits), and `\c` for any other `c`.
public struct ExpansionFilter: Sendable, Hashable {
    private let allowed: [Bool]

    public init(postfixText: String) {
        var allowed = [Bool](repeating: false, count: 256)
        for byte in ExpansionFilter.unescape(Array(postfixText.utf8)) {
            // Postfix keeps the filter as a C string: a decoded NUL ends it.
            if byte == 0 { break }
            allowed[Int(byte)] = true
        }
        self.allowed = allowed
    }

    /// True when `byte` may appear in an expanded value.
    public func allows(_ byte: UInt8) -> Bool { allowed[Int(byte)] }

    /// The value with every byte outside the filter replaced by `_`.
    public func apply(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        bytes.map { allowed[Int($0)] ? $0 : UInt8(ascii: "_") }
    }

    /// Postfix's `unescape()`.
    static func unescape(_ text: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        var index = 0
        func isOctal(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "7") }
        while index < text.count {
            var byte = text[index]
            index += 1
            if byte == UInt8(ascii: "\\") {
                guard index < text.count else { break }
                byte = text[index]
                index += 1
                switch byte {
                case UInt8(ascii: "a"): byte = 0x07
                case UInt8(ascii: "b"): byte = 0x08
                case UInt8(ascii: "f"): byte = 0x0C
                case UInt8(ascii: "n"): byte = 0x0A
                case UInt8(ascii: "r"): byte = 0x0D
                case UInt8(ascii: "t"): byte = 0x09
                case UInt8(ascii: "v"): byte = 0x0B
                case _ where isOctal(byte):
                    var value = Int(byte - UInt8(ascii: "0"))
                    var digits = 0
                    while digits < 2, index < text.count, isOctal(text[index]) {
                        value = value << 3 | Int(text[index] - UInt8(ascii: "0"))
                        index += 1
                        digits += 1
                    }
                    byte = UInt8(truncatingIfNeeded: value)
                default:
                    break
                }
            }
            result.append(byte)
        }
        return result
    }
}

/// Reply templates such as `default_rbl_reply`, expanded the way Postfix's `mac_expand()` does
/// for them: `$name`, `${name}`, `$(name)`, `${name?text}`, `${name:text}`, `$$`; a value is
/// inserted once (a `$` inside it stays as it is) and filtered through
/// `smtpd_expansion_filter`. Postfix's relational operators (`${{a}=={b}?...}`) are not
/// supported: a template using them counts as a bad template.
enum ReplyTemplate {
    struct Expansion {
        let text: String
        /// False when the template has a syntax error or uses an unknown `$name` plainly:
        /// Postfix then logs "bad rbl reply template" and falls back to the default.
        let succeeded: Bool
        /// Postfix's warnings in order: `unknown macro name "x" in expansion request` and
        /// syntax errors.
        let warnings: [String]
    }

    static func expand(_ template: String, filter: ExpansionFilter, lookup: @escaping (String) -> String?) -> Expansion {
        var expander = MacroExpander(lookup: lookup, rawNames: [], mode: .once(filter: filter))
        expander.expand(template, owner: nil)
        let failed = expander.findings.contains(where: \.isError) || expander.usedUndefinedName
        return Expansion(text: expander.output, succeeded: !failed, warnings: expander.findings.map(\.message))
    }

    /// The names an RBL reply template may use: Postfix's `rbl_expand_lookup()` and
    /// `smtpd_expand_lookup()`.
    static let rblVariableNames: Set<String> = [
        "rbl_code", "rbl_domain", "rbl_reason", "rbl_txt", "rbl_what", "rbl_class",
        "server_name", "client", "client_port", "client_address", "client_name", "reverse_client_name",
        "helo_name", "sender", "sender_name", "sender_domain", "recipient", "recipient_name",
        "recipient_domain", "localtime",
    ]

    /// Problems with an RBL template found without a session (syntax errors, unknown names);
    /// empty when the template is usable.
    static func rblTemplateProblems(_ template: String) -> [String] {
        let expansion = expand(template, filter: ExpansionFilter(postfixText: "")) { name in
            rblVariableNames.contains(name) ? "x" : nil
        }
        return expansion.succeeded ? [] : expansion.warnings
    }
}
