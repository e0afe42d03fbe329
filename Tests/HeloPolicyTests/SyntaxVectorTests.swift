import Testing
@testable import HeloPolicy

/// Every row of §8.1 through `HeloPolicyEngine.play`, the path `heloguard test` uses: with
/// delayed rejection off the verdict is the HELO reply on the raw argument; with it on (the
/// default) the same verdict comes at RCPT, naming the sanitised HELO. The
/// `reject_unknown_helo_hostname` column runs against the §8.1 test zone and also checks the
/// "DNS queries made" column: exactly those record types, for that name, in that order.
struct SyntaxVectorTests {
    enum Column: String, CaseIterable, Sendable {
        case invalid = "reject_invalid_helo_hostname"
        case nonFQDN = "reject_non_fqdn_helo_hostname"
        case unknown = "reject_unknown_helo_hostname"

        var restriction: Restriction {
            switch self {
            case .invalid: return .rejectInvalidHeloHostname
            case .nonFQDN: return .rejectNonFQDNHeloHostname
            case .unknown: return .rejectUnknownHeloHostname
            }
        }

        func expected(_ vector: SyntaxVector) -> String {
            switch self {
            case .invalid: return vector.invalid
            case .nonFQDN: return vector.nonFQDN
            case .unknown: return vector.unknown
            }
        }
    }

    static let deferredPrefix = "defer_if_permit "

    /// "501 5.5.2 Invalid name" → the full reply for `name`, or nil for PASS (and for a
    /// deferral, which the HELO itself does not get).
    static func fullReply(_ abbreviated: String, name: String) -> String? {
        guard abbreviated != "PASS", !abbreviated.hasPrefix(deferredPrefix) else { return nil }
        let parts = abbreviated.split(separator: " ", maxSplits: 2)
        return "\(parts[0]) \(parts[1]) <\(name)>: Helo command rejected: \(parts[2])"
    }

    /// The reply a recipient gets: the refusal, or the remembered deferral.
    static func recipientReply(_ abbreviated: String, name: String) -> String? {
        guard abbreviated.hasPrefix(deferredPrefix) else { return fullReply(abbreviated, name: name) }
        return fullReply(String(abbreviated.dropFirst(deferredPrefix.count)), name: name)
    }

    static func engine(_ column: Column, delayReject: Bool, resolver: any HeloResolver = UnavailableResolver()) -> HeloPolicyEngine {
        HeloPolicyEngine(config: PolicyConfig(heloRestrictions: [column.restriction], delayReject: delayReject),
                         resolver: resolver)
    }

    /// The questions the "DNS queries made" column says Postfix asked about `name`.
    static func expectedQuestions(_ vector: SyntaxVector, name: String) -> [String] {
        guard vector.queries != "none" else { return [] }
        return vector.queries.split(separator: ",").map { "\($0) \(name)" }
    }

    /// Rows whose `reject_unknown_helo_hostname` verdict needs no DNS answer.
    static let dnsIndependent = syntaxVectors.filter { $0.queries == "none" }

    @Test("delay off: HELO reply, invalid column", arguments: syntaxVectors)
    func invalidAtHelo(_ vector: SyntaxVector) { checkAtHelo(vector, .invalid) }

    @Test("delay off: HELO reply, non-FQDN column", arguments: syntaxVectors)
    func nonFQDNAtHelo(_ vector: SyntaxVector) { checkAtHelo(vector, .nonFQDN) }

    @Test("delay off: HELO reply and DNS queries, unknown column, §8.1 test zone", arguments: syntaxVectors)
    func unknownAtHelo(_ vector: SyntaxVector) {
        let resolver = ScriptedResolver.section81Zone()
        let outcome = Self.engine(.unknown, delayReject: false, resolver: resolver)
            .play(SessionScript(helos: [vector.helo], recipients: ["b@example.com"]))
        let argument = HeloName.commandArgument(vector.helo)!
        #expect(outcome.helos.first?.refusal?.line == Self.fullReply(vector.unknown, name: argument))
        // A refused HELO leaves the session without a HELO name, so the recipient is accepted;
        // an accepted one with a remembered deferral defers every recipient.
        let expectedRcpt = vector.unknown.hasPrefix(Self.deferredPrefix) ? Self.recipientReply(vector.unknown, name: argument) : nil
        #expect(outcome.recipients.first?.decision.verdict.reply?.line == expectedRcpt)
        #expect(resolver.questionTexts == Self.expectedQuestions(vector, name: argument))
    }

    @Test("without DNS: unknown column, rows decided without a query", arguments: dnsIndependent)
    func unknownWithoutDNS(_ vector: SyntaxVector) { checkAtHelo(vector, .unknown) }

    @Test("delay on: RCPT reply, invalid column", arguments: syntaxVectors)
    func invalidAtRcpt(_ vector: SyntaxVector) { checkAtRcpt(vector, .invalid) }

    @Test("delay on: RCPT reply, non-FQDN column", arguments: syntaxVectors)
    func nonFQDNAtRcpt(_ vector: SyntaxVector) { checkAtRcpt(vector, .nonFQDN) }

    @Test("delay on: RCPT reply and DNS queries, unknown column, §8.1 test zone", arguments: syntaxVectors)
    func unknownAtRcpt(_ vector: SyntaxVector) {
        let resolver = ScriptedResolver.section81Zone()
        let outcome = Self.engine(.unknown, delayReject: true, resolver: resolver)
            .play(SessionScript(helos: [vector.helo], recipients: ["b@example.com", "<postmaster>"]))
        let stored = HeloName.stored(HeloName.commandArgument(vector.helo)!)
        #expect(outcome.helos.first?.refusal == nil)
        #expect(outcome.recipients[0].decision.verdict.reply?.line == Self.recipientReply(vector.unknown, name: stored))
        #expect(outcome.recipients[1].decision.verdict == .accept, "postmaster is exempt")
        #expect(resolver.questionTexts == Self.expectedQuestions(vector, name: stored))
        #expect(outcome.recipients[0].decision.events.allSatisfy { $0.kind != .warning }, "Postfix logs no warning here")
    }

    func checkAtHelo(_ vector: SyntaxVector, _ column: Column) {
        let outcome = Self.engine(column, delayReject: false)
            .play(SessionScript(helos: [vector.helo], recipients: ["b@example.com"]))
        let argument = HeloName.commandArgument(vector.helo)!
        #expect(outcome.helos.first?.refusal?.line == Self.fullReply(column.expected(vector), name: argument))
        // A refused HELO leaves the session without a HELO name, so the recipient is accepted.
        #expect(outcome.recipients.first?.decision.verdict == .accept)
    }

    func checkAtRcpt(_ vector: SyntaxVector, _ column: Column) {
        let outcome = Self.engine(column, delayReject: true)
            .play(SessionScript(helos: [vector.helo], recipients: ["b@example.com", "<postmaster>"]))
        let stored = HeloName.stored(HeloName.commandArgument(vector.helo)!)
        #expect(outcome.helos.first?.refusal == nil)
        #expect(outcome.recipients[0].decision.verdict.reply?.line == Self.fullReply(column.expected(vector), name: stored))
        #expect(outcome.recipients[1].decision.verdict == .accept, "postmaster is exempt")
    }

    struct SanitisedCase: Sendable, CustomTestStringConvertible {
        let helo: String
        let restriction: Restriction
        let smtputf8: Bool
        let expected: String
        var testDescription: String { "\(helo) / \(restriction)\(smtputf8 ? " / SMTPUTF8" : "")" }
    }

    /// The "additional verified rows" of §8.1 (delay on, evaluated at RCPT).
    static let sanitisedCases: [SanitisedCase] = [
        .init(helo: "bücher.example", restriction: .rejectNonFQDNHeloHostname, smtputf8: true, expected: "250 2.1.5 Ok"),
        .init(helo: "bücher.example", restriction: .rejectNonFQDNHeloHostname, smtputf8: false,
              expected: "504 5.5.2 <bücher.example>: Helo command rejected: need fully-qualified hostname"),
        .init(helo: "bücher.example", restriction: .rejectInvalidHeloHostname, smtputf8: true,
              expected: "501 5.5.2 <bücher.example>: Helo command rejected: Invalid name"),
        .init(helo: "foo bar", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <foo?bar>: Helo command rejected: Invalid name"),
        .init(helo: "<foo.example.com>", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <?foo.example.com?>: Helo command rejected: Invalid name"),
        .init(helo: "\"quoted.example.com\"", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <?quoted.example.com?>: Helo command rejected: Invalid name"),
        .init(helo: "foo@example.com", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <foo?example.com>: Helo command rejected: Invalid name"),
        .init(helo: "a(b)c.example", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <a?b?c.example>: Helo command rejected: Invalid name"),
        .init(helo: "x;y.example", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <x?y.example>: Helo command rejected: Invalid name"),
        .init(helo: "back\\slash.example", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <back?slash.example>: Helo command rejected: Invalid name"),
        .init(helo: "foo%bar.example", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <foo%bar.example>: Helo command rejected: Invalid name"),
        .init(helo: "tab\tsep.example", restriction: .rejectInvalidHeloHostname, smtputf8: false,
              expected: "501 5.5.2 <tab?sep.example>: Helo command rejected: Invalid name"),
        .init(helo: "foo", restriction: .rejectNonFQDNHeloHostname, smtputf8: false,
              expected: "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"),
    ]

    @Test(arguments: sanitisedCases)
    func sanitisedNamesInRcptReplies(_ c: SanitisedCase) {
        let engine = HeloPolicyEngine(config: PolicyConfig(heloRestrictions: [c.restriction]))
        let outcome = engine.play(SessionScript(helos: [c.helo], sender: "<a@example.org>", smtputf8: c.smtputf8,
                                                recipients: ["b@mx.example.test"]))
        #expect(outcome.recipients[0].decision.verdict.reply?.line ?? "250 2.1.5 Ok" == c.expected)
    }
}
