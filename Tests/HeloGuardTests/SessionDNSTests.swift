import HeloGuard
import HeloPolicy
import MilterKit
import MilterTesting
import Synchronization
import Testing
import Foundation

/// A zone in memory that counts every question it is asked.
final class CountingResolver: HeloResolver {
    struct Question: Hashable, CustomStringConvertible {
        let name: String
        let type: DNSRecordType
        var description: String { "\(name)/\(type.rawValue)" }
    }

    private let zone: [Question: DNSAnswer]
    private let asked = Mutex<[Question]>([])

    init(_ zone: [String: DNSAnswer]) {
        var parsed: [Question: DNSAnswer] = [:]
        for (key, answer) in zone {
            let parts = key.split(separator: "/")
            parsed[Question(name: String(parts[0]), type: DNSRecordType(rawValue: String(parts[1]))!)] = answer
        }
        self.zone = parsed
    }

    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        let question = Question(name: name, type: type)
        asked.withLock { $0.append(question) }
        return zone[question] ?? .notFound
    }

    var questions: [String] { asked.withLock { $0.map(\.description) } }
}

/// A server that never answers: each question waits `delay` and fails temporarily.
final class SilentResolver: HeloResolver {
    let delay: Duration
    private let count = Mutex(0)

    init(delay: Duration) { self.delay = delay }

    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        count.withLock { $0 += 1 }
        Thread.sleep(forTimeInterval: Double(delay.components.attoseconds) / 1e18 + Double(delay.components.seconds))
        return .temporaryFailure("timeout after \(delay)")
    }

    var asked: Int { count.withLock { $0 } }
}

@Suite("Session: DNS answers asked once per HELO name")
struct SessionDNSTests {
    static let zone: [String: DNSAnswer] = [
        "good.example.test/A": .records(["192.0.2.10"]),
        "mxonly.example.test/MX": .records(["mx.example.test"]),
        "tempfail.example.test/A": .temporaryFailure("SERVFAIL"),
        "tempfail.example.test/AAAA": .temporaryFailure("SERVFAIL"),
        "tempfail.example.test/MX": .temporaryFailure("SERVFAIL"),
    ]
    static let unknown = "smtpd_helo_restrictions = reject_unknown_helo_hostname"
    static let notFound = "450 4.7.1 <nx.example.test>: Helo command rejected: Host not found"

    @Test("the questions are asked at HELO; every recipient and a repeated EHLO reuse the answers")
    func askedOnceAtHelo() throws {
        let resolver = CountingResolver(Self.zone)
        let harness = try SessionHarness(Self.unknown, resolver: resolver)
        harness.connect()
        harness.helo("nx.example.test")
        #expect(resolver.questions == ["nx.example.test/A", "nx.example.test/AAAA", "nx.example.test/MX"])
        harness.mail("<a@example.org>")
        for recipient in ["<b@example.com>", "<c@example.com>", "<d@example.com>"] {
            #expect(SessionHarness.text(harness.rcpt(recipient)) == Self.notFound)
        }
        harness.abort()
        harness.helo("nx.example.test")
        harness.mail("<a@example.org>")
        #expect(SessionHarness.text(harness.rcpt("<e@example.com>")) == Self.notFound)
        #expect(resolver.questions.count == 3)
        #expect(harness.session.dnsQuestionCount == 3)
    }

    @Test("a new HELO name asks again; the first answer that has records ends the questions")
    func newNameAsksAgain() throws {
        let resolver = CountingResolver(Self.zone)
        let harness = try SessionHarness(Self.unknown, resolver: resolver)
        harness.connect()
        harness.helo("nx.example.test")
        harness.helo("good.example.test")
        harness.mail("<a@example.org>")
        #expect(SessionHarness.text(harness.rcpt("<b@example.com>")) == "continue")
        #expect(resolver.questions == ["nx.example.test/A", "nx.example.test/AAAA", "nx.example.test/MX", "good.example.test/A"])
    }

    @Test("a temporary failure is kept for the session: one deadline per session, not one per recipient")
    func temporaryFailureKept() throws {
        let resolver = CountingResolver(Self.zone)
        let harness = try SessionHarness(Self.unknown, resolver: resolver)
        harness.connect()
        harness.helo("tempfail.example.test")
        harness.mail("<a@example.org>")
        for recipient in ["<b@example.com>", "<c@example.com>"] {
            #expect(SessionHarness.text(harness.rcpt(recipient))
                    == "450 4.7.1 <tempfail.example.test>: Helo command rejected: Host not found")
        }
        #expect(resolver.questions.count == 3)
    }

    @Test("after a lookup runs into dns_timeout the session asks no more: one deadline per command, not three")
    func timeoutEndsTheQuestions() throws {
        let resolver = SilentResolver(delay: .seconds(1))
        let harness = try SessionHarness(Self.unknown + "\ndns_timeout = 1s", resolver: resolver)
        harness.connect()
        let clock = ContinuousClock()
        let elapsed = clock.measure { harness.helo("nx.example.test") }
        harness.mail("<a@example.org>")
        #expect(SessionHarness.text(harness.rcpt("<b@example.com>"))
                == "450 4.7.1 <nx.example.test>: Helo command rejected: Host not found")
        #expect(resolver.asked == 1)
        #expect(elapsed < .seconds(3))
    }

    @Test("delayed rejection off: the check runs at HELO with the same answers")
    func delayOff() throws {
        let resolver = CountingResolver(Self.zone)
        let harness = try SessionHarness(Self.unknown + "\nsmtpd_delay_reject = no", resolver: resolver)
        harness.connect()
        #expect(SessionHarness.text(harness.helo("nx.example.test")) == Self.notFound)
        #expect(SessionHarness.text(harness.helo("mxonly.example.test")) == "continue")
        #expect(resolver.questions == ["nx.example.test/A", "nx.example.test/AAAA", "nx.example.test/MX",
                                       "mxonly.example.test/A", "mxonly.example.test/AAAA", "mxonly.example.test/MX"])
    }

    @Test("the look-ahead at HELO does not pause for `sleep`, and no DNS question is asked for a permitted client")
    func lookAheadDoesNotSleep() throws {
        let resolver = CountingResolver(Self.zone)
        let harness = try SessionHarness("mynetworks = 203.0.113.0/24\nsmtpd_helo_restrictions = permit_mynetworks, sleep 15, reject_unknown_helo_hostname",
                                         resolver: resolver)
        harness.connect()
        let clock = ContinuousClock()
        let elapsed = clock.measure { harness.helo("nx.example.test") }
        #expect(elapsed < .seconds(5))
        #expect(resolver.questions.isEmpty)
    }

    @Test("lists that name no DNS restriction are not run ahead at HELO; a table result's DNS check asks at RCPT, once")
    func noLookAheadWithoutDNSRestrictions() throws {
        let resolver = CountingResolver(Self.zone)
        let harness = try SessionHarness("smtpd_helo_restrictions = check_helo_access inline:{nx.example.test=reject_unknown_helo_hostname}",
                                         resolver: resolver)
        harness.connect()
        harness.helo("nx.example.test")
        #expect(resolver.questions.isEmpty)
        harness.mail("<a@example.org>")
        for recipient in ["<b@example.com>", "<c@example.com>"] {
            #expect(SessionHarness.text(harness.rcpt(recipient)) == Self.notFound)
        }
        #expect(resolver.questions == ["nx.example.test/A", "nx.example.test/AAAA", "nx.example.test/MX"])
    }

    @Test("which configurations ask DNS at HELO", arguments: [
        ("smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", false),
        ("smtpd_helo_restrictions = reject_unknown_helo_hostname", true),
        ("smtpd_helo_restrictions = check_helo_mx_access inline:{x=DUNNO}", true),
        ("smtpd_helo_restrictions = reject_rhsbl_helo rhsbl.test", true),
        ("smtpd_helo_restrictions = reject_impersonating_helo", false),
        ("smtpd_helo_restrictions = reject_impersonating_helo\nimpersonation_check_dns = yes", true),
        ("smtpd_restriction_classes = dnsy\ndnsy = reject_unknown_helo_hostname\nsmtpd_helo_restrictions = check_helo_access inline:{x=dnsy}", true),
    ])
    func asksDNSAtHelo(_ config: String, _ expected: Bool) throws {
        let loaded = try ConfigurationLoader.load(text: config, file: "test.conf", interfaces: [])
        #expect(RuntimeConfiguration(path: "test.conf", loaded: loaded, generation: 1, resolver: UnavailableResolver()).asksDNSAtHelo == expected)
    }

    @Test("a reload keeps the resolver (and its cache) unless the DNS settings change")
    func reloadKeepsResolver() throws {
        let texts = ["smtpd_helo_restrictions = reject_unknown_helo_hostname\ndns_servers = 127.0.0.1",
                     "smtpd_helo_restrictions = permit\ndns_servers = 127.0.0.1",
                     "smtpd_helo_restrictions = permit\ndns_servers = 127.0.0.1:5353"]
        let index = Counter()
        let made = Counter()
        let store = try ConfigurationStore(path: "test.conf", loader: { path throws(ConfigError) in
            try ConfigurationLoader.load(text: texts[index.next()], file: path, interfaces: [])
        }, makeResolver: { settings in
            _ = made.next()
            return ResolverSetup(resolver: UnavailableResolver(), settings: settings)
        })
        let first = store.current.resolver as? UnavailableResolver
        try store.reload()
        #expect(made.next() == 1)
        try store.reload()
        #expect(made.next() == 3)
        #expect(first != nil)
    }
}
