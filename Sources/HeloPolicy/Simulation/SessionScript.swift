/// An SMTP session described by its facts, as `heloguard test` takes it from the command line:
/// who connects, what it says in HELO (none, one, or several), who it logs in as, the sender
/// and the recipients.
public struct SessionScript: Sendable, Hashable {
    public var clientAddress: String
    public var clientName: String
    /// Every HELO/EHLO argument in order; a later one replaces the earlier one.
    public var helos: [String]
    public var saslUsername: String?
    /// The MAIL FROM address, with or without angle brackets; `<>` is the null sender.
    public var sender: String
    public var smtputf8: Bool
    public var recipients: [String]

    public init(
        clientAddress: String = "127.0.0.1", clientName: String = "unknown", helos: [String] = [],
        saslUsername: String? = nil, sender: String = "<>", smtputf8: Bool = false, recipients: [String]
    ) {
        self.clientAddress = clientAddress
        self.clientName = clientName
        self.helos = helos
        self.saslUsername = saslUsername
        self.sender = sender
        self.smtputf8 = smtputf8
        self.recipients = recipients
    }
}

/// What the session got: the reply to each HELO (they matter only with delayed rejection off)
/// and the decision for each recipient.
public struct SessionOutcome: Sendable, Hashable {
    public struct HeloReply: Sendable, Hashable {
        public let argument: String
        /// nil when the HELO was accepted.
        public let refusal: SMTPReply?
    }

    public struct RecipientResult: Sendable, Hashable {
        public let recipient: String
        public let decision: RecipientDecision
    }

    public var helos: [HeloReply]
    public var recipients: [RecipientResult]
}

extension HeloPolicyEngine {
    /// Plays a whole session through the engine, the way the MTA would present it to heloguard.
    /// `heloguard test` and the tests use this one path.
    public func play(_ script: SessionScript) -> SessionOutcome {
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
