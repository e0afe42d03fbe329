import Testing
@testable import HeloPolicy

struct HostnameSyntaxTests {
    // MARK: - Postfix's own regression data

    /// One line of `src/util/valid_hostname.in` with the verdicts recorded in `valid_hostname.ref`.
    /// Postfix's test driver calls `valid_hostname(DO_WILDCARD)` on every line and
    /// `valid_hostaddr()` on lines without `*` (nil here); a warning in the .ref means "invalid".
    struct RegressionCase: Sendable, CustomTestStringConvertible {
        let input: String
        let hostnameWithWildcard: Bool
        let hostAddress: Bool?
        init(_ input: String, hostnameWithWildcard: Bool, hostAddress: Bool?) {
            self.input = input
            self.hostnameWithWildcard = hostnameWithWildcard
            self.hostAddress = hostAddress
        }
        var testDescription: String { "valid_hostname.in \"\(input)\"" }
    }

    static let regressionCases: [RegressionCase] = [
        RegressionCase("123456789012345678901234567890123456789012345678901234567890123", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("1234567890123456789012345678901234567890123456789012345678901234", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a.123456789012345678901234567890123456789012345678901234567890123.b", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("a.1234567890123456789012345678901234567890123456789012345678901234.b", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("1.2.3.4", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("321.255.255.255", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("0.0.0.0", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("255.255.255.255", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("0.255.255.255", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("1.2.3.321", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("1.2.3", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("1.2.3.4.5", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("1..2.3.4", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase(".1.2.3.4", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("1.2.3.4.5.", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("1", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase(".", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("321", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("f", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("f.2.3.4", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("1f.2.3.4", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("f1.2.3.4", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("1.2f.3.4", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("1.f2.3.4", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("1.2.3.4f", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("1.2.3.f4", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("1.2.3.f", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase("-.a.b", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a.-.b", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a.b.-", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("-aa.b.b", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("aa-.b.b", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a.-bb.b", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a.bb-.b", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a.b.-bb", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a.b.bb-", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a-a.b-b", hostnameWithWildcard: true, hostAddress: false),
        RegressionCase(":", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("::", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase(":::", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a::", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("::a", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("::1.2.3.4", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("a:a:a:a:a:1.2.3.4", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("a:a:a:a:a:a:1.2.3.4", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("a:a:a:a:a:a:a:1.2.3.4", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a:a:a:a:a:a:1.2.3.", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a:a:a:a:a:a:1.2.3", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a:a:a:a:a:a:a:a", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase("a:a:a:a:a:a:a:a:a", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("g:a:a:a:a:a:a:a", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a::b", hostnameWithWildcard: false, hostAddress: true),
        RegressionCase(":a::b", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("a::b:", hostnameWithWildcard: false, hostAddress: false),
        RegressionCase("*.foo.bar", hostnameWithWildcard: true, hostAddress: nil),
        RegressionCase("*foo.bar", hostnameWithWildcard: false, hostAddress: nil),
        RegressionCase("foo.*.bar", hostnameWithWildcard: false, hostAddress: nil),
        RegressionCase("foo*bar", hostnameWithWildcard: false, hostAddress: nil),
        RegressionCase("foo.bar*", hostnameWithWildcard: false, hostAddress: nil),
        RegressionCase("*", hostnameWithWildcard: false, hostAddress: nil),
    ]

    @Test(arguments: regressionCases)
    func postfixRegressionData(_ c: RegressionCase) {
        #expect(HostnameSyntax.isValidHostname(c.input, allowWildcard: true) == c.hostnameWithWildcard)
        // Without DO_WILDCARD a `*` is just another invalid character.
        let expectedPlain = c.hostnameWithWildcard && !c.input.contains("*")
        #expect(HostnameSyntax.isValidHostname(c.input) == expectedPlain)
        if let hostAddress = c.hostAddress {
            #expect(HostnameSyntax.isValidHostAddress(c.input) == hostAddress)
        }
    }

    // MARK: - Host names (spec §2.2 B)

    struct NameCase: Sendable, CustomTestStringConvertible {
        let name: String
        let valid: Bool
        let note: String
        init(_ name: String, _ valid: Bool, _ note: String = "") {
            self.name = name
            self.valid = valid
            self.note = note
        }
        var testDescription: String {
            let shown = name.utf8.count > 40 ? "\(name.prefix(20))… (\(name.utf8.count) bytes)" : name
            return "\"\(shown)\" \(valid ? "valid" : "invalid")\(note.isEmpty ? "" : " – \(note)")"
        }
    }

    static let label63 = String(repeating: "a", count: 63)

    static let nameCases: [NameCase] = [
        NameCase("mail.example.com", true),
        NameCase("", false, "empty"),
        NameCase("mail.example.com.", false, "trailing dot (callers strip one first)"),
        NameCase("mail.example.com..", false),
        NameCase(".", false),
        NameCase("..", false),
        NameCase(".example.com", false, "leading dot"),
        NameCase("example..com", false, "empty label"),
        NameCase("-foo.example.com", false, "leading hyphen"),
        NameCase("foo-.example.com", false, "hyphen ends label"),
        NameCase("foo.example.com-", false, "hyphen ends name"),
        NameCase("foo--bar.example.com", true, "inner double hyphen"),
        NameCase("xn--bcher-kva.example", true),
        NameCase("a-.b", false),
        NameCase("a.-b", false),
        NameCase("foo.-.com", false),
        NameCase("-", false),
        NameCase("_", true, "underscore alone"),
        NameCase("_._", true),
        NameCase("foo.bar_", true),
        NameCase("_foo.example.com", true),
        NameCase("foo_bar.example.com", true),
        NameCase("foo bar", false, "space"),
        NameCase("foo@example.com", false),
        NameCase("foo/bar.example.com", false),
        NameCase("foo*.example.com", false),
        NameCase("*.example.com", false, "wildcard needs DO_WILDCARD"),
        NameCase("foo.example.com:25", false),
        NameCase("\"quoted.example.com\"", false),
        NameCase("<foo.example.com>", false),
        NameCase("foo\\bar.example.com", false),
        NameCase("foo%bar.example", false),
        NameCase("bücher.example", false, "non-ASCII byte"),
        NameCase("foo?bar", false, "neutered name"),
        NameCase("123", false, "numeric"),
        NameCase("0", false, "numeric"),
        NameCase("123.456", false, "numeric"),
        NameCase("1.2.3.4", false, "numeric"),
        NameCase("1.2.3.4a", true),
        NameCase("foo.123", true),
        NameCase("0x1.2.3.4", true),
        NameCase("f.2.3.4", true),
        NameCase("1.2.3.f", true),
        NameCase("123.example.com", true),
        NameCase("1e100.net", true),
        NameCase("3com.com", true),
        NameCase("::1", false, "colon"),
        NameCase("IPv6:::1", false),
        NameCase("[1.2.3.4]", false),
        NameCase("LOCALHOST", true),
        NameCase("foo.example.c", true),
        NameCase(label63 + ".com", true, "63-byte label"),
        NameCase("a" + label63 + ".com", false, "64-byte label"),
        NameCase([label63, label63, label63, label63].joined(separator: "."), true, "255 bytes"),
        NameCase([label63, label63, label63, String(label63.dropLast()), "a"].joined(separator: "."), false, "256 bytes"),
        NameCase("foo\u{0}bar", false, "NUL byte"),
        NameCase("foo\tbar", false, "TAB"),
    ]

    @Test(arguments: nameCases)
    func hostname(_ c: NameCase) {
        #expect(HostnameSyntax.isValidHostname(c.name) == c.valid)
    }

    struct WildcardCase: Sendable, CustomTestStringConvertible {
        let name: String
        let valid: Bool
        var testDescription: String { "\"\(name)\" with DO_WILDCARD \(valid ? "valid" : "invalid")" }
    }

    @Test(arguments: [
        WildcardCase(name: "*.example.com", valid: true),
        WildcardCase(name: "*.example.test", valid: true),
        WildcardCase(name: "*", valid: false),
        WildcardCase(name: "*.", valid: false),
        WildcardCase(name: "**.example.com", valid: false),
        WildcardCase(name: "a.*.example.com", valid: false),
        WildcardCase(name: "*a.example.com", valid: false),
        WildcardCase(name: "*.123", valid: true),
    ])
    func wildcardHostname(_ c: WildcardCase) {
        #expect(HostnameSyntax.isValidHostname(c.name, allowWildcard: true) == c.valid)
    }

    // MARK: - Addresses (spec §2.2, §9)

    enum AddressTest: String, Sendable { case ipv4, ipv6, hostAddress, mailhostLiteral }

    struct AddressCase: Sendable, CustomTestStringConvertible {
        let test: AddressTest
        let text: String
        let valid: Bool
        init(_ test: AddressTest, _ text: String, _ valid: Bool) {
            self.test = test
            self.text = text
            self.valid = valid
        }
        var testDescription: String { "\(test.rawValue) \"\(text)\" \(valid ? "valid" : "invalid")" }
    }

    static let addressCases: [AddressCase] = [
        AddressCase(.ipv4, "1.2.3.4", true),
        AddressCase(.ipv4, "0.0.0.0", true),
        AddressCase(.ipv4, "00.0.0.0", true),
        AddressCase(.ipv4, "0.1.2.3", false),
        AddressCase(.ipv4, "01.2.3.4", true),
        AddressCase(.ipv4, "1.2.3.04", true),
        AddressCase(.ipv4, "0001.2.3.4", true),
        AddressCase(.ipv4, "255.255.255.255", true),
        AddressCase(.ipv4, "256.1.1.1", false),
        AddressCase(.ipv4, "1.2.3", false),
        AddressCase(.ipv4, "1.2.3.4.5", false),
        AddressCase(.ipv4, "1.2.3.4.", false),
        AddressCase(.ipv4, ".1.2.3.4", false),
        AddressCase(.ipv4, "1..2.3", false),
        AddressCase(.ipv4, "", false),
        AddressCase(.ipv4, "1.2.3.4:25", false),
        AddressCase(.ipv4, "99999999999999999999.1.1.1", false),
        AddressCase(.ipv6, "::", true),
        AddressCase(.ipv6, "::1", true),
        AddressCase(.ipv6, "2001:db8::1", true),
        AddressCase(.ipv6, "::ffff:1.2.3.4", true),
        AddressCase(.ipv6, "1:2:3:4:5:6:7:8", true),
        AddressCase(.ipv6, "1:2:3:4:5:6:7:8:9", false),
        AddressCase(.ipv6, "1:2", false),
        AddressCase(.ipv6, "1:2:3", true),
        AddressCase(.ipv6, "1:2:3:4:5:6:7", true),
        AddressCase(.ipv6, "1:2:3:4.5.6.7", true),
        AddressCase(.ipv6, "1:2:3:", false),
        AddressCase(.ipv6, "1.2.3.4", false),
        AddressCase(.ipv6, "2001:db8::g", false),
        AddressCase(.ipv6, "fe80::1%eth0", false),
        AddressCase(.ipv6, "12345::1", false),
        AddressCase(.ipv6, "::ffff:0.1.2.3", false),
        AddressCase(.ipv6, "::ffff:256.1.2.3", false),
        AddressCase(.ipv6, "", false),
        AddressCase(.hostAddress, "1.2.3.4", true),
        AddressCase(.hostAddress, "::1", true),
        AddressCase(.hostAddress, "::", true),
        AddressCase(.hostAddress, "1:2", false),
        AddressCase(.hostAddress, "IPv6:::1", false),
        AddressCase(.hostAddress, "", false),
        AddressCase(.mailhostLiteral, "1.2.3.4", true),
        AddressCase(.mailhostLiteral, "0.0.0.0", true),
        AddressCase(.mailhostLiteral, "01.2.3.4", true),
        AddressCase(.mailhostLiteral, "0.1.2.3", false),
        AddressCase(.mailhostLiteral, "127.0.0.1", true),
        AddressCase(.mailhostLiteral, "::1", false),
        AddressCase(.mailhostLiteral, "IPv6:::1", true),
        AddressCase(.mailhostLiteral, "ipv6:::1", true),
        AddressCase(.mailhostLiteral, "IPV6:::", true),
        AddressCase(.mailhostLiteral, "IPv6:2001:db8::1", true),
        AddressCase(.mailhostLiteral, "IPv6:::ffff:1.2.3.4", true),
        AddressCase(.mailhostLiteral, "IPv6:1:2:3:4:5:6:7:8", true),
        AddressCase(.mailhostLiteral, "IPv6:1:2:3", true),
        AddressCase(.mailhostLiteral, "IPv6:1:2:3:4:5:6:7:8:9", false),
        AddressCase(.mailhostLiteral, "IPv6:1.2.3.4", false),
        AddressCase(.mailhostLiteral, "IPv6:2001:db8::g", false),
        AddressCase(.mailhostLiteral, "IPv6:fe80::1%eth0", false),
        AddressCase(.mailhostLiteral, "ipv4:1.2.3.4", false),
        AddressCase(.mailhostLiteral, "IPv6", false),
        AddressCase(.mailhostLiteral, "", false),
        AddressCase(.mailhostLiteral, "mail.example.com", false),
        AddressCase(.mailhostLiteral, "256.1.1.1", false),
        AddressCase(.mailhostLiteral, "1.2.3", false),
    ]

    @Test(arguments: addressCases)
    func address(_ c: AddressCase) {
        let result: Bool
        switch c.test {
        case .ipv4: result = HostnameSyntax.isValidIPv4Address(c.text)
        case .ipv6: result = HostnameSyntax.isValidIPv6Address(c.text)
        case .hostAddress: result = HostnameSyntax.isValidHostAddress(c.text)
        case .mailhostLiteral: result = HostnameSyntax.isValidMailhostAddress(c.text)
        }
        #expect(result == c.valid)
    }

    // MARK: - Trailing dot

    struct DotCase: Sendable, CustomTestStringConvertible {
        let name: String
        let expected: String
        var testDescription: String { "\"\(name)\" → \"\(expected)\"" }
    }

    @Test(arguments: [
        DotCase(name: "foo.", expected: "foo"),
        DotCase(name: "mail.example.com.", expected: "mail.example.com"),
        DotCase(name: "foo..", expected: "foo.."),
        DotCase(name: ".", expected: "."),
        DotCase(name: "..", expected: ".."),
        DotCase(name: "a.", expected: "a"),
        DotCase(name: "foo", expected: "foo"),
        DotCase(name: "", expected: ""),
        DotCase(name: "bücher.", expected: "bücher"),
    ])
    func droppingOneTrailingDot(_ c: DotCase) {
        #expect(HostnameSyntax.droppingOneTrailingDot(c.name) == c.expected)
    }

    // MARK: - UTF-8 names and IDNA (spec §2.2 C, §6 item 23, §9)

    struct UTF8Case: Sendable, CustomTestStringConvertible {
        let name: String
        let smtputf8: Bool
        let valid: Bool
        var testDescription: String { "\"\(name)\" smtputf8=\(smtputf8) \(valid ? "valid" : "invalid")" }
    }

    @Test(arguments: [
        UTF8Case(name: "bücher.example", smtputf8: true, valid: true),
        UTF8Case(name: "bücher.example", smtputf8: false, valid: false),
        UTF8Case(name: "Bücher.Example", smtputf8: true, valid: true),
        UTF8Case(name: "mail.example.com", smtputf8: false, valid: true),
        UTF8Case(name: "mail.example.com", smtputf8: true, valid: true),
        UTF8Case(name: "localhost", smtputf8: true, valid: true),
        UTF8Case(name: "-foo.example.com", smtputf8: true, valid: false),
        UTF8Case(name: "1.2.3.4", smtputf8: true, valid: false),
        UTF8Case(name: "", smtputf8: true, valid: false),
        UTF8Case(name: "bücher.example.", smtputf8: true, valid: false),
        UTF8Case(name: "a..bücher.example", smtputf8: true, valid: false),
        UTF8Case(name: "foo bar.bücher.example", smtputf8: true, valid: false),
        UTF8Case(name: "*.bücher.example", smtputf8: true, valid: false),
        UTF8Case(name: "foo_bar.bücher.example", smtputf8: true, valid: true),
    ])
    func utf8Hostname(_ c: UTF8Case) {
        #expect(HostnameSyntax.isValidUTF8Hostname(c.name, smtputf8: c.smtputf8) == c.valid)
    }

    struct IDNACase: Sendable, CustomTestStringConvertible {
        let name: String
        let ascii: String?
        var testDescription: String { "\"\(name)\" → \(ascii.map { "\"\($0)\"" } ?? "nil")" }

        /// An A-label name of exactly `length` bytes: `xn--tda` (`ü`) and labels of `a`.
        static func longASCII(_ length: Int) -> String {
            var name = "xn--tda"
            while name.utf8.count < length {
                let room = length - name.utf8.count - 1
                precondition(room > 0, "no room for a label")
                name += "." + String(repeating: "a", count: min(63, room))
            }
            return name
        }

        /// The UTF-8 name whose A-label form is ``longASCII(_:)`` of `asciiLength` bytes.
        static func longName(asciiLength: Int) -> String {
            "ü" + longASCII(asciiLength).dropFirst("xn--tda".utf8.count)
        }
    }

    @Test(arguments: [
        IDNACase(name: "bücher.example", ascii: "xn--bcher-kva.example"),
        IDNACase(name: "BÜCHER.example", ascii: "xn--bcher-kva.example"),
        IDNACase(name: "bu\u{0308}cher.example", ascii: "xn--bcher-kva.example"),
        IDNACase(name: "müller.example.net", ascii: "xn--mller-kva.example.net"),
        IDNACase(name: "faß.de", ascii: "xn--fa-hia.de"),
        IDNACase(name: "mail.example.com", ascii: "mail.example.com"),
        IDNACase(name: "MAIL.Example.COM", ascii: "mail.example.com"),
        IDNACase(name: "", ascii: nil),
        IDNACase(name: "-bücher.example", ascii: nil),
        IDNACase(name: "a..bücher.example", ascii: nil),
        IDNACase(name: "bücher\u{0}.example", ascii: nil),
        IDNACase(name: String(repeating: "ü", count: 70) + ".example", ascii: nil),
        // ICU's UTS #46 without STD3 rules or IDNA2008 code point checks, as Postfix uses it.
        IDNACase(name: "☃.example.org", ascii: "xn--n3h.example.org"),
        IDNACase(name: "emoji😀.example.org", ascii: "xn--emoji-3224d.example.org"),
        IDNACase(name: "ẞ.example", ascii: "ss.example"),
        IDNACase(name: "ΣΑΣ.example", ascii: "xn--mxa9ab.example"),
        IDNACase(name: "foo_bär.example", ascii: "xn--foo_br-fua.example"),
        // Names ICU refuses (a UIDNAInfo error bit) although valid_hostname() would pass the
        // ASCII form, and one it converts that valid_hostname() then refuses.
        IDNACase(name: "ab--c.bücher.example", ascii: nil),
        IDNACase(name: "xn--zz.bücher.example", ascii: nil),
        IDNACase(name: "\u{FFFD}.bücher.example", ascii: nil),
        IDNACase(name: "bücher.example/x", ascii: nil),
        // Length limits: 63-byte labels, 253-byte names (after conversion).
        IDNACase(name: String(repeating: "a", count: 63) + ".ü", ascii: String(repeating: "a", count: 63) + ".xn--tda"),
        IDNACase(name: String(repeating: "a", count: 64) + ".ü", ascii: nil),
        IDNACase(name: IDNACase.longName(asciiLength: 253), ascii: IDNACase.longASCII(253)),
        IDNACase(name: IDNACase.longName(asciiLength: 254), ascii: nil),
    ])
    func idnaToASCII(_ c: IDNACase) {
        #expect(IDNA.toASCII(c.name) == c.ascii)
    }

    /// Postfix (ICU UTS #46, spec §9) finds `☃.example.org` and `emoji😀.example.org` valid under
    /// SMTPUTF8, so they pass reject_non_fqdn_helo_hostname.
    @Test(arguments: ["☃.example.org", "emoji😀.example.org"])
    func symbolNamesAreValidUnderSMTPUTF8(_ name: String) {
        #expect(HostnameSyntax.isValidUTF8Hostname(name, smtputf8: true))
        #expect(!HostnameSyntax.isValidUTF8Hostname(name, smtputf8: false))
    }
}
