/// What one recipient gets back because of the HELO restrictions.
public enum Verdict: Sendable, Hashable {
    case accept
    /// A permanent refusal (5xx).
    case reject(SMTPReply)
    /// A temporary refusal (4xx).
    case `defer`(SMTPReply)
    /// Accept, then throw the message away (Postfix's DISCARD).
    case discard

    public var reply: SMTPReply? {
        switch self {
        case .reject(let reply), .defer(let reply): return reply
        case .accept, .discard: return nil
        }
    }

    /// Sorts a refusal into reject or defer by its first digit.
    static func refusal(_ reply: SMTPReply) -> Verdict {
        reply.isPermanent ? .reject(reply) : .defer(reply)
    }
}

/// Something the restrictions want written to the mail log, in Postfix's words: the `kind` is
/// the word Postfix logs (`reject`, `reject_warning`, `warn`, `hold`, ...) and `text` what follows
/// `RCPT from client: `. For `warning` and `note` the text is the whole message instead.
public struct PolicyLogEvent: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case reject
        case rejectWarning = "reject_warning"
        case warn
        case info
        case hold
        case discard
        case filter
        case redirect
        case bcc
        case permit
        /// A problem with the configuration found while evaluating (Postfix's `warning:` lines).
        case warning
        /// A plain diagnostic line, which Postfix logs with neither a severity word nor the
        /// `RCPT from client:` part (its `msg_info()`), e.g. `mapping DSN status ...`. Not the
        /// INFO table action, which is `info` and has the Postfix reject-style shape.
        case note
    }

    public let kind: Kind
    public let text: String

    public init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }

    public var description: String { "\(kind.rawValue): \(text)" }
}

/// Actions an access table asked for that take effect on the message, not on the reply.
public struct MessageActions: Sendable, Hashable {
    /// HOLD: put the message into the hold queue (quarantine), with this reason.
    public var hold: String?
    /// PREPEND: header lines to add.
    public var prependHeaders: [String] = []
    /// REDIRECT: replace all recipients with this one.
    public var redirect: String?
    /// BCC: add these recipients.
    public var bcc: [String] = []
    /// FILTER: a content filter Postfix would set; a milter cannot, so it is only logged.
    public var filter: String?

    public init() {}

    public var isEmpty: Bool {
        hold == nil && prependHeaders.isEmpty && redirect == nil && bcc.isEmpty && filter == nil
    }
}

/// One step of the evaluation, for `heloguard test --explain`.
///
/// A step made during evaluation keeps the ``Restriction`` itself and spells it only when
/// somebody reads ``restriction``: the milter records a step for every restriction it runs but
/// never reads the trace, so it should not pay for the text. Equality and hashing go by the text.
public struct TraceStep: Sendable, Hashable, CustomStringConvertible {
    /// Nesting depth: 0 for the top list, 1 inside a class or table result, ...
    public let depth: Int
    public let outcome: String
    private let label: Label

    private enum Label: Sendable {
        case text(String)
        case restriction(Restriction)
    }

    public init(depth: Int, restriction: String, outcome: String) {
        self.depth = depth
        self.label = .text(restriction)
        self.outcome = outcome
    }

    init(depth: Int, restriction: Restriction, outcome: String) {
        self.depth = depth
        self.label = .restriction(restriction)
        self.outcome = outcome
    }

    /// The restriction (or the note) as written in the configuration.
    public var restriction: String {
        switch label {
        case .text(let text): return text
        case .restriction(let restriction): return restriction.description
        }
    }

    public var description: String {
        String(repeating: "  ", count: depth) + "\(restriction): \(outcome)"
    }

    public static func == (left: TraceStep, right: TraceStep) -> Bool {
        left.depth == right.depth && left.outcome == right.outcome && left.restriction == right.restriction
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(depth)
        hasher.combine(restriction)
        hasher.combine(outcome)
    }
}

/// The whole answer for one recipient: the verdict, which restriction decided it, message
/// actions, log events and the evaluation trace.
public struct RecipientDecision: Sendable, Hashable {
    public var verdict: Verdict
    /// The restriction that produced a refusal or discard, as written in the configuration.
    public var decidingRestriction: String?
    public var actions: MessageActions
    public var events: [PolicyLogEvent]
    public var trace: [TraceStep]
    /// Set when this refusal puts the client into the penalty box (only ever with a 5xx
    /// `reject` verdict); the session carries it out.
    public var penalty: PenaltyRequest?
    /// `dry_run = yes`: the refusal the restrictions decided and heloguard did not give
    /// (``verdict`` is then `accept`); nil when the verdict is enforced.
    public var wouldBe: Verdict?
    /// The pauses, in seconds and in order, that the `sleep` restrictions reached asked for
    /// (each already cut to the command's time budget). The rule core never blocks: whoever
    /// carries the decision out pauses this long before it answers, as Postfix would have
    /// paused during the evaluation. A look-ahead run asks for none.
    public var pauses: [Int] = []

    public init(
        verdict: Verdict, decidingRestriction: String? = nil, actions: MessageActions = MessageActions(),
        events: [PolicyLogEvent] = [], trace: [TraceStep] = [], penalty: PenaltyRequest? = nil
    ) {
        self.verdict = verdict
        self.penalty = penalty
        self.decidingRestriction = decidingRestriction
        self.actions = actions
        self.events = events
        self.trace = trace
    }

    /// The decision as `dry_run = yes` carries it out: a refusal is not given but logged as
    /// Postfix logs `warn_if_reject` (`reject_warning: ...` with the reply that would have
    /// been given), the recipient is accepted and nobody is boxed. Anything else is unchanged.
    public func unenforced() -> RecipientDecision {
        guard let reply = verdict.reply else { return self }
        var decision = self
        decision.wouldBe = verdict
        decision.verdict = .accept
        decision.penalty = nil
        var warned = false
        decision.events = events.map { event in
            guard event.kind == .reject else { return event }
            warned = true
            return PolicyLogEvent(.rejectWarning, event.text)
        }
        if !warned { decision.events.append(PolicyLogEvent(.rejectWarning, reply.line)) }
        return decision
    }

    /// The word `heloguard test --json` reports: accept, reject, defer, discard or hold.
    public var actionName: String {
        switch verdict {
        case .reject: return "reject"
        case .defer: return "defer"
        case .discard: return "discard"
        case .accept: return actions.hold != nil ? "hold" : "accept"
        }
    }
}
