import Testing
import HeloPolicy
@testable import HeloDNS

/// Answers only a scripted server can give: every response code, exact record order, broken
/// record data, names that must never be asked.
@Suite("UnboundResolver against a scripted server")
struct ScriptedAnswerTests {
    typealias Record = DNSWire.Record
    typealias RRType = DNSWire.RRType
    typealias RCode = DNSWire.RCode

    static func records(_ type: UInt16, _ data: [UInt8]...) -> ScriptedDNSServer.Reply {
        .answer(records: data.map { Record(type: type, data: $0) })
    }

    /// The scripted zone. Every name has one behaviour; unknown names do not exist.
    static let rules: ScriptedDNSServer.Rules = { question in
        switch (question.name, question.type) {
        case ("nodata.scripted", _): return .answer()
        case ("servfail.scripted", _): return .answer(rcode: RCode.servFail)
        case ("refused.scripted", _): return .answer(rcode: RCode.refused)
        case (let name, _) where name.hasSuffix(".refused.scripted"): return .answer(rcode: RCode.refused)
        case ("notimp.scripted", _): return .answer(rcode: RCode.notImp)
        case ("formerr.scripted", _): return .answer(rcode: RCode.formErr)
        case ("yxdomain.scripted", _): return .answer(rcode: RCode.yxDomain)

        case ("order.scripted", RRType.a):
            return records(RRType.a, DNSWire.a("192.0.2.3"), DNSWire.a("192.0.2.1"), DNSWire.a("192.0.2.2"))
        case ("order.scripted", RRType.aaaa):
            return records(RRType.aaaa, DNSWire.aaaa("2001:db8::3"), DNSWire.aaaa("2001:db8::1"))
        case ("order.scripted", RRType.mx):
            return records(RRType.mx, DNSWire.mx(30, "mx3.scripted"), DNSWire.mx(10, "MX1.Elsewhere.Example"),
                           DNSWire.mx(20, "mx2.scripted"))
        case ("order.scripted", RRType.ns):
            return records(RRType.ns, DNSWire.name("ns3.scripted"), DNSWire.name("ns1.scripted"),
                           DNSWire.name("ns2.scripted"))
        case ("order.scripted", RRType.txt):
            return records(RRType.txt, DNSWire.txt(["zulu"]), DNSWire.txt(["alpha"]), DNSWire.txt(["mike"]))

        case ("shorta.scripted", RRType.a):
            return records(RRType.a, [192, 0, 2])
        case ("mixeda.scripted", RRType.a):
            return records(RRType.a, [192, 0, 2], DNSWire.a("192.0.2.7"))
        case ("shortaaaa.scripted", RRType.aaaa):
            return records(RRType.aaaa, DNSWire.a("192.0.2.7"))
        case ("badmx.scripted", RRType.mx):
            return records(RRType.mx, DNSWire.mx(10, "bad!host.scripted"))
        case ("mixedmx.scripted", RRType.mx):
            return records(RRType.mx, DNSWire.mx(10, "-bad.scripted"), DNSWire.mx(20, "good.scripted"))
        case ("numericmx.scripted", RRType.mx):
            return records(RRType.mx, DNSWire.mx(10, "192.0.2.1"))
        case ("wildmx.scripted", RRType.mx):
            return records(RRType.mx, DNSWire.mx(10, "*.wild.scripted"))
        case ("nullmx10.scripted", RRType.mx):
            return records(RRType.mx, DNSWire.mx(10, "."))
        case ("nullmxmixed.scripted", RRType.mx):
            return records(RRType.mx, DNSWire.mx(10, "mx1.scripted"), DNSWire.mx(0, "."))
        case ("badns.scripted", RRType.ns):
            return records(RRType.ns, DNSWire.name("bad host.scripted"))
        case ("rootns.scripted", RRType.ns):
            return records(RRType.ns, DNSWire.name("."))
        case ("ctrltxt.scripted", RRType.txt):
            return records(RRType.txt, DNSWire.txt(["tab\there\u{1}end\u{7F}"]))
        case ("multistring.scripted", RRType.txt):
            return records(RRType.txt, DNSWire.txt(["part one", "part two"]), DNSWire.txt(["second"]))
        case ("emptytxt.scripted", RRType.txt):
            return records(RRType.txt, DNSWire.txt([""]))
        case ("wrongtype.scripted", RRType.a):
            return records(RRType.txt, DNSWire.txt(["not an address"]))

        case ("alias.scripted", _):
            return .answer(records: [Record(type: RRType.cname, data: DNSWire.name("target.scripted"))])
        case ("target.scripted", RRType.a):
            return records(RRType.a, DNSWire.a("192.0.2.9"))
        case ("badalias.scripted", _):
            return .answer(records: [Record(type: RRType.cname, data: DNSWire.name("bad!target.scripted"))])
        case ("bad!target.scripted", RRType.a):
            return records(RRType.a, DNSWire.a("192.0.2.10"))

        case ("garbage.scripted", _):
            // A header that promises an answer record, and no record.
            return .raw { question in
                Array(DNSWire.response(to: question, rcode: RCode.noError, records: [
                    Record(type: RRType.a, data: DNSWire.a("192.0.2.1")),
                ]).dropLast(9))
            }
        case (".", _):
            return .answer()
        default:
            return .answer(rcode: RCode.nxDomain)
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let type: DNSRecordType
        let expected: Expected
        let why: String
        var testDescription: String { "\(name) \(type.rawValue): \(why)" }

        init(_ name: String, _ type: DNSRecordType, _ expected: Expected, _ why: String) {
            self.name = name
            self.type = type
            self.expected = expected
            self.why = why
        }
    }

    static let statusCases: [Case] = [
        Case("nxdomain.scripted", .a, .notFound, "NXDOMAIN is not found"),
        Case("nodata.scripted", .a, .notFound, "NODATA is not found"),
        Case("nodata.scripted", .mx, .notFound, "NODATA for MX is not found, not null MX"),
        Case("servfail.scripted", .a, .temporary("SERVFAIL"), "SERVFAIL is temporary"),
        Case("refused.scripted", .a, .failed("REFUSED"), "REFUSED is permanent, as Postfix's NO_RECOVERY"),
        Case("notimp.scripted", .mx, .failed("NOTIMP"), "NOTIMP is permanent"),
        Case("formerr.scripted", .txt, .failed("FORMERR"), "FORMERR is permanent"),
        Case("yxdomain.scripted", .a, .failed("YXDOMAIN"), "other response codes are permanent"),
        Case("wrongtype.scripted", .a, .notFound, "records of another type only: not found"),
        Case(".", .a, .notFound, "the root is asked like any name"),
    ]

    static let recordCases: [Case] = [
        Case("order.scripted", .a, .records("192.0.2.3", "192.0.2.1", "192.0.2.2"), "A in DNS order"),
        Case("order.scripted", .aaaa, .records("2001:db8::3", "2001:db8::1"), "AAAA as inet_ntop text, DNS order"),
        Case("order.scripted", .mx, .records("mx3.scripted", "MX1.Elsewhere.Example", "mx2.scripted"),
             "MX hosts in DNS order, not by preference, case kept"),
        Case("order.scripted", .ns, .records("ns3.scripted", "ns1.scripted", "ns2.scripted"), "NS in DNS order"),
        Case("order.scripted", .txt, .records("zulu", "alpha", "mike"), "TXT records in DNS order"),
        Case("alias.scripted", .a, .records("192.0.2.9"), "CNAME followed"),
        Case("multistring.scripted", .txt, .records("part one", "second"), "first string of each TXT record"),
        Case("ctrltxt.scripted", .txt, .records("tab here end "), "unprintable TXT bytes become spaces"),
        Case("emptytxt.scripted", .txt, .records(""), "an empty TXT string"),
        Case("numericmx.scripted", .mx, .records("192.0.2.1"), "a numeric MX host is passed on"),
        Case("wildmx.scripted", .mx, .records("*.wild.scripted"), "a wildcard MX host is passed on"),
        Case("nullmx10.scripted", .mx, .nullMX, "a root exchange is a null MX whatever its preference"),
        Case("nullmxmixed.scripted", .mx, .nullMX, "a null MX among other MX records still wins"),
    ]

    static let brokenCases: [Case] = [
        Case("shorta.scripted", .a, .temporary("bad address length 3"), "a 3-byte address: Postfix's DNS_RETRY"),
        Case("shortaaaa.scripted", .aaaa, .temporary("bad address length 4"), "a 4-byte AAAA"),
        Case("mixeda.scripted", .a, .records("192.0.2.7"), "a broken record is skipped when others are fine"),
        Case("badmx.scripted", .mx, .malformed("bad!host.scripted"), "an invalid MX host: Postfix's DNS_INVAL"),
        Case("mixedmx.scripted", .mx, .records("good.scripted"), "an invalid MX host is skipped when others are fine"),
        Case("badns.scripted", .ns, .malformed("bad\\032host.scripted"), "an invalid NS host, escaped as dn_expand does"),
        Case("rootns.scripted", .ns, .malformed("NS record"), "the root as NS host is invalid"),
        Case("badalias.scripted", .a, .malformed("CNAME"), "an invalid CNAME target makes the answer malformed"),
        Case("garbage.scripted", .a, .temporary("could not parse"), "an unparsable reply is a temporary failure"),
    ]

    @Test("response codes", arguments: statusCases)
    func status(_ testCase: Case) throws {
        try expectAnswer(testCase)
    }

    @Test("record data", arguments: recordCases)
    func recordData(_ testCase: Case) throws {
        try expectAnswer(testCase)
    }

    @Test("broken record data", arguments: brokenCases)
    func brokenData(_ testCase: Case) throws {
        try expectAnswer(testCase)
    }

    private func expectAnswer(_ testCase: Case) throws {
        let server = try ScriptedDNSServer(rules: Self.rules)
        defer { server.stop() }
        let resolver = try makeResolver([server.address])
        defer { resolver.shutdown() }
        let answer = resolver.lookup(testCase.name, type: testCase.type)
        #expect(testCase.expected.matches(answer), "got \(answer)")
    }

    @Test("DNS order survives the cache")
    func orderFromCache() throws {
        let server = try ScriptedDNSServer(rules: Self.rules)
        defer { server.stop() }
        let resolver = try makeResolver([server.address])
        defer { resolver.shutdown() }
        let expected = DNSAnswer.records(["mx3.scripted", "MX1.Elsewhere.Example", "mx2.scripted"])
        for _ in 0..<5 {
            #expect(resolver.lookup("order.scripted", type: .mx) == expected)
        }
        let addresses = DNSAnswer.records(["192.0.2.3", "192.0.2.1", "192.0.2.2"])
        for _ in 0..<5 {
            #expect(resolver.lookup("order.scripted", type: .a) == addresses)
        }
        #expect(server.queries("order.scripted", type: RRType.mx) == 1)
        #expect(server.queries("order.scripted", type: RRType.a) == 1)
    }

    @Test("NXDOMAIN, NODATA, SERVFAIL, REFUSED and timeout are five different answers")
    func failuresKeptApart() throws {
        let server = try ScriptedDNSServer { question in
            question.name == "silent.scripted" ? .silence : Self.rules(question)
        }
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 500)
        defer { resolver.shutdown() }
        let answers = ["nxdomain", "nodata", "servfail", "refused", "silent"].map {
            resolver.lookup("\($0).scripted", type: .a)
        }
        #expect(answers[0] == .notFound)
        #expect(answers[1] == .notFound)
        #expect(Expected.temporary("SERVFAIL").matches(answers[2]), "got \(answers[2])")
        #expect(Expected.failed("REFUSED").matches(answers[3]), "got \(answers[3])")
        #expect(answers[4] == .temporaryFailure("timeout after 500 ms"))
        // A SERVFAIL or REFUSED asked again comes from libunbound's failure cache, and keeps its kind.
        #expect(Expected.temporary("SERVFAIL").matches(resolver.lookup("servfail.scripted", type: .a)))
        #expect(Expected.failed("REFUSED").matches(resolver.lookup("refused.scripted", type: .a)))
    }

    @Test("REFUSED is still told from SERVFAIL after another resolver was released (as on reload)")
    func refusedAfterReload() throws {
        let server = try ScriptedDNSServer(rules: Self.rules)
        defer { server.stop() }
        let resolver = try makeResolver([server.address])
        defer { resolver.shutdown() }
        for round in 0..<3 {
            // Deleting a libunbound context resets libunbound's (process-wide) log target.
            try makeResolver([server.address]).shutdown()
            let answer = resolver.lookup("refused\(round).refused.scripted", type: .a)
            #expect(Expected.failed("REFUSED").matches(answer), "got \(answer)")
        }
    }

    struct NameCase: Sendable, CustomTestStringConvertible {
        let label: String
        let name: String
        var testDescription: String { label }
    }

    static let unaskable: [NameCase] = [
        NameCase(label: "empty name", name: ""),
        NameCase(label: "empty label", name: "a..scripted"),
        NameCase(label: "leading dot", name: ".scripted"),
        NameCase(label: "two dots", name: ".."),
        NameCase(label: "64-byte label", name: String(repeating: "a", count: 64) + ".scripted"),
        NameCase(label: "254-byte name", name: Array(repeating: String(repeating: "b", count: 49), count: 5)
            .joined(separator: ".") + ".abcd"),
        NameCase(label: "NUL byte", name: "nul\u{0}.scripted"),
    ]

    @Test("names that cannot be put into a query are 'not found', and nothing is sent", arguments: unaskable)
    func unaskableName(_ testCase: NameCase) throws {
        let server = try ScriptedDNSServer(rules: Self.rules)
        defer { server.stop() }
        let resolver = try makeResolver([server.address])
        defer { resolver.shutdown() }
        #expect(resolver.lookup(testCase.name, type: .a) == .notFound)
        // The longest names that fit are asked.
        let longLabel = String(repeating: "c", count: 63) + ".scripted"
        #expect(resolver.lookup(longLabel, type: .a) == .notFound)
        #expect(server.queries(longLabel, type: RRType.a) == 1)
        #expect(resolver.statistics.lookups == 1)
    }

    @Test("a 253-byte name is asked")
    func longestName() throws {
        let server = try ScriptedDNSServer(rules: Self.rules)
        defer { server.stop() }
        let resolver = try makeResolver([server.address])
        defer { resolver.shutdown() }
        let name = Array(repeating: String(repeating: "d", count: 49), count: 5).joined(separator: ".") + ".abc"
        #expect(name.utf8.count == 253)
        #expect(resolver.lookup(name + ".", type: .a) == .notFound)
        #expect(server.queries(name, type: RRType.a) == 1)
    }
}
