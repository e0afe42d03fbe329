import Synchronization
import Testing
@testable import HeloPolicy

/// A penalty box for the rule core's tests: the addresses it holds, each with its notice.
struct FixedPenalties: PenaltyLookup {
    let entries: [String: PenaltyNotice]

    func penalty(for client: IPAddress) -> PenaltyNotice? { entries[client.description] }
}

/// `reject_penalized_client`, `penalize_client`, `penalize_impersonation`: which refusals ask
/// for the client to be boxed, and how a boxed client is refused.
struct PenaltyRuleTests {
    /// 2026-11-22 03:00:00 UTC.
    static let expiry: Int64 = 1_795_316_400
    static let boxed = FixedPenalties(entries: [
        "198.51.100.9": PenaltyNotice(reason: "impersonating HELO <mx.example.com>", expiresAt: expiry),
    ])

    static func engine(_ config: String, files: [String: String] = [:]) throws -> HeloPolicyEngine {
        let fixture = try PolicyFixture(config, files: files)
        return HeloPolicyEngine(config: fixture.engine.config, penalties: boxed)
    }

    static func decision(_ engine: HeloPolicyEngine, helo: String, client: String = "198.51.100.9",
                         sasl: String? = nil) -> RecipientDecision {
        engine.play(SessionScript(clientAddress: client, helos: [helo], saslUsername: sasl, sender: "<a@example.org>",
                                  recipients: ["b@mx.example.test"])).recipients[0].decision
    }

    @Test func expiryIsShownInUTC() {
        #expect(PenaltyNotice(reason: "x", expiresAt: Self.expiry).expiresText == "2026-11-22 03:00:00 UTC")
        #expect(PenaltyNotice.utcText(0) == "1970-01-01 00:00:00 UTC")
    }

    struct BoxCase: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        var client = "198.51.100.9"
        var helo = "clean.example.org"
        var sasl: String? = nil
        /// The reply, or nil for accepted.
        let reply: String?
        var testDescription: String { name }
    }

    static let boxCases: [BoxCase] = [
        BoxCase(name: "a boxed client is refused whatever it says now",
                config: "smtpd_helo_restrictions = reject_penalized_client",
                reply: "550 5.7.1 <unknown[198.51.100.9]>: Client host rejected: impersonating HELO <mx.example.com>; penalized until 2026-11-22 03:00:00 UTC"),
        BoxCase(name: "another client is not", config: "smtpd_helo_restrictions = reject_penalized_client",
                client: "198.51.100.10", reply: nil),
        BoxCase(name: "the reply code is configurable",
                config: "penalty_box_reject_code = 554\nsmtpd_helo_restrictions = reject_penalized_client",
                reply: "554 5.7.1 <unknown[198.51.100.9]>: Client host rejected: impersonating HELO <mx.example.com>; penalized until 2026-11-22 03:00:00 UTC"),
        BoxCase(name: "permit_sasl_authenticated before it exempts",
                config: "smtpd_helo_restrictions = permit_sasl_authenticated, reject_penalized_client",
                sasl: "alice", reply: nil),
        BoxCase(name: "permit_mynetworks before it exempts",
                config: "mynetworks = 198.51.100.0/24\nsmtpd_helo_restrictions = permit_mynetworks, reject_penalized_client",
                reply: nil),
        BoxCase(name: "after it, SASL does not help",
                config: "smtpd_helo_restrictions = reject_penalized_client, permit_sasl_authenticated",
                sasl: "alice",
                reply: "550 5.7.1 <unknown[198.51.100.9]>: Client host rejected: impersonating HELO <mx.example.com>; penalized until 2026-11-22 03:00:00 UTC"),
        BoxCase(name: "under warn_if_reject it only warns",
                config: "smtpd_helo_restrictions = warn_if_reject reject_penalized_client", reply: nil),
        BoxCase(name: "in an access-table result",
                config: "smtpd_helo_restrictions = check_helo_access inline:{ clean.example.org=reject_penalized_client }",
                reply: "550 5.7.1 <unknown[198.51.100.9]>: Client host rejected: impersonating HELO <mx.example.com>; penalized until 2026-11-22 03:00:00 UTC"),
        BoxCase(name: "soft_bounce makes it a 4xx",
                config: "soft_bounce = yes\nsmtpd_helo_restrictions = reject_penalized_client",
                reply: "450 4.7.1 <unknown[198.51.100.9]>: Client host rejected: impersonating HELO <mx.example.com>; penalized until 2026-11-22 03:00:00 UTC"),
    ]

    @Test(arguments: boxCases)
    func boxedClients(_ c: BoxCase) throws {
        let decision = Self.decision(try Self.engine(c.config), helo: c.helo, client: c.client, sasl: c.sasl)
        #expect(decision.verdict.reply?.line == c.reply)
        #expect(decision.penalty == nil, "reject_penalized_client never boxes again")
        if c.reply != nil { #expect(decision.decidingRestriction?.hasSuffix("reject_penalized_client") == true || decision.decidingRestriction?.hasPrefix("check_helo_access") == true) }
    }

    @Test func nothingIsBoxedWithoutALookup() throws {
        let fixture = try PolicyFixture("smtpd_helo_restrictions = reject_penalized_client")
        #expect(fixture.reply(helo: "clean.example.org", client: "198.51.100.9") == "250 2.1.5 Ok")
    }

    struct MarkCase: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        var files: [String: String] = [:]
        var helo = "mx.example.com"
        /// The reply, or nil for accepted.
        let reply: String?
        /// The penalty request's reason, or nil when the client is not boxed.
        let reason: String?
        var restriction: String? = nil
        var testDescription: String { name }
    }

    static let identity = "myhostname = mx.example.com\nmydomain = example.com\nimpersonation_addresses = 192.0.2.25\n"

    static let markCases: [MarkCase] = [
        MarkCase(name: "impersonation boxes by default",
                 config: identity + "smtpd_helo_restrictions = reject_impersonating_helo",
                 reply: "550 5.7.1 <mx.example.com>: Helo command rejected: Host impersonates this server",
                 reason: "impersonating HELO <mx.example.com>", restriction: "reject_impersonating_helo"),
        MarkCase(name: "penalize_impersonation = no",
                 config: identity + "penalize_impersonation = no\nsmtpd_helo_restrictions = reject_impersonating_helo",
                 reply: "550 5.7.1 <mx.example.com>: Helo command rejected: Host impersonates this server", reason: nil),
        MarkCase(name: "impersonation under warn_if_reject",
                 config: identity + "smtpd_helo_restrictions = warn_if_reject reject_impersonating_helo", reply: nil, reason: nil),
        MarkCase(name: "impersonation with a 4xx code",
                 config: identity + "impersonation_reject_code = 450\nsmtpd_helo_restrictions = reject_impersonating_helo",
                 reply: "450 4.7.1 <mx.example.com>: Helo command rejected: Host impersonates this server", reason: nil),
        MarkCase(name: "impersonation under soft_bounce",
                 config: identity + "soft_bounce = yes\nsmtpd_helo_restrictions = reject_impersonating_helo",
                 reply: "450 4.7.1 <mx.example.com>: Helo command rejected: Host impersonates this server", reason: nil),
        MarkCase(name: "impersonation turned into a deferral by defer_if_reject",
                 config: identity + "smtpd_helo_restrictions = defer_if_reject, reject_impersonating_helo",
                 reply: "450 4.7.0 <mx.example.com>: Helo command rejected: defer_if_reject requested", reason: nil),
        MarkCase(name: "a plain refusal does not box",
                 config: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname", helo: "localhost",
                 reply: "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", reason: nil),
        MarkCase(name: "penalize_client boxes the next refusal",
                 config: "smtpd_helo_restrictions = penalize_client, reject_non_fqdn_helo_hostname", helo: "localhost",
                 reply: "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname",
                 reason: "HELO <localhost> refused by reject_non_fqdn_helo_hostname", restriction: "reject_non_fqdn_helo_hostname"),
        MarkCase(name: "penalize_client alone does nothing",
                 config: "smtpd_helo_restrictions = penalize_client", helo: "localhost", reply: nil, reason: nil),
        MarkCase(name: "penalize_client in an access-table result",
                 config: "smtpd_helo_restrictions = check_helo_access texthash:@DIR@/helo",
                 files: ["helo": "spam.example   penalize_client, reject\nother.example  reject\n"], helo: "spam.example",
                 reply: "554 5.7.1 <spam.example>: Helo command rejected: Access denied",
                 reason: "HELO <spam.example> refused by check_helo_access", restriction: "check_helo_access"),
        MarkCase(name: "a table entry without penalize_client does not box",
                 config: "smtpd_helo_restrictions = check_helo_access texthash:@DIR@/helo",
                 files: ["helo": "spam.example   penalize_client, reject\nother.example  reject\n"], helo: "other.example",
                 reply: "554 5.7.1 <other.example>: Helo command rejected: Access denied", reason: nil),
        MarkCase(name: "an unknown restriction after penalize_client is a server error",
                 config: "smtpd_helo_restrictions = check_helo_access texthash:@DIR@/helo",
                 files: ["helo": "spam.example   penalize_client, check_helo_access_reject\n"], helo: "spam.example",
                 reply: "451 4.3.5 Server configuration error", reason: nil),
        MarkCase(name: "penalize_client then a 4xx refusal",
                 config: "smtpd_helo_restrictions = penalize_client, defer", helo: "a.example",
                 reply: "450 4.3.2 <a.example>: Helo command rejected: Try again later", reason: nil),
        MarkCase(name: "penalize_client then warn_if_reject",
                 config: "smtpd_helo_restrictions = penalize_client, warn_if_reject reject_non_fqdn_helo_hostname", helo: "localhost",
                 reply: nil, reason: nil),
        MarkCase(name: "a warned refusal does not use up penalize_client",
                 config: "smtpd_helo_restrictions = penalize_client, warn_if_reject reject_non_fqdn_helo_hostname, reject",
                 helo: "localhost", reply: "554 5.7.1 <localhost>: Helo command rejected: Access denied",
                 reason: "HELO <localhost> refused by reject", restriction: "reject"),
        MarkCase(name: "a permit before the refusal",
                 config: "smtpd_helo_restrictions = penalize_client, permit, reject", helo: "a.example",
                 reply: nil, reason: nil),
        MarkCase(name: "impersonation reason wins over penalize_client",
                 config: identity + "smtpd_helo_restrictions = penalize_client, reject_impersonating_helo",
                 reply: "550 5.7.1 <mx.example.com>: Helo command rejected: Host impersonates this server",
                 reason: "impersonating HELO <mx.example.com>", restriction: "reject_impersonating_helo"),
        MarkCase(name: "penalize_client in a restriction class",
                 config: "smtpd_restriction_classes = punish\npunish = penalize_client, reject\nsmtpd_helo_restrictions = punish",
                 helo: "a.example", reply: "554 5.7.1 <a.example>: Helo command rejected: Access denied",
                 reason: "HELO <a.example> refused by punish", restriction: "punish"),
    ]

    @Test(arguments: markCases)
    func marking(_ c: MarkCase) throws {
        let fixture = try PolicyFixture(c.config, files: c.files)
        let decision = fixture.decision(helo: c.helo)
        #expect(decision.verdict.reply?.line == c.reply)
        #expect(decision.penalty?.reason == c.reason)
        if let restriction = c.restriction { #expect(decision.penalty?.restriction == restriction) }
    }

    @Test func delayedRejectionOffMarksAtHelo() throws {
        let fixture = try PolicyFixture(Self.identity + "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_impersonating_helo")
        let result = fixture.engine.checkHelo(argument: "mx.example.com", facts: SessionFacts())
        #expect(result.decision.penalty?.reason == "impersonating HELO <mx.example.com>")
    }

    @Test func lookAheadAsksNothing() throws {
        // prefetch runs the list and throws the verdict away; the penalty lookup may be asked,
        // but nothing it returns is acted on. It must not crash or pause.
        let engine = try Self.engine("smtpd_helo_restrictions = reject_penalized_client")
        engine.prefetch(facts: SessionFacts(clientAddress: "198.51.100.9", heloArgument: "a.example"))
    }

    @Test func parserAcceptsBothNames() throws {
        let fixture = try PolicyFixture("smtpd_helo_restrictions = Penalize_Client, REJECT_PENALIZED_CLIENT")
        #expect(fixture.engine.config.heloRestrictions.map(\.description) == ["penalize_client", "reject_penalized_client"])
    }

    @Test func penaltyParametersOfTheRuleCore() throws {
        #expect(!(try PolicyFixture("penalize_impersonation = no").engine.config.penalizeImpersonation))
        let defaults = try PolicyFixture("").engine.config
        #expect(defaults.penalizeImpersonation)
        #expect(defaults.codes.penaltyBox == 550)
    }
}
