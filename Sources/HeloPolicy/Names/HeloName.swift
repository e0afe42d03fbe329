import PostfixSyntax

/// What Postfix makes of the argument of a HELO or EHLO command (`helo_cmd()`/`ehlo_cmd()` in
/// `src/smtpd/smtpd.c`, tokeniser in `src/smtpd/smtpd_token.c`).
///
/// Two forms matter:
/// * the **command argument**: the tokens after the verb joined with single spaces. Milters
///   receive this, and `smtpd_delay_reject = no` checks it;
/// * the **stored name**: the argument made printable and with a few delimiter characters
///   replaced by `?`. Log lines show it, and `smtpd_delay_reject = yes` (the default) checks it.
///
/// Input given as bytes is read like a C string: it ends at the first NUL byte.
public enum HeloName {
    // MARK: - Command argument

    /// The argument Postfix derives from the text after `HELO`/`EHLO`, or nil when there is no
    /// argument at all (Postfix then answers `501 Syntax: HELO hostname`).
    ///
    /// `raw` is everything after the verb. It is split at ASCII white space (space, TAB, CR, LF,
    /// VT, FF); `"…"` and `<…>` groups (which may nest) and backslash-escaped bytes do not split,
    /// and keep their quote and backslash characters. The tokens are then joined with one space.
    public static func commandArgument(_ raw: String) -> String? {
        commandArgument(bytes: Array(raw.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Byte form of ``commandArgument(_:)``; returns the argument bytes unchanged (no UTF-8
    /// repair), as Postfix passes them on.
    public static func commandArgument(bytes raw: [UInt8]) -> [UInt8]? {
        let tokens = CommandTokenizer.tokens(in: Array(raw.prefix { $0 != 0 }))
        guard !tokens.isEmpty else { return nil }
        return Array(tokens.joined(separator: [UInt8(ascii: " ")]))
    }

    // MARK: - Stored name

    /// Bytes Postfix replaces with `?` in a stored HELO name (`NEUTER_CHARACTERS` in smtpd.c):
    /// space `<` `>` `(` `)` `\` `"` `;` `@`.
    public static let neuteredBytes: Set<UInt8> = Set(" <>()\\\";@".utf8)
    /// ``neuteredBytes`` as a table indexed by byte, for the per-HELO loop.
    private static let isNeutered: [Bool] = (0...255).map { neuteredBytes.contains(UInt8($0)) }

    /// The HELO name as Postfix stores, logs and (with `smtpd_delay_reject = yes`) checks it:
    /// control bytes, DEL and malformed UTF-8 become `?` (Postfix `printable()`), then each of
    /// ``neuteredBytes`` becomes `?`. Well-formed non-ASCII UTF-8 is kept.
    public static func stored(_ argument: String) -> String {
        stored(bytes: Array(argument.utf8))
    }

    /// Byte form of ``stored(_:)``. The result is always valid UTF-8, so it is returned as a String.
    public static func stored(bytes argument: [UInt8]) -> String {
        let question = UInt8(ascii: "?")
        var name = Printable.sanitized(argument, for: .postfix(replacement: question))
        for index in name.indices where isNeutered[Int(name[index])] {
            name[index] = question
        }
        return String(decoding: name, as: UTF8.self)
    }
}

/// The SMTP command tokeniser of Postfix's smtpd, as far as HELO arguments need it.
enum CommandTokenizer {
    private static let backslash = UInt8(ascii: "\\")
    private static let doubleQuote = UInt8(ascii: "\"")
    private static let openAngle = UInt8(ascii: "<")
    private static let closeAngle = UInt8(ascii: ">")
    private static let colon = UInt8(ascii: ":")

    /// Splits `line` into tokens. A token whose quote group is not closed runs to the end of the
    /// line; Postfix marks it as malformed but HELO uses it all the same.
    static func tokens(in line: [UInt8]) -> [[UInt8]] {
        var tokens: [[UInt8]] = []
        var position = 0
        while let token = nextToken(in: line, from: &position) {
            tokens.append(token)
        }
        return tokens
    }

    private static func nextToken(in line: [UInt8], from position: inout Int) -> [UInt8]? {
        var token: [UInt8] = []
        while position < line.count {
            var byte = line[position]
            position += 1
            if CLocale.isSpace(byte) {
                while position < line.count && CLocale.isSpace(line[position]) { position += 1 }
                if !token.isEmpty { break }
            } else if byte == openAngle {
                readGroup(in: line, from: &position, opening: openAngle, closing: closeAngle, into: &token)
            } else if byte == doubleQuote {
                readGroup(in: line, from: &position, opening: doubleQuote, closing: doubleQuote, into: &token)
            } else if byte == colon {
                // `to:` and `from:` end a token even without white space after them.
                token.append(byte)
                if endsAddressKeyword(token) { break }
            } else {
                if byte == backslash {
                    token.append(byte)
                    guard position < line.count else { break }
                    byte = line[position]
                    position += 1
                }
                token.append(byte)
            }
        }
        return token.isEmpty ? nil : token
    }

    /// True when the whole token is `to:` or `from:`, in any letter case.
    private static func endsAddressKeyword(_ token: [UInt8]) -> Bool {
        let lowered = token.map(CLocale.toLower)
        return lowered == Array("to:".utf8) || lowered == Array("from:".utf8)
    }

    /// Copies a quoted group, opening character included, up to and including its closing
    /// character. Inside a `<…>` group a `"…"` or another `<…>` group opens a nested level; inside
    /// `"…"` only the closing quote counts. A backslash protects the byte after it.
    private static func readGroup(
        in line: [UInt8], from position: inout Int, opening: UInt8, closing: UInt8,
        into token: inout [UInt8]
    ) {
        var awaitedClosers: [UInt8] = [closing]
        token.append(opening)
        while position < line.count {
            let byte = line[position]
            position += 1
            token.append(byte)
            if byte == backslash {
                guard position < line.count else { return }
                token.append(line[position])
                position += 1
            } else if byte == awaitedClosers.last {
                awaitedClosers.removeLast()
                if awaitedClosers.isEmpty { return }
            } else if byte == doubleQuote {
                awaitedClosers.append(doubleQuote)
            } else if byte == openAngle && awaitedClosers.last == closeAngle {
                awaitedClosers.append(closeAngle)
            }
        }
    }
}
