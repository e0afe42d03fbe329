/// How Postfix (3.7) turns a milter's decision into the reply its SMTP client sees, for the
/// commands whose reply is the milter's to give. Assumes Postfix's own checks passed, the
/// default `milter_default_action = tempfail`, no `soft_bounce` and no `smtpd_reject_footer`.
public enum PostfixRelay {
    /// The SMTP command a milter event answers.
    public enum Command: Sendable, Hashable {
        case mail
        case recipient
        case data
        case endOfMessage

        /// Postfix's own positive reply to the command (for end of message without the
        /// ` as <queue id>` that Postfix appends).
        public var positiveReply: String {
            switch self {
            case .mail: "250 2.1.0 Ok"
            case .recipient: "250 2.1.5 Ok"
            case .data: "354 End data with <CR><LF>.<CR><LF>"
            case .endOfMessage: "250 2.0.0 Ok: queued"
            }
        }
    }

    /// Postfix's text for a plain SMFIR_REJECT.
    public static let rejectReply = "550 5.7.1 Command rejected"
    /// Postfix's text for a plain SMFIR_TEMPFAIL, and its default reply when the milter
    /// breaks the protocol (`milter_default_action = tempfail`).
    public static let tempfailReply = "451 4.7.1 Service unavailable - try again later"
    /// Postfix's reply when a milter sent a malformed reply code (its "configuration error"
    /// state, which lasts for the rest of the session).
    public static let configurationErrorReply = "451 4.3.5 Server configuration problem - try again later"
    /// Postfix's reply to SMFIR_SHUTDOWN, before it disconnects.
    public static let shutdownReply = "421 4.7.0 Server closing connection"

    /// The reply lines (joined by CR LF) Postfix sends for `command` after the milter answered
    /// `decision`: continue, accept, skip and discard give Postfix's positive reply (a discarded
    /// message is accepted, then dropped); reject and tempfail give Postfix's fixed texts; a
    /// reply code is relayed after ``unescapePercent(_:)``, or refused as malformed.
    public static func reply(to decision: MilterDecision, for command: Command) -> String {
        switch decision {
        case .continue, .accept, .skip, .discard: command.positiveReply
        case .reject: rejectReply
        case .tempfail: tempfailReply
        case .shutdown: shutdownReply
        // Not a reply Postfix knows: a communication error, answered with the default action.
        case .connectionFailure: tempfailReply
        case .replyCode(let text): isWellFormed(text) ? unescapePercent(text) : configurationErrorReply
        }
    }

    /// Postfix does not treat the milter's text as a format string the way Sendmail does:
    /// `%%` becomes `%` and a single `%` is dropped (`100%% sure, 50% maybe` → `100% sure, 50 maybe`).
    public static func unescapePercent(_ text: String) -> String {
        var result = ""
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            if character == "%" {
                guard let next = iterator.next() else { break }
                result.append(next)
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// Postfix 3.7's check of a milter reply code: `4` or `5`, two more digits, a space or `-`,
    /// and, if an enhanced status code follows, its class digit equal to the reply's.
    public static func isWellFormed(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 5, bytes[0] == UInt8(ascii: "4") || bytes[0] == UInt8(ascii: "5") else { return false }
        let isDigit = { (byte: UInt8) in (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
        guard isDigit(bytes[1]), isDigit(bytes[2]), bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-") else { return false }
        return !isDigit(bytes[4]) || bytes[4] == bytes[0]
    }
}
