import Testing
@testable import HeloPolicy

/// Which configurations let the answer at MAIL FROM stand for every recipient
/// (``RecipientDependence``), and that the engine's look-ahead at MAIL agrees with what each
/// recipient then gets (``HeloPolicyEngine/decideForEveryRecipient(facts:heloDeferral:)``).
struct RecipientDependenceTests {
    struct Derivation: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        /// The restrictions reported as recipient-dependent; empty: independent.
        let dependent: [String]
        var testDescription: String { name }
    }

    static let rcptTable = "inline:{abuse@example.com=OK}"

    static let derivations: [Derivation] = [
        Derivation(name: "empty list", config: "", dependent: []),
        Derivation(name: "the example checks", config: """
            mynetworks = 127.0.0.0/8
            smtpd_helo_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_penalized_client,
                reject_impersonating_helo, check_helo_access inline:{foo=REJECT}, check_client_access inline:{192.0.2.1=OK},
                check_sender_access inline:{a@example.org=OK}, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname,
                reject_unknown_helo_hostname, check_helo_mx_access inline:{192.0.2.9=REJECT}, reject_rhsbl_helo rbl.example,
                defer_if_permit, warn_if_reject, reject, penalize_client
            """, dependent: []),
        Derivation(name: "check_recipient_access in the list",
                   config: "smtpd_helo_restrictions = check_recipient_access \(rcptTable), reject_non_fqdn_helo_hostname",
                   dependent: ["check_recipient_access \(rcptTable)"]),
        Derivation(name: "sleep in the list (Postfix pauses at every RCPT)",
                   config: "smtpd_helo_restrictions = sleep 1, reject_non_fqdn_helo_hostname", dependent: ["sleep 1"]),
        Derivation(name: "a class named in the list holds check_recipient_access", config: """
            smtpd_restriction_classes = exempt
            exempt = check_recipient_access \(rcptTable)
            smtpd_helo_restrictions = exempt, reject_non_fqdn_helo_hostname
            """, dependent: ["check_recipient_access \(rcptTable) (in class exempt)"]),
        Derivation(name: "nested classes", config: """
            smtpd_restriction_classes = outer, inner
            outer = reject_invalid_helo_hostname, inner
            inner = sleep 2
            smtpd_helo_restrictions = outer
            """, dependent: ["sleep 2 (in class inner)"]),
        Derivation(name: "a class nothing can reach", config: """
            smtpd_restriction_classes = unused
            unused = check_recipient_access \(rcptTable)
            smtpd_helo_restrictions = reject_non_fqdn_helo_hostname
            """, dependent: []),
        Derivation(name: "a check_helo_access table can name any class", config: """
            smtpd_restriction_classes = unused
            unused = check_recipient_access \(rcptTable)
            smtpd_helo_restrictions = check_helo_access inline:{foo=REJECT}
            """, dependent: ["check_recipient_access \(rcptTable) (in class unused)"]),
        Derivation(name: "so can a check_client_access table inside a class", config: """
            smtpd_restriction_classes = first, second
            first = check_client_access inline:{192.0.2.1=second}
            second = sleep 1
            smtpd_helo_restrictions = first
            """, dependent: ["sleep 1 (in class second)"]),
        Derivation(name: "and a bare table", config: """
            smtpd_restriction_classes = slow
            slow = sleep 3
            smtpd_helo_restrictions = inline:{foo=slow}
            """, dependent: ["sleep 3 (in class slow)"]),
        Derivation(name: "delayed rejection off: decided at HELO, the same for every recipient",
                   config: "smtpd_delay_reject = no\nsmtpd_helo_restrictions = check_recipient_access \(rcptTable), sleep 1",
                   dependent: []),
    ]

    @Test("which restrictions make the answer recipient-dependent", arguments: derivations)
    func derivation(_ c: Derivation) throws {
        let fixture = try PolicyFixture(c.config)
        #expect(fixture.diagnostics.filter { $0.severity == .error }.isEmpty)
        let dependence = RecipientDependence(fixture.engine.config)
        #expect(dependence.restrictions == c.dependent)
        #expect(dependence.isIndependent == c.dependent.isEmpty)
    }

    /// Configurations without recipient-dependent restrictions, covering every kind of outcome.
    static let independentConfigs = [
        "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname",
        "smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname",
        "mynetworks = 192.0.2.0/24\nsmtpd_helo_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_non_fqdn_helo_hostname",
        "smtpd_helo_restrictions = warn_if_reject, reject_non_fqdn_helo_hostname",
        "smtpd_helo_restrictions = defer_if_permit",
        "smtpd_helo_restrictions = defer_if_reject, reject_non_fqdn_helo_hostname",
        """
        smtpd_helo_restrictions = check_helo_access inline:{{hold.example=HOLD why},{warn.example=WARN look},{info.example=INFO note},\
        {prepend.example=PREPEND X-A: b},{bcc.example=BCC c@example.org},{redirect.example=REDIRECT d@example.org},\
        {discard.example=DISCARD},{ok.example=OK},{reject.example=REJECT no},{defer.example=DEFER later},{dunno.example=DUNNO}}
        """,
        "smtpd_helo_restrictions = check_sender_access inline:{{a@example.org=OK},{b@example.org=REJECT}}, reject_non_fqdn_helo_hostname",
        "smtpd_helo_restrictions = permit, reject",
        "smtpd_helo_required = yes\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname",
        "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject_non_fqdn_helo_hostname, defer_if_permit",
        "smtpd_delay_reject = no\nsmtpd_helo_restrictions = check_recipient_access inline:{b@example.com=REJECT}",
        "smtpd_helo_restrictions = reject_unknown_helo_hostname",
    ]

    static let scripts: [SessionScript] = {
        let helos: [[String]] = [[], ["foo"], ["mail.example.net"], ["hold.example"], ["warn.example"], ["info.example"],
                                 ["prepend.example"], ["bcc.example"], ["redirect.example"], ["discard.example"],
                                 ["ok.example"], ["reject.example"], ["defer.example"], ["dunno.example"], ["foo", "mail.example.net"]]
        var scripts: [SessionScript] = []
        for helo in helos {
            for (client, sasl, sender) in [("203.0.113.7", nil, "<a@example.org>"), ("192.0.2.5", nil, "<b@example.org>"),
                                           ("203.0.113.7", "alice", "<>")] as [(String, String?, String)] {
                scripts.append(SessionScript(clientAddress: client, helos: helo, saslUsername: sasl, sender: sender,
                                             recipients: ["<b@example.com>", "<postmaster>", "c@example.net", "<>"]))
            }
        }
        return scripts
    }()

    @Test("a plain acceptance at MAIL is what every recipient then gets, and only that is plain", arguments: independentConfigs)
    func lookAheadAgrees(_ config: String) throws {
        let fixture = try PolicyFixture(config)
        #expect(RecipientDependence(fixture.engine.config).isIndependent)
        var plain = 0
        for script in Self.scripts {
            let (facts, _, deferral) = fixture.engine.factsAtMail(script)
            let outcome = fixture.engine.play(script)
            let atMail = try #require(fixture.engine.decideForEveryRecipient(facts: facts, heloDeferral: deferral))
            if atMail.isPlainAcceptance {
                plain += 1
                for result in outcome.recipients {
                    #expect(result.decision.isPlainAcceptance, "\(config) \(script.helos) \(result.recipient): \(result.decision)")
                }
            } else {
                // Every recipient but postmaster gets what the look-ahead found.
                for result in outcome.recipients where RecipientAddress.bare(result.recipient).lowercased() != "postmaster" {
                    #expect(result.decision.verdict == atMail.verdict && result.decision.actions == atMail.actions
                            && result.decision.events == atMail.events, "\(config) \(script.helos) \(result.recipient)")
                }
            }
        }
        // Every configuration accepts some sessions plainly (the corpus is not all refusals).
        #expect(plain > 0)
    }

    @Test("a table entry that names sleep: no answer at MAIL, and no pause there")
    func sleepInTableResult() throws {
        let fixture = try PolicyFixture("smtpd_helo_restrictions = check_helo_access inline:{{slow.example=sleep 5}}")
        #expect(RecipientDependence(fixture.engine.config).isIndependent)
        let slow = fixture.engine.decideForEveryRecipient(facts: SessionFacts(heloArgument: "slow.example", sender: "a@example.org"))
        #expect(slow == nil)
        // A recipient's run asks for the pause; the look-ahead at MAIL gave nothing to carry out.
        #expect(fixture.engine.decide(recipient: "b@example.com", facts: SessionFacts(heloArgument: "slow.example", sender: "a@example.org")).pauses == [5])
        let fast = fixture.engine.decideForEveryRecipient(facts: SessionFacts(heloArgument: "fast.example", sender: "a@example.org"))
        #expect(fast?.isPlainAcceptance == true)
    }

    @Test("check_recipient_access reached at MAIL: no answer there")
    func recipientAccessReached() throws {
        let fixture = try PolicyFixture("smtpd_helo_restrictions = reject_invalid_helo_hostname, check_recipient_access inline:{{abuse@example.com=OK}}")
        #expect(fixture.engine.decideForEveryRecipient(facts: SessionFacts(heloArgument: "mail.example.net", sender: "")) == nil)
        // A refusal before it is still found (the session does not use it: it is no acceptance).
        #expect(fixture.engine.decideForEveryRecipient(facts: SessionFacts(heloArgument: "a..b", sender: ""))?.verdict.reply != nil)
    }
}
