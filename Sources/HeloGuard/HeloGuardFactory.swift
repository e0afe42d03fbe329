import HeloPolicy
import MilterKit

/// Makes a ``HeloGuardSession`` for each connection, with the configuration current at that
/// moment. ``negotiation(for:)`` says what heloguard needs from the MTA: only the events,
/// replies and macros it uses.
public struct HeloGuardFactory: MilterHandlerFactory {
    public let store: ConfigurationStore
    public let log: any MailLog

    public init(store: ConfigurationStore, log: any MailLog) {
        self.store = store
        self.log = log
    }

    /// Macros heloguard reads: the MTA's own name and address (`reject_impersonating_helo`), the
    /// client's name, address and port (heloguard skips the connect event and reads these
    /// instead) and its PTR name (RBL reply templates, the HELO log), the SASL login at MAIL, the
    /// queue id for the log lines of RCPT. No other stage reads any, so heloguard names no list
    /// for them. (Postfix sends a macro packet with every event anyway, an empty one when nothing
    /// on the list has a value, and an empty or missing list means its own default list: fewer
    /// names make smaller packets, not fewer.)
    public static let macros: [MilterStage: [String]] = [
        .connect: ["j", "{daemon_addr}", "{client_name}", "{client_addr}", "{client_port}", "{client_ptr}"],
        .mail: ["{auth_type}", "{auth_authen}"],
        .recipient: ["i"],
    ]

    /// What heloguard asks of the MTA under `policy`. `acceptsAtMail`: the answer at MAIL FROM
    /// can stand for the whole message (``RuntimeConfiguration/acceptsAtMail``), so MAIL needs
    /// a reply.
    public static func negotiation(for policy: PolicyConfig, acceptsAtMail: Bool) -> MilterNegotiation {
        // Headers, body and unknown commands are never looked at; DATA needs no answer. The
        // connect event is skipped: its client comes from the connect macros, which the MTA sends
        // anyway, with the next event (one packet and one callback less per connection).
        var steps: MilterSteps = [.noConnect, .noHeaders, .noEndOfHeaders, .noBody, .noUnknown, .noData, .noReplyConnect]
        // Answers are needed at HELO only when it is decided there (delayed rejection off), and
        // at MAIL for smtpd_helo_required (which also holds with delayed rejection off) or to
        // accept the whole message there.
        if policy.delayReject { steps.insert(.noReplyHelo) }
        if !policy.heloRequired && !acceptsAtMail { steps.insert(.noReplyMail) }
        return MilterNegotiation(
            actions: [.addHeaders, .addRecipients, .deleteRecipients, .quarantine, .setSymbolList],
            steps: steps,
            macros: macros)
    }

    public func makeHandler() -> any MilterHandler {
        let session = HeloGuardSession(configuration: store.current, log: log)
        guard let metrics = HeloGuardMetrics.current else { return session }
        return MeteredSession(session: session, metrics: metrics)
    }
}
