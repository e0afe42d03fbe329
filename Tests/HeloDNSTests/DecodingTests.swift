import Testing
import HeloPolicy
@testable import HeloDNS

/// The pure parts: record data, response codes, libunbound's SERVFAIL log lines, query names.
@Suite("Answer decoding")
struct DecodingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let label: String
        let type: DNSRecordType
        let raw: UnboundAnswer
        let expected: DNSAnswer
        var testDescription: String { label }
    }

    static let servfail = DNSAnswer.temporaryFailure("test SERVFAIL")

    static let cases: [Case] = [
        Case(label: "A", type: .a, raw: UnboundAnswer(rcode: 0, records: [[192, 0, 2, 1], [10, 0, 0, 255]]),
             expected: .records(["192.0.2.1", "10.0.0.255"])),
        Case(label: "AAAA", type: .aaaa, raw: UnboundAnswer(rcode: 0, records: [DNSWire.aaaa("2001:db8:0:0:0:0:0:1")]),
             expected: .records(["2001:db8::1"])),
        Case(label: "IPv4-mapped AAAA", type: .aaaa, raw: UnboundAnswer(rcode: 0, records: [DNSWire.aaaa("::ffff:192.0.2.1")]),
             expected: .records(["::ffff:192.0.2.1"])),
        Case(label: "MX in DNS order", type: .mx,
             raw: UnboundAnswer(rcode: 0, records: [DNSWire.mx(20, "b.example"), DNSWire.mx(10, "A.example")]),
             expected: .records(["b.example", "A.example"])),
        Case(label: "null MX", type: .mx, raw: UnboundAnswer(rcode: 0, records: [DNSWire.mx(0, ".")]),
             expected: .nullMX),
        Case(label: "null MX after a good MX", type: .mx,
             raw: UnboundAnswer(rcode: 0, records: [DNSWire.mx(10, "a.example"), DNSWire.mx(5, ".")]),
             expected: .nullMX),
        Case(label: "MX without room for a name", type: .mx, raw: UnboundAnswer(rcode: 0, records: [[0]]),
             expected: .temporaryFailure("undecodable MX record for q.example")),
        Case(label: "MX name running past the data", type: .mx, raw: UnboundAnswer(rcode: 0, records: [[0, 10, 5, 97, 98]]),
             expected: .temporaryFailure("undecodable MX record for q.example")),
        Case(label: "bad host name then undecodable: the undecodable one decides", type: .mx,
             raw: UnboundAnswer(rcode: 0, records: [DNSWire.mx(10, "a_b!.example"), [0]]),
             expected: .temporaryFailure("undecodable MX record for q.example")),
        Case(label: "undecodable then bad host name: still temporary", type: .mx,
             raw: UnboundAnswer(rcode: 0, records: [[0], DNSWire.mx(10, "a_b!.example")]),
             expected: .temporaryFailure("undecodable MX record for q.example")),
        Case(label: "underscore host names are valid", type: .ns,
             raw: UnboundAnswer(rcode: 0, records: [DNSWire.name("_ns.example")]),
             expected: .records(["_ns.example"])),
        Case(label: "a dot inside a label is escaped and invalid", type: .ns,
             raw: UnboundAnswer(rcode: 0, records: [[3, 97, 46, 98, 7] + Array("example".utf8) + [0]]),
             expected: .malformed("malformed domain name in an NS record: a\\.b.example for q.example")),
        Case(label: "TXT first string only", type: .txt,
             raw: UnboundAnswer(rcode: 0, records: [DNSWire.txt(["one", "two"])]),
             expected: .records(["one"])),
        Case(label: "TXT string longer than its data", type: .txt,
             raw: UnboundAnswer(rcode: 0, records: [[10, 104, 105]]),
             expected: .records(["hi"])),
        Case(label: "TXT without data", type: .txt, raw: UnboundAnswer(rcode: 0, records: [[]]),
             expected: .records([""])),
        Case(label: "TXT with 8-bit bytes", type: .txt, raw: UnboundAnswer(rcode: 0, records: [[3, 0xC3, 0xA9, 0x21]]),
             expected: .records(["  !"])),
        Case(label: "NODATA", type: .a, raw: UnboundAnswer(rcode: 0), expected: .notFound),
        Case(label: "NXDOMAIN", type: .a, raw: UnboundAnswer(rcode: 3), expected: .notFound),
        Case(label: "NXDOMAIN at the end of a CNAME", type: .a,
             raw: UnboundAnswer(rcode: 3, canonicalName: "bad!name.example."), expected: .notFound),
        Case(label: "SERVFAIL", type: .a, raw: UnboundAnswer(rcode: 2), expected: servfail),
        Case(label: "NOTAUTH", type: .a, raw: UnboundAnswer(rcode: 9),
             expected: .failed("the DNS server answered NOTAUTH for q.example A")),
        Case(label: "rcode 12", type: .a, raw: UnboundAnswer(rcode: 12),
             expected: .failed("the DNS server answered RCODE12 for q.example A")),
        Case(label: "valid CNAME target", type: .a,
             raw: UnboundAnswer(rcode: 0, records: [[192, 0, 2, 1]], canonicalName: "target.example."),
             expected: .records(["192.0.2.1"])),
        Case(label: "invalid CNAME target", type: .a,
             raw: UnboundAnswer(rcode: 0, records: [[192, 0, 2, 1]], canonicalName: "-target.example."),
             expected: .malformed("malformed domain name in a CNAME for q.example: -target.example")),
    ]

    @Test("libunbound answers to DNSAnswer", arguments: cases)
    func decode(_ testCase: Case) {
        let answer = AnswerDecoder.answer(for: testCase.type, name: "q.example", from: testCase.raw) { Self.servfail }
        #expect(answer == testCase.expected)
    }

    struct LogCase: Sendable, CustomTestStringConvertible {
        let line: String
        let key: String?
        let expected: DNSAnswer?
        var testDescription: String { line }
    }

    static let logLines: [LogCase] = [
        LogCase(line: "[1795229144] libunbound[29429:0] error: SERVFAIL <Foo.Example.com. A IN>: all the configured stub or forward servers failed, at zone . from 127.0.0.1 got REFUSED",
                key: "foo.example.com. a in",
                expected: .failed("the DNS server 127.0.0.1 answered REFUSED")),
        LogCase(line: "error: SERVFAIL <x.example. MX IN>: all the configured stub or forward servers failed, at zone . from 127.0.0.1 got SERVFAIL",
                key: "x.example. mx in",
                expected: .temporaryFailure("the DNS server 127.0.0.1 answered SERVFAIL")),
        LogCase(line: "error: SERVFAIL <x.example. TXT IN>: all the configured stub or forward servers failed, at zone . upstream server timeout",
                key: "x.example. txt in",
                expected: .temporaryFailure("server failure: all the configured stub or forward servers failed, at zone . upstream server timeout")),
        LogCase(line: "error: SERVFAIL <x.example. A IN>: exceeded the maximum number of sends",
                key: "x.example. a in",
                expected: .temporaryFailure("server failure: exceeded the maximum number of sends")),
        LogCase(line: "error: udp connect failed: Network is unreachable", key: nil, expected: nil),
    ]

    @Test("libunbound's SERVFAIL log lines", arguments: logLines)
    func servfailLine(_ testCase: LogCase) {
        #expect(ServfailReasons.parse(line: testCase.line)?.key == testCase.key)
        var reasons = ServfailReasons()
        reasons.read(line: testCase.line, now: 1)
        if let key = testCase.key {
            #expect(reasons.answer(forKey: key, now: 2) == testCase.expected)
        }
    }

    @Test("a failure served from libunbound's cache keeps the reason seen first, for a while")
    func cachedServfail() {
        var reasons = ServfailReasons()
        reasons.read(line: "error: SERVFAIL <r.example. A IN>: all the configured stub or forward servers failed, at zone . from ::1 got NOTIMP", now: 0)
        reasons.read(line: "error: SERVFAIL <r.example. A IN>: SERVFAIL in cache", now: 1_000_000_000)
        #expect(reasons.answer(forKey: "r.example. a in", now: 2_000_000_000) == .failed("the DNS server ::1 answered NOTIMP"))
        #expect(reasons.answer(forKey: "r.example. a in", now: 40_000_000_000) == nil)
        reasons.read(line: "error: SERVFAIL <s.example. A IN>: SERVFAIL in cache", now: 0)
        #expect(reasons.answer(forKey: "s.example. a in", now: 0) == .temporaryFailure("server failure: SERVFAIL in cache"))
    }

    struct NameCase: Sendable, CustomTestStringConvertible {
        let name: String
        let askable: Bool
        var testDescription: String { "\"\(name.prefix(40))\(name.count > 40 ? "…" : "")\" (\(name.utf8.count) bytes)" }
    }

    static let names: [NameCase] = [
        NameCase(name: "mail.example.com", askable: true),
        NameCase(name: "mail.example.com.", askable: true),
        NameCase(name: ".", askable: true),
        NameCase(name: "*.example.com", askable: true),
        NameCase(name: "localhost", askable: true),
        NameCase(name: "", askable: false),
        NameCase(name: "..", askable: false),
        NameCase(name: "a..b", askable: false),
        NameCase(name: ".a", askable: false),
        NameCase(name: String(repeating: "x", count: 63) + ".example", askable: true),
        NameCase(name: String(repeating: "x", count: 64) + ".example", askable: false),
        NameCase(name: Array(repeating: String(repeating: "y", count: 63), count: 4).joined(separator: ".") + "z", askable: false),
        NameCase(name: Array(repeating: String(repeating: "y", count: 62), count: 4).joined(separator: ".") + ".", askable: true),
    ]

    @Test("which names are put into a query", arguments: names)
    func queryName(_ testCase: NameCase) {
        #expect((QueryName.refusal(testCase.name) == nil) == testCase.askable)
    }

    @Test("log keys are the question as libunbound prints it, lowercased")
    func logKeys() {
        #expect(QueryName.logKey("Mail.Example.COM", type: .mx) == "mail.example.com. mx in")
        #expect(QueryName.logKey("mail.example.com.", type: .aaaa) == "mail.example.com. aaaa in")
        #expect(QueryName.logKey(".", type: .ns) == ". ns in")
    }
}
