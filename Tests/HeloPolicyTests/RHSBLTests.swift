import Foundation
import Testing
@testable import HeloPolicy

/// `reject_rhsbl_helo` (postfix-helo-semantics §2.8): what is queried, the verified default
/// reply, patterns, and reply templates from `rbl_reply_maps` / `default_rbl_reply`.
struct RHSBLTests {
    static let ok = "250 2.1.5 Ok"

    static let zone: ScriptedResolver.Zone = [
        "listed.example.test.rhsbl.test": [.a: .records(["127.0.0.2"]), .txt: .records(["Listed for testing"])],
        "notxt.example.test.rhsbl.test": [.a: .records(["127.0.0.2"])],
        "multi.example.test.rhsbl.test": [.a: .records(["127.0.0.4"]), .txt: .records(["first reason", "second reason"])],
        "long.example.test.rhsbl.test": [.a: .records(["127.0.0.2"]),
                                         .txt: .records([String(repeating: "x", count: 300), String(repeating: "y", count: 300)])],
        "odd.example.test.rhsbl.test": [.a: .records(["127.0.0.2"]), .txt: .records(["bad\u{7F}char é"])],
        "xn--bcher-kva.example.rhsbl.test": [.a: .records(["127.0.0.2"])],
        "tempfail.example.test.rhsbl.test": ScriptedResolver.every(.temporaryFailure("SERVFAIL")),
        "failed.example.test.rhsbl.test": [.a: .failed("REFUSED")],
        "garbled.example.test.rhsbl.test": [.a: .malformed("bad packet")],
    ]

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var argument = "rhsbl.test"
        let helo: String
        var config = ""
        var files: [String: String] = [:]
        let expected: String
        var warnings: [String] = []
        var asked: [String]? = nil
        var testDescription: String { name }
    }

    static func blocked(_ helo: String, _ reason: String? = nil, code: String = "554 5.7.1", using: String = "rhsbl.test") -> String {
        "\(code) Service unavailable; Helo command [\(helo)] blocked using \(using)\(reason.map { "; \($0)" } ?? "")"
    }

    static let cases: [Case] = [
        // What is asked, and the verified default reply.
        Case(name: "listed with TXT (verified reply)", helo: "listed.example.test",
             expected: blocked("listed.example.test", "Listed for testing"),
             asked: ["A listed.example.test.rhsbl.test", "TXT listed.example.test.rhsbl.test"]),
        Case(name: "listed without TXT: no reason part", helo: "notxt.example.test", expected: blocked("notxt.example.test")),
        Case(name: "not listed: A only", helo: "clean.example.test", expected: ok, asked: ["A clean.example.test.rhsbl.test"]),
        Case(name: "several TXT records joined with ' / '", helo: "multi.example.test",
             expected: blocked("multi.example.test", "first reason / second reason")),
        Case(name: "TXT cut at 500 bytes", helo: "long.example.test",
             expected: blocked("long.example.test", String(repeating: "x", count: 300) + " / " + String(repeating: "y", count: 197))),
        Case(name: "TXT filtered through smtpd_expansion_filter", helo: "odd.example.test",
             expected: blocked("odd.example.test", "bad_char __")),
        Case(name: "non-ASCII name asked in A-label form, shown filtered", helo: "bücher.example",
             expected: blocked("b__cher.example"), asked: ["A xn--bcher-kva.example.rhsbl.test", "TXT xn--bcher-kva.example.rhsbl.test"]),
        Case(name: "maps_rbl_reject_code = 550", helo: "listed.example.test", config: "maps_rbl_reject_code = 550",
             expected: blocked("listed.example.test", "Listed for testing", code: "550 5.7.1")),
        // Patterns.
        Case(name: "pattern matches; $rbl_domain has no pattern", argument: "rhsbl.test=127.0.0.2", helo: "listed.example.test",
             expected: blocked("listed.example.test", "Listed for testing")),
        Case(name: "pattern does not match: no TXT query", argument: "rhsbl.test=127.0.0.[3..5]", helo: "listed.example.test",
             expected: ok, asked: ["A listed.example.test.rhsbl.test"]),
        Case(name: "pattern range matches", argument: "rhsbl.test=127.0.0.[3..5]", helo: "multi.example.test",
             expected: blocked("multi.example.test", "first reason / second reason")),
        Case(name: "pattern list matches", argument: "rhsbl.test=127.0.[0;1].[1;2;10..20]", helo: "listed.example.test",
             expected: blocked("listed.example.test", "Listed for testing")),
        Case(name: "whole pattern in brackets", argument: "rhsbl.test=[127.0.0.2]", helo: "notxt.example.test",
             expected: blocked("notxt.example.test")),
        // Lookup errors are logged, never a deferral.
        Case(name: "tempfail: warning, DUNNO (verified text)", helo: "tempfail.example.test", expected: ok,
             warnings: ["tempfail.example.test.rhsbl.test: RBL lookup error: Host or domain name not found. Name service error for name=tempfail.example.test.rhsbl.test type=A: Host not found, try again"]),
        Case(name: "failure: warning, DUNNO", helo: "failed.example.test", expected: ok,
             warnings: ["failed.example.test.rhsbl.test: RBL lookup error: Host or domain name not found. Name service error for name=failed.example.test.rhsbl.test type=A: Non-recoverable error"]),
        Case(name: "malformed reply: warning, DUNNO", helo: "garbled.example.test", expected: ok,
             warnings: ["garbled.example.test.rhsbl.test: RBL lookup error: Name service error for name=garbled.example.test.rhsbl.test type=A: Malformed or unexpected name server reply"]),
        // Names that are never asked.
        Case(name: "trailing dot: not asked (verified)", helo: "listed.example.test.", expected: ok, asked: []),
        Case(name: "bare IPv4: not asked", helo: "192.0.2.1", expected: ok, asked: []),
        Case(name: "address literal: not asked", helo: "[192.0.2.1]", expected: ok, asked: []),
        Case(name: "numeric last label: not asked", helo: "foo.123", expected: ok, asked: []),
        Case(name: "invalid name: not asked", helo: "foo bar.example.test", expected: ok, asked: []),
        Case(name: "bare IPv6: not asked", helo: "2001:db8::1", expected: ok, asked: []),
        // Templates from rbl_reply_maps.
        Case(name: "template by full argument renders $rbl_code $rbl_what $client $rbl_domain $rbl_class",
             argument: "rhsbl.test=127.0.0.2", helo: "listed.example.test", config: "rbl_reply_maps = texthash:@DIR@/rbl",
             files: ["rbl": "rhsbl.test=127.0.0.2 550 5.7.9 [$rbl_code] $rbl_what from $client listed by $rbl_domain ($rbl_class)\n"],
             expected: "550 5.7.9 [554] listed.example.test from unknown[127.0.0.1] listed by rhsbl.test (Helo command)"),
        Case(name: "template by bare domain for an argument with a pattern (Postfix 3.10+)",
             argument: "rhsbl.test=127.0.0.2", helo: "listed.example.test", config: "rbl_reply_maps = texthash:@DIR@/rbl",
             files: ["rbl": "rhsbl.test 551 by domain: $rbl_reason\n"],
             expected: "551 5.7.1 by domain: Listed for testing"),
        Case(name: "the full argument wins over the bare domain",
             argument: "rhsbl.test=127.0.0.2", helo: "listed.example.test", config: "rbl_reply_maps = texthash:@DIR@/rbl",
             files: ["rbl": "rhsbl.test 551 by domain\nrhsbl.test=127.0.0.2 552 by argument\n"],
             expected: "552 5.7.1 by argument"),
        Case(name: "template from an inline table ($$ survives main.cf expansion)", helo: "listed.example.test",
             config: "rbl_reply_maps = inline:{ { rhsbl.test = 451 4.7.1 $$rbl_what is listed: $$rbl_txt } }",
             expected: "451 4.7.1 listed.example.test is listed: Listed for testing"),
        Case(name: "${name:text} when the name is empty", helo: "notxt.example.test", config: "rbl_reply_maps = texthash:@DIR@/rbl",
             files: ["rbl": "rhsbl.test 554 $rbl_what: ${rbl_reason:no reason given}${rbl_reason?never}\n"],
             expected: "554 5.7.1 notxt.example.test: no reason given"),
        Case(name: "sender and recipient names", helo: "listed.example.test", config: "rbl_reply_maps = texthash:@DIR@/rbl",
             files: ["rbl": "rhsbl.test 554 $sender_name at $sender_domain to $recipient ($recipient_name@$recipient_domain) helo $helo_name\n"],
             expected: "554 5.7.1 a at example.org to b@mx.example.test (b@mx.example.test) helo listed.example.test"),
        Case(name: "client names", helo: "listed.example.test", config: "rbl_reply_maps = texthash:@DIR@/rbl\nmyhostname = mx.example.net",
             files: ["rbl": "rhsbl.test 554 $client_name $client_address $client_port $reverse_client_name $server_name\n"],
             expected: "554 5.7.1 unknown 127.0.0.1 unknown unknown mx.example.net"),
        Case(name: "address DSN X.1.Y becomes X.0.0", helo: "listed.example.test", config: "rbl_reply_maps = texthash:@DIR@/rbl",
             files: ["rbl": "rhsbl.test 553 5.1.1 bad sender host\n"],
             expected: "553 5.0.0 bad sender host"),
        Case(name: "DSN class follows the reply code", helo: "listed.example.test", config: "rbl_reply_maps = texthash:@DIR@/rbl",
             files: ["rbl": "rhsbl.test 450 5.7.1 try later\n"],
             expected: "450 4.7.1 try later"),
        Case(name: "no code: warning and 450 4.7.1 Service unavailable", helo: "listed.example.test",
             config: "rbl_reply_maps = texthash:@DIR@/rbl", files: ["rbl": "rhsbl.test Blocked: $rbl_what\n"],
             expected: "450 4.7.1 Service unavailable",
             warnings: ["rbl response code configuration error: Blocked: listed.example.test"]),
        Case(name: "2xx code: warning and 450 4.7.1 Service unavailable", helo: "listed.example.test",
             config: "rbl_reply_maps = texthash:@DIR@/rbl", files: ["rbl": "rhsbl.test 250 fine\n"],
             expected: "450 4.7.1 Service unavailable",
             warnings: ["rbl response code configuration error: 250 fine"]),
        Case(name: "unknown name: warnings and the default template", helo: "listed.example.test",
             config: "rbl_reply_maps = texthash:@DIR@/rbl", files: ["rbl": "rhsbl.test 554 $rbl_bogus\n"],
             expected: blocked("listed.example.test", "Listed for testing"),
             warnings: ["unknown macro name \"rbl_bogus\" in expansion request",
                        "rbl_reject_reply: bad rbl reply template for domain rhsbl.test: 554 $rbl_bogus"]),
        Case(name: "syntax error: warnings and the default template", helo: "listed.example.test",
             config: "rbl_reply_maps = texthash:@DIR@/rbl", files: ["rbl": "rhsbl.test 554 ${rbl_what\n"],
             expected: blocked("listed.example.test", "Listed for testing"),
             warnings: ["truncated macro reference: \"554 ${rbl_what\"",
                        "rbl_reject_reply: bad rbl reply template for domain rhsbl.test: 554 ${rbl_what"]),
        Case(name: "unknown name in a condition only warns", helo: "listed.example.test",
             config: "rbl_reply_maps = texthash:@DIR@/rbl", files: ["rbl": "rhsbl.test 554 listed${bogus?: never}\n"],
             expected: "554 5.7.1 listed", warnings: ["unknown macro name \"bogus\" in expansion request"]),
        Case(name: "$rbl_code follows maps_rbl_reject_code", helo: "listed.example.test",
             config: "maps_rbl_reject_code = 550\nrbl_reply_maps = texthash:@DIR@/rbl", files: ["rbl": "rhsbl.test $rbl_code $rbl_what\n"],
             expected: "550 5.7.1 listed.example.test"),
        Case(name: "a value is not expanded again", helo: "listed.example.test",
             config: "rbl_reply_maps = texthash:@DIR@/rbl", files: ["rbl": "rhsbl.test 554 $$rbl_what=$rbl_what\n"],
             expected: "554 5.7.1 $rbl_what=listed.example.test"),
        Case(name: "a failing table is a server configuration error", helo: "listed.example.test",
             config: "rbl_reply_maps = texthash:@DIR@/rbl", files: ["rbl": "rhsbl.test 554 one\nrhsbl.test 554 two\n"],
             expected: "451 4.3.5 Server configuration error",
             warnings: ["texthash:@DIR@/rbl: table lookup of \"rhsbl.test\" failed: texthash:@DIR@/rbl is unavailable. @DIR@/rbl, line 2: duplicate entry: \"rhsbl.test\""]),
        Case(name: "default_rbl_reply can be changed", helo: "listed.example.test",
             config: "default_rbl_reply = $rbl_code Go away, $rbl_what",
             expected: "554 5.7.1 Go away, listed.example.test"),
        Case(name: "smtpd_expansion_filter limits what values bring, not the template's text", helo: "listed.example.test",
             config: "smtpd_expansion_filter = 0123456789abcdefghijklmnopqrstuvwxyz.\\40",
             expected: "554 5.7.1 Service unavailable; _elo command [listed.example.test] blocked using rhsbl.test; _isted for testing"),
    ]

    @Test(arguments: cases)
    func rhsbl(_ c: Case) throws {
        let resolver = ScriptedResolver(Self.zone)
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = reject_rhsbl_helo \(c.argument)
            \(c.config)
            """, files: c.files, resolver: resolver)
        let decision = fixture.decision(helo: c.helo)
        #expect((decision.verdict.reply?.line ?? Self.ok) == c.expected)
        #expect(decision.events.filter { $0.kind == .warning }.map(\.text)
                == c.warnings.map { $0.replacingOccurrences(of: "@DIR@", with: fixture.directory) })
        if let asked = c.asked {
            #expect(resolver.questionTexts == asked)
        }
    }

    @Test func addressDSNMappingIsNoted() throws {
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = reject_rhsbl_helo rhsbl.test
            rbl_reply_maps = texthash:@DIR@/rbl
            """, files: ["rbl": "rhsbl.test 553 5.1.1 bad sender host\n"], resolver: ScriptedResolver(Self.zone))
        let events = fixture.decision(helo: "listed.example.test").events
        #expect(events.contains(PolicyLogEvent(.note, "mapping DSN status 5.1.1 into Helo command status 5.0.0")))
        #expect(events.last == PolicyLogEvent(.reject, "553 5.0.0 bad sender host"))
    }

    @Test func badTemplatesInTablesAreReportedAtLoad() throws {
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = reject_rhsbl_helo rhsbl.test
            rbl_reply_maps = texthash:@DIR@/rbl
            """, files: ["rbl": "rhsbl.test 554 $rbl_bogus\n"], resolver: ScriptedResolver(Self.zone))
        #expect(fixture.diagnostics.contains { $0.severity == .warning && $0.message.contains("line 1: bad rbl reply template") })
    }

    @Test func delayOffReplyAtHelo() throws {
        let resolver = ScriptedResolver(Self.zone)
        let fixture = try PolicyFixture("smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_rhsbl_helo rhsbl.test",
                                        resolver: resolver)
        let outcome = fixture.engine.play(SessionScript(helos: ["listed.example.test"], recipients: ["b@mx.example.test"]))
        #expect(outcome.helos[0].refusal?.line == Self.blocked("listed.example.test", "Listed for testing"))
    }

    /// `$sender` forms before MAIL (delay off, at HELO) are empty; the null sender shows as `<>`.
    @Test func senderFormsOutsideATransaction() throws {
        let fixture = try PolicyFixture("""
            smtpd_delay_reject = no
            smtpd_helo_restrictions = reject_rhsbl_helo rhsbl.test
            rbl_reply_maps = texthash:@DIR@/rbl
            """, files: ["rbl": "rhsbl.test 554 [$sender] [$recipient_domain]\n"], resolver: ScriptedResolver(Self.zone))
        let outcome = fixture.engine.play(SessionScript(helos: ["listed.example.test"], recipients: ["b@mx.example.test"]))
        #expect(outcome.helos[0].refusal?.line == "554 5.7.1 [] []")
        let nullSender = try PolicyFixture("""
            smtpd_helo_restrictions = reject_rhsbl_helo rhsbl.test
            rbl_reply_maps = texthash:@DIR@/rbl
            """, files: ["rbl": "rhsbl.test 554 [$sender] [$sender_name] [$sender_domain]\n"], resolver: ScriptedResolver(Self.zone))
        #expect(nullSender.reply(helo: "listed.example.test", sender: "<>") == "554 5.7.1 [<>] [<>] []")
    }

    struct PatternCase: Sendable, CustomTestStringConvertible {
        let pattern: String
        let address: String
        /// nil: the pattern is refused with this error.
        let matches: Bool?
        var error: String? = nil
        var testDescription: String { "\(pattern) ~ \(address)" }
    }

    static let patterns: [PatternCase] = [
        PatternCase(pattern: "127.0.0.2", address: "127.0.0.2", matches: true),
        PatternCase(pattern: "127.0.0.2", address: "127.0.0.3", matches: false),
        PatternCase(pattern: "127.0.0.[2..11]", address: "127.0.0.11", matches: true),
        PatternCase(pattern: "127.0.0.[2..11]", address: "127.0.0.12", matches: false),
        PatternCase(pattern: "127.0.0.[2;4;10..20]", address: "127.0.0.4", matches: true),
        PatternCase(pattern: "127.0.0.[2;4;10..20]", address: "127.0.0.3", matches: false),
        PatternCase(pattern: "127.[0..255].[0;1].2", address: "127.9.1.2", matches: true),
        PatternCase(pattern: "[127.0.0.2]", address: "127.0.0.2", matches: true),
        PatternCase(pattern: "127.0.0.2", address: "2001:db8::2", matches: false),
        PatternCase(pattern: "127.0.0", address: "", matches: nil, error: "need \".\" at \"127.0.0><\""),
        PatternCase(pattern: "127.0.0.x", address: "", matches: nil, error: "need decimal number 0..255 or \"[\" at \"127.0.0.>x<\""),
        PatternCase(pattern: "127.0.0.256", address: "", matches: nil, error: "need decimal number 0..255 or \"[\" at \"127.0.0.>256<\""),
        PatternCase(pattern: "127.0.0.[5..2]", address: "", matches: nil, error: "numeric range error at \"127.0.0.[5..>2<]\""),
        PatternCase(pattern: "127.0.0.[2", address: "", matches: nil, error: "need \";\" or \"]\" at \"127.0.0.[2><\""),
        PatternCase(pattern: "127.0.0.2.1", address: "", matches: nil, error: "garbage after pattern at \"127.0.0.2>.<1\""),
        PatternCase(pattern: "", address: "", matches: nil, error: "empty address pattern"),
        PatternCase(pattern: "[127.0.0.2", address: "", matches: nil, error: "missing \"]\" character"),
    ]

    @Test(arguments: patterns)
    func ipMatchPatterns(_ c: PatternCase) {
        switch IPMatchPattern.parse(c.pattern) {
        case .success(let pattern):
            #expect(c.matches == pattern.matches(c.address))
        case .failure(let error):
            #expect(c.matches == nil)
            #expect(error.description == c.error)
        }
    }
}
