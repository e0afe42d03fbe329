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
/// and the decision for each recipient. `heloguard test` gets it by driving the milter's own
/// session code (HeloGuard's `SessionRehearsal`).
public struct SessionOutcome: Sendable, Hashable {
    public struct HeloReply: Sendable, Hashable {
        public let argument: String
        /// nil when the HELO was accepted.
        public let refusal: SMTPReply?

        public init(argument: String, refusal: SMTPReply?) {
            self.argument = argument
            self.refusal = refusal
        }
    }

    public struct RecipientResult: Sendable, Hashable {
        public let recipient: String
        public let decision: RecipientDecision

        public init(recipient: String, decision: RecipientDecision) {
            self.recipient = recipient
            self.decision = decision
        }
    }

    public var helos: [HeloReply]
    public var recipients: [RecipientResult]

    public init(helos: [HeloReply] = [], recipients: [RecipientResult] = []) {
        self.helos = helos
        self.recipients = recipients
    }
}
