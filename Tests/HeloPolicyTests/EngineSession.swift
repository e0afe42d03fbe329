@testable import HeloPolicy

// The rule core's tests play whole sessions through the engine's three questions (MAIL, HELO,
// RCPT) in the order the milter asks them. The product has one session flow only, the milter's
// (HeloGuardSession, which `heloguard test` drives too); this helper is the rule core's test
// bench and checks the engine's answers, not the session's bookkeeping.
extension HeloPolicyEngine {
    /// Plays a whole session through the engine's answers alone.
    func play(_ script: SessionScript) -> SessionOutcome {
        let (facts, heloReplies, pendingDeferral) = factsAtMail(script)
        let results = script.recipients.map { recipient in
            SessionOutcome.RecipientResult(recipient: recipient,
                                           decision: decide(recipient: recipient, facts: facts, heloDeferral: pendingDeferral))
        }
        return SessionOutcome(helos: heloReplies, recipients: results)
    }

    /// What the session has said by MAIL FROM: the facts, the reply to each HELO, and a
    /// `defer_if_permit` left pending at HELO (delayed rejection off).
    func factsAtMail(_ script: SessionScript) -> (SessionFacts, [SessionOutcome.HeloReply], SMTPReply?) {
        var facts = SessionFacts(clientAddress: script.clientAddress, clientName: script.clientName)
        var heloReplies: [SessionOutcome.HeloReply] = []
        var pendingDeferral: SMTPReply? = nil
        for raw in script.helos {
            guard let argument = HeloName.commandArgument(raw) else {
                heloReplies.append(.init(argument: raw, refusal: SMTPReply(verbatim: "501 Syntax: HELO hostname")))
                continue
            }
            let result = checkHelo(argument: argument, facts: facts)
            if let refusal = result.decision.verdict.reply {
                heloReplies.append(.init(argument: argument, refusal: refusal))
                continue
            }
            heloReplies.append(.init(argument: argument, refusal: nil))
            facts.heloArgument = argument
            pendingDeferral = result.pendingDeferral
        }
        if let user = script.saslUsername {
            facts.saslMethod = "PLAIN"
            facts.saslUsername = user
        }
        facts.sender = RecipientAddress.bare(script.sender)
        facts.smtputf8 = script.smtputf8
        return (facts, heloReplies, pendingDeferral)
    }
}
