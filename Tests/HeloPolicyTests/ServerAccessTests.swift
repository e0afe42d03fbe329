import Testing
@testable import HeloPolicy

/// `check_helo_a_access`, `check_helo_mx_access`, `check_helo_ns_access`
/// (postfix-helo-semantics §2.7; Postfix's `check_server_access()`).
struct ServerAccessTests {
    static let ok = "250 2.1.5 Ok"

    static let zone: ScriptedResolver.Zone = [
        "bad.example.test": [.a: .records(["203.0.113.66"])],
        "good.example.test": [.a: .records(["192.0.2.10"])],
        "two.example.test": [.a: .records(["192.0.2.50", "203.0.113.66"])],
        "v6.example.test": [.aaaa: .records(["2001:db8:0:0:0:0:0:66"])],
        "net.example.test": [.a: .records(["198.51.100.77"])],
        "badmx.example.test": [.mx: .records(["mx1.badmx.example.test"])],
        "mx1.badmx.example.test": [.a: .records(["192.0.2.20"])],
        "mxaddr.example.test": [.mx: .records(["mx.mxaddr.example.test"])],
        "mx.mxaddr.example.test": [.a: .records(["203.0.113.67"])],
        "nomx.example.test": [.a: .records(["203.0.113.67"])],
        "parentmx.example.test": [.mx: .records(["mx.hosting.example"])],
        "twomx.example.test": [.mx: .records(["mx-a.example.test", "mx-b.example.test"])],
        "mx-a.example.test": [.a: .records(["192.0.2.31"])],
        "mx-b.example.test": [.a: .records(["203.0.113.67"])],
        "ipmx.example.test": [.mx: .records(["203.0.113.67"])],
        "nullmx.example.test": [.mx: .nullMX, .a: .records(["203.0.113.66"])],
        "tempfail.example.test": ScriptedResolver.every(.temporaryFailure("SERVFAIL")),
        "failmx.example.test": [.mx: .failed("REFUSED")],
        "badreply.example.test": [.mx: .malformed("bad packet")],
        "gone.example.test": [.mx: .records(["mx.gone.example.test"])],
        "slowmx.example.test": [.mx: .records(["mx.slow.example.test"])],
        "mx.slow.example.test": ScriptedResolver.every(.temporaryFailure("timeout")),
        "badns.example.test": [.ns: .records(["ns1.badns.example.test"])],
        "nsaddr.example.test": [.ns: .records(["ns.nsaddr.example.test"])],
        "ns.nsaddr.example.test": [.a: .records(["203.0.113.69"])],
        "tf.example.test": [.ns: .temporaryFailure("SERVFAIL")],
        "ok.example.test": [.a: .records(["203.0.113.68"])],
        "many.example.test": [.a: .records(["192.0.2.1", "192.0.2.2", "192.0.2.3", "203.0.113.66"])],
        "manymx.example.test": [.mx: .records(["m1.many.test", "m2.many.test"])],
        "m1.many.test": [.a: .records(["192.0.2.1", "192.0.2.2"])],
        "m2.many.test": [.a: .records(["192.0.2.3", "203.0.113.66"])],
    ]

    static let table = """
        203.0.113.66 REJECT a-bad
        192.0.2.50 DUNNO
        2001:db8::66 REJECT v6-bad
        198.51.100 REJECT net-bad
        mx1.badmx.example.test REJECT mx-name-bad
        192.0.2.20 REJECT mx1-addr
        203.0.113.67 REJECT mx-addr-bad
        hosting.example REJECT hosting-parent
        ns1.badns.example.test REJECT ns-bad
        203.0.113.69 REJECT ns-addr-bad
        203.0.113.68 OK
        """

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let kind: String
        let helo: String
        let expected: String
        var warnings: [String] = []
        /// The DNS questions in order (`TYPE name`); nil: not checked.
        var asked: [String]? = nil
        var extra = ""
        var testDescription: String { name }
    }

    static func rejected(_ helo: String, _ reason: String) -> String {
        "554 5.7.1 <\(helo)>: Helo command rejected: \(reason)"
    }

    static let cases: [Case] = [
        // A: the name's own addresses.
        Case(name: "A: listed address", kind: "a", helo: "bad.example.test", expected: rejected("bad.example.test", "a-bad"),
             asked: ["A bad.example.test", "AAAA bad.example.test"]),
        Case(name: "A: unlisted address", kind: "a", helo: "good.example.test", expected: ok),
        Case(name: "A: the first hit ends the check, even DUNNO", kind: "a", helo: "two.example.test", expected: ok),
        Case(name: "A: IPv6 address in canonical form", kind: "a", helo: "v6.example.test", expected: rejected("v6.example.test", "v6-bad")),
        Case(name: "A: address prefix of a hash table", kind: "a", helo: "net.example.test", expected: rejected("net.example.test", "net-bad")),
        Case(name: "A: the name itself is not looked up", kind: "a", helo: "mx1.badmx.example.test", expected: rejected("mx1.badmx.example.test", "mx1-addr")),
        Case(name: "A: address literal, no DNS", kind: "a", helo: "[203.0.113.66]", expected: rejected("[203.0.113.66]", "a-bad"), asked: []),
        Case(name: "A: IPv6 address literal", kind: "a", helo: "[IPv6:2001:db8::66]", expected: rejected("[IPv6:2001:db8::66]", "v6-bad"), asked: []),
        Case(name: "A: bare address, no DNS", kind: "a", helo: "203.0.113.66", expected: rejected("203.0.113.66", "a-bad"), asked: []),
        Case(name: "A: bad literal is DUNNO", kind: "a", helo: "[203.0.113]", expected: ok, asked: []),
        Case(name: "A: unresolvable name, no warning", kind: "a", helo: "nx.example.test", expected: ok,
             asked: ["A nx.example.test", "AAAA nx.example.test"]),
        Case(name: "A: resolution failure, no warning", kind: "a", helo: "tempfail.example.test", expected: ok),
        Case(name: "A: OK is refused with 451 and three warnings", kind: "a", helo: "ok.example.test",
             expected: "451 4.3.5 Server configuration error",
             warnings: ["restriction check_helo_a_access returns OK for ok.example.test",
                        "this is not allowed for security reasons",
                        "use DUNNO instead of OK if you want to make an exception"]),
        Case(name: "A: dns_rr_list_limit stops before the 4th address", kind: "a", helo: "many.example.test", expected: ok,
             warnings: ["check_server_access: A server address count limit (3) exceeded for Helo command many.example.test -- ignoring the remainder"],
             extra: "dns_rr_list_limit = 3"),
        Case(name: "A: within the default limit the 4th address counts", kind: "a", helo: "many.example.test",
             expected: rejected("many.example.test", "a-bad")),
        // MX: the mail exchangers' names, then their addresses.
        Case(name: "MX: host name listed, checked before its address", kind: "mx", helo: "badmx.example.test",
             expected: rejected("badmx.example.test", "mx-name-bad"), asked: ["MX badmx.example.test"]),
        Case(name: "MX: host address listed", kind: "mx", helo: "mxaddr.example.test", expected: rejected("mxaddr.example.test", "mx-addr-bad"),
             asked: ["MX mxaddr.example.test", "A mx.mxaddr.example.test", "AAAA mx.mxaddr.example.test"]),
        Case(name: "MX: MX-less name is its own mail exchanger", kind: "mx", helo: "nomx.example.test",
             expected: rejected("nomx.example.test", "mx-addr-bad"),
             asked: ["MX nomx.example.test", "A nomx.example.test", "AAAA nomx.example.test"]),
        Case(name: "MX: trailing dot: no MX query, the name is resolved as it is", kind: "mx", helo: "nomx.example.test.",
             expected: rejected("nomx.example.test.", "mx-addr-bad"),
             asked: ["A nomx.example.test.", "AAAA nomx.example.test."]),
        Case(name: "MX: parent domain of the mail exchanger", kind: "mx", helo: "parentmx.example.test",
             expected: rejected("parentmx.example.test", "hosting-parent")),
        Case(name: "MX: servers in DNS order", kind: "mx", helo: "twomx.example.test", expected: rejected("twomx.example.test", "mx-addr-bad"),
             asked: ["MX twomx.example.test", "A mx-a.example.test", "AAAA mx-a.example.test", "A mx-b.example.test", "AAAA mx-b.example.test"]),
        Case(name: "MX: a numeric mail exchanger is looked up as an address", kind: "mx", helo: "ipmx.example.test",
             expected: rejected("ipmx.example.test", "mx-addr-bad"), asked: ["MX ipmx.example.test"]),
        Case(name: "MX: address literal is its own mail exchanger", kind: "mx", helo: "[203.0.113.67]",
             expected: rejected("[203.0.113.67]", "mx-addr-bad"), asked: []),
        Case(name: "MX: null MX is DUNNO", kind: "mx", helo: "nullmx.example.test", expected: ok, asked: ["MX nullmx.example.test"]),
        Case(name: "MX: tempfail logs and is DUNNO", kind: "mx", helo: "tempfail.example.test", expected: ok,
             warnings: ["Unable to look up MX host for tempfail.example.test: Host not found, try again"]),
        Case(name: "MX: failure logs and is DUNNO", kind: "mx", helo: "failmx.example.test", expected: ok,
             warnings: ["Unable to look up MX host for failmx.example.test: Non-recoverable error"]),
        Case(name: "MX: malformed reply logs Postfix's cleared h_errno", kind: "mx", helo: "badreply.example.test", expected: ok,
             warnings: ["Unable to look up MX host for badreply.example.test: Unknown error 0"]),
        Case(name: "MX: unresolvable mail exchanger logs and is skipped", kind: "mx", helo: "gone.example.test", expected: ok,
             warnings: ["Unable to look up MX host mx.gone.example.test for Helo command gone.example.test: Name or service not known"]),
        Case(name: "MX: mail exchanger resolution tempfail logs and is skipped", kind: "mx", helo: "slowmx.example.test", expected: ok,
             warnings: ["Unable to look up MX host mx.slow.example.test for Helo command slowmx.example.test: Temporary failure in name resolution"]),
        Case(name: "MX: the address limit counts over all mail exchangers", kind: "mx", helo: "manymx.example.test", expected: ok,
             warnings: ["check_server_access: MX server address count limit (3) exceeded for Helo command manymx.example.test -- ignoring the remainder"],
             extra: "dns_rr_list_limit = 3"),
        Case(name: "MX: OK is refused", kind: "mx", helo: "ok.example.test", expected: "451 4.3.5 Server configuration error",
             warnings: ["restriction check_helo_mx_access returns OK for ok.example.test",
                        "this is not allowed for security reasons",
                        "use DUNNO instead of OK if you want to make an exception"]),
        // NS: the name servers, walking up to a parent that has some.
        Case(name: "NS: listed name server", kind: "ns", helo: "badns.example.test", expected: rejected("badns.example.test", "ns-bad"),
             asked: ["NS badns.example.test"]),
        Case(name: "NS: walk to the parent's name servers", kind: "ns", helo: "sub.badns.example.test",
             expected: rejected("sub.badns.example.test", "ns-bad"), asked: ["NS sub.badns.example.test", "NS badns.example.test"]),
        Case(name: "NS: name server address", kind: "ns", helo: "www.nsaddr.example.test", expected: rejected("www.nsaddr.example.test", "ns-addr-bad")),
        Case(name: "NS: the warning names the parent where the walk stopped", kind: "ns", helo: "a.tf.example.test", expected: ok,
             warnings: ["Unable to look up NS host for tf.example.test: Host not found, try again"],
             asked: ["NS a.tf.example.test", "NS tf.example.test"]),
        Case(name: "NS: a walk that runs out of labels names the HELO", kind: "ns", helo: "deep.nowhere.test", expected: ok,
             warnings: ["Unable to look up NS host for deep.nowhere.test: Host not found"],
             asked: ["NS deep.nowhere.test", "NS nowhere.test", "NS test"]),
        Case(name: "NS: a literal has no name servers", kind: "ns", helo: "[203.0.113.66]", expected: ok, asked: []),
        Case(name: "NS: tempfail logs and is DUNNO", kind: "ns", helo: "tempfail.example.test", expected: ok,
             warnings: ["Unable to look up NS host for tempfail.example.test: Host not found, try again"]),
    ]

    @Test(arguments: cases)
    func serverAccess(_ c: Case) throws {
        let resolver = ScriptedResolver(Self.zone)
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = check_helo_\(c.kind)_access hash:@DIR@/servers
            \(c.extra)
            """, files: ["servers": Self.table], resolver: resolver)
        let decision = fixture.decision(helo: c.helo)
        #expect((decision.verdict.reply?.line ?? Self.ok) == c.expected)
        #expect(decision.events.filter { $0.kind == .warning }.map(\.text) == c.warnings)
        if let asked = c.asked {
            #expect(resolver.questionTexts == asked)
        }
    }

    /// With delayed rejection off the HELO is checked raw: a local part is skipped, the
    /// reply names the whole argument.
    @Test func localPartIsSkipped() throws {
        let resolver = ScriptedResolver(Self.zone)
        let fixture = try PolicyFixture("""
            smtpd_delay_reject = no
            smtpd_helo_restrictions = check_helo_a_access hash:@DIR@/servers
            """, files: ["servers": Self.table], resolver: resolver)
        let outcome = fixture.engine.play(SessionScript(helos: ["user@bad.example.test"], recipients: ["b@mx.example.test"]))
        #expect(outcome.helos[0].refusal?.line == Self.rejected("user@bad.example.test", "a-bad"))
        #expect(resolver.questionTexts == ["A bad.example.test", "AAAA bad.example.test"])
    }
}
