import Foundation
import Testing
@testable import HeloPolicy

/// Bad configurations are refused with an error naming the file and line; broken table
/// content that Postfix tolerates is reported but does not stop heloguard.
struct ConfigErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        var files: [String: String] = [:]
        /// Expected `file:line: error: …` text, with `@CONF@` for the configuration path and
        /// `@DIR@` for the directory.
        let expected: String
        var testDescription: String { name }
    }

    static let fatal: [Case] = [
        Case(name: "line without =", config: "# comment\nsmtpd_helo_required yes\n",
             expected: "@CONF@:2: error: missing '='"),
        Case(name: "unknown restriction", config: "smtpd_helo_restrictions =\n  permit_mynetworks,\n  reject_bogus_thing\n",
             expected: "@CONF@:1: error: unknown restriction \"reject_bogus_thing\""),
        Case(name: "restriction a milter cannot implement", config: "smtpd_helo_restrictions = reject_unauth_pipelining\n",
             expected: "@CONF@:1: error: restriction \"reject_unauth_pipelining\" is not supported by heloguard: a milter cannot see Postfix's pipelining flag"),
        Case(name: "check_helo_access without a table", config: "\nsmtpd_helo_restrictions = check_helo_access, reject\n",
             expected: "@CONF@:2: error: restriction check_helo_access: bad argument \"reject\": need maptype:mapname"),
        Case(name: "unsupported table type", config: "smtpd_helo_restrictions = check_helo_access ldap:/etc/x.cf\n",
             expected: "@CONF@:1: error: "),
        Case(name: "missing table file", config: "smtpd_helo_restrictions = check_helo_access hash:@DIR@/missing\n",
             expected: "@CONF@:1: error: cannot open hash:@DIR@/missing"),
        Case(name: "non-numeric reply code", config: "non_fqdn_reject_code = five-oh-four\n",
             expected: "@CONF@:1: error: "),
        Case(name: "reply code out of range", config: "\n\ninvalid_hostname_reject_code = 250\n",
             expected: "@CONF@:3: error: "),
        Case(name: "bad boolean", config: "smtpd_delay_reject = maybe\n", expected: "@CONF@:1: error: "),
        Case(name: "sleep without seconds", config: "smtpd_helo_restrictions = sleep\n",
             expected: "@CONF@:1: error: restriction sleep must be followed by a number of seconds"),
        Case(name: "sleep longer than the command budget", config: "\nsmtpd_helo_restrictions = sleep 26, reject_non_fqdn_helo_hostname\n",
             expected: "@CONF@:2: error: restriction sleep 26: at most 25 seconds, so that heloguard answers before Postfix's milter_command_timeout (30 s) gives up on it"),
        Case(name: "dns_timeout longer than the command budget", config: "\n\ndns_timeout = 26s\n",
             expected: "@CONF@:3: error: dns_timeout = 26s: at most 25s, so that heloguard answers each SMTP command within 25 s"),
        Case(name: "sleeps and dns_timeout together over the budget",
             config: "dns_timeout = 10s\nsmtpd_helo_restrictions = sleep 10, reject_non_fqdn_helo_hostname, sleep 6\n",
             expected: "@CONF@:2: error: smtpd_helo_restrictions can sleep 16 s in one evaluation, and with dns_timeout (10 s) that is more than 25 s"),
        Case(name: "a class named twice counts twice",
             config: "smtpd_restriction_classes = slow\nslow = sleep 8\nsmtpd_helo_restrictions = slow, slow\n",
             expected: "@CONF@:3: error: smtpd_helo_restrictions can sleep 16 s in one evaluation, and with dns_timeout (10 s) that is more than 25 s"),
        Case(name: "class that refers to itself",
             config: "smtpd_restriction_classes = loop\nloop = permit_mynetworks, loop\nsmtpd_helo_restrictions = loop\n",
             expected: "@CONF@:2: error: restriction class \"loop\" refers to itself"),
        Case(name: "bad impersonation address", config: "impersonation_addresses = 192.0.2.1 not-an-ip\n",
             expected: "@CONF@:1: error: impersonation_addresses: \"not-an-ip\" is not an IPv4 or IPv6 address"),
        Case(name: "bad mynetworks entry", config: "mynetworks = 192.0.2.0/33\n", expected: "@CONF@:1: error: "),
        Case(name: "bad dns_servers entry", config: "# DNS\ndns_servers = 127.0.0.1, resolver.example\n",
             expected: "@CONF@:2: error: dns_servers: bad entry \"resolver.example\": not an IPv4 or IPv6 address"),
        Case(name: "bad dns_timeout", config: "dns_timeout = soon\n",
             expected: "@CONF@:1: error: parameter dns_timeout: bad time value or unit: soon"),
        Case(name: "zero dns_timeout", config: "\ndns_timeout = 0\n",
             expected: "@CONF@:2: error: invalid dns_timeout: 0 (must be greater than zero)"),
        Case(name: "bad dns_rr_list_limit", config: "dns_rr_list_limit = -1\n",
             expected: "@CONF@:1: error: invalid dns_rr_list_limit: -1 (must be greater than zero)"),
        Case(name: "bad RHSBL reply pattern", config: "smtpd_helo_restrictions = reject_rhsbl_helo rhsbl.test=127.0.0.x\n",
             expected: "@CONF@:1: error: restriction reject_rhsbl_helo rhsbl.test=127.0.0.x: RBL reply error: need decimal number 0..255 or \"[\" at \"127.0.0.>x<\""),
        Case(name: "bad default_rbl_reply", config: "\ndefault_rbl_reply = $rbl_code listed by $rbl_where\n",
             expected: "@CONF@:2: error: bad default_rbl_reply template: unknown macro name \"rbl_where\" in expansion request"),
        Case(name: "default_rbl_reply syntax error", config: "default_rbl_reply = $rbl_code ${rbl_what\n",
             expected: "@CONF@:1: error: bad default_rbl_reply template: truncated macro reference"),
        Case(name: "rbl_reply_maps entry that is not a table", config: "rbl_reply_maps = replies\n",
             expected: "@CONF@:1: error: rbl_reply_maps: \"replies\" is not a table (use type:name)"),
        Case(name: "bad penalty_box_ttl", config: "\npenalty_box_ttl = forever\n",
             expected: "@CONF@:2: error: parameter penalty_box_ttl: bad time value or unit: forever"),
        Case(name: "bad helo_log_sample", config: "helo_log_sample = half\n",
             expected: "@CONF@:1: error: bad numerical configuration: helo_log_sample = half"),
        Case(name: "missing rbl_reply_maps table", config: "rbl_reply_maps = hash:@DIR@/missing\n",
             expected: "@CONF@:1: error: cannot open hash:@DIR@/missing"),
    ]

    static func substitute(_ text: String, directory: String) -> String {
        text.replacingOccurrences(of: "@CONF@", with: directory + "/heloguard.conf").replacingOccurrences(of: "@DIR@", with: directory)
    }

    static func withDirectory<T>(_ files: [String: String], _ body: (String) throws -> T) throws -> T {
        let directory = NSTemporaryDirectory() + "heloguard-conf-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (name, text) in files {
            try substitute(text, directory: directory).write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        return try body(directory)
    }

    @Test(arguments: fatal)
    func refusedWithFileAndLine(_ c: Case) throws {
        try Self.withDirectory(c.files) { directory in
            let path = directory + "/heloguard.conf"
            try Self.substitute(c.config, directory: directory).write(toFile: path, atomically: true, encoding: .utf8)
            do throws(ConfigError) {
                _ = try ConfigurationLoader.load(path: path, interfaces: [])
                Issue.record("configuration was accepted")
            } catch {
                let expected = Self.substitute(c.expected, directory: directory)
                #expect(error.diagnostics.contains { $0.severity == .error && $0.description.hasPrefix(expected) },
                        "got: \(error.diagnostics.map(\.description))")
            }
        }
    }

    static let tolerated: [Case] = [
        Case(name: "texthash duplicate key", config: "smtpd_helo_restrictions = check_helo_access texthash:@DIR@/t\n",
             files: ["t": "a.example REJECT\n\na.example OK\n"], expected: "@DIR@/t:3: error: "),
        Case(name: "regexp syntax error", config: "smtpd_helo_restrictions = check_helo_access regexp:@DIR@/re\n",
             files: ["re": "/ok/ REJECT\n/(unbalanced/ REJECT\n"], expected: "@DIR@/re:2: error: "),
        Case(name: "regexp rule without result", config: "smtpd_helo_restrictions = check_helo_access regexp:@DIR@/re\n",
             files: ["re": "/x/\n"], expected: "@DIR@/re:1: error: no replacement text"),
        Case(name: "cidr host bits set", config: "smtpd_helo_restrictions = check_helo_access cidr:@DIR@/c\n",
             files: ["c": "# nets\n192.0.2.1/24 REJECT\n"], expected: "@DIR@/c:2: error: "),
        Case(name: "hash duplicate key is a warning", config: "smtpd_helo_restrictions = check_helo_access hash:@DIR@/h\n",
             files: ["h": "a.example REJECT\na.example OK\n"], expected: "@DIR@/h:2: warning: "),
        Case(name: "unusable template in rbl_reply_maps", config: "\nrbl_reply_maps = texthash:@DIR@/rbl\n",
             files: ["rbl": "rbl.example 554 ok $rbl_what\nother.example 554 ${rbl_what\n"],
             expected: "@CONF@:2: warning: texthash:@DIR@/rbl line 2: bad rbl reply template \"554 ${rbl_what\" (truncated macro reference: \"554 ${rbl_what\"); default_rbl_reply is used instead"),
    ]

    @Test(arguments: tolerated)
    func reportedButTolerated(_ c: Case) throws {
        try Self.withDirectory(c.files) { directory in
            let loaded = try ConfigurationLoader.load(text: Self.substitute(c.config, directory: directory),
                                                      file: directory + "/heloguard.conf", interfaces: [])
            let expected = Self.substitute(c.expected, directory: directory)
            #expect(loaded.diagnostics.contains { $0.description.hasPrefix(expected) }, "got: \(loaded.diagnostics.map(\.description))")
        }
    }

    @Test func unknownParameterIsAWarningNamingTheLine() throws {
        let loaded = try ConfigurationLoader.load(text: "\nsmtpd_helo_restrictons = reject\n", file: "/etc/heloguard/heloguard.conf", interfaces: [])
        #expect(loaded.diagnostics.contains { $0.severity == .warning && $0.description.hasPrefix("/etc/heloguard/heloguard.conf:2: warning: unknown parameter") })
    }
}
