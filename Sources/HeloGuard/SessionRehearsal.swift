import HeloPolicy
import MilterKit
import Locking

/// `heloguard test`'s engine: plays a ``SessionScript`` through the milter's own
/// ``HeloGuardSession`` — the code every real connection runs — with a ``RecordingContext`` in
/// place of libmilter, and the events in the order and shape Postfix sends them. So the
/// tester and the milter cannot disagree: the penalty box, the per-session DNS answers, the
/// MAIL-stage checks, message actions and log lines are the session's.
///
/// What is Postfix's own part is played here: a HELO argument Postfix refuses itself (syntax)
/// never reaches the milter; a repeated HELO is followed by ABORT; after a MAIL that the milter
/// accepted for the whole message (`SMFIS_ACCEPT`) the MTA asks nothing more, so every recipient
/// is accepted. After a refused MAIL the recipients are still put to the session, which answers
/// each with the MAIL refusal (the contract of `heloguard test`: a MAIL-stage refusal is
/// reported for every recipient).
public enum SessionRehearsal {
    /// What one rehearsal produced: the outcome `heloguard test` prints, the log lines the
    /// milter would have written, and the requests it made of the MTA at end of message.
    public struct Result: Sendable {
        public let outcome: SessionOutcome
        public let logLines: [String]
        public let requests: [RecordingContext.Request]
    }

    /// The reply the MTA gives a HELO whose argument it refuses itself (the milter never sees it).
    static let heloSyntaxReply = SMTPReply(verbatim: "501 Syntax: HELO hostname")

    public static func play(_ script: SessionScript, configuration: RuntimeConfiguration) -> Result {
        let log = CollectedLog()
        let player = Player(session: HeloGuardSession(configuration: configuration, log: log))
        _ = player.session.connect(client: client(script), context: player.context)
        let helos = player.helos(script.helos)
        let recipients = player.transaction(script)
        player.session.close(context: player.context)
        return Result(outcome: SessionOutcome(helos: helos, recipients: recipients), logLines: log.lines,
                      requests: player.context.requests)
    }

    /// One session being played: the session, its context and what it decided.
    private final class Player: SessionObserver {
        let session: HeloGuardSession
        let context = RecordingContext()
        var heloDecision: RecipientDecision?
        var recipientDecision: RecipientDecision?
        /// The first HELO the session refused: the MTA gives that reply to every later MAIL.
        var heloRefusal: RecipientDecision?

        init(session: HeloGuardSession) {
            self.session = session
            session.observer = self
        }

        func decided(helo argument: String, _ decision: RecipientDecision) { heloDecision = decision }
        func decided(recipient: String, _ decision: RecipientDecision) { recipientDecision = decision }

        func helos(_ arguments: [String]) -> [SessionOutcome.HeloReply] {
            var replies: [SessionOutcome.HeloReply] = []
            var sent = 0
            for raw in arguments {
                guard let argument = HeloName.commandArgument(raw) else {
                    replies.append(.init(argument: raw, refusal: heloSyntaxReply))
                    continue
                }
                heloDecision = nil
                let response = session.helo(argument, context: context)
                // Postfix follows every HELO after the first with ABORT (a new HELO ends a transaction).
                if sent > 0 { session.abort(context: context) }
                sent += 1
                let refusal = SessionRehearsal.refusal(response, decided: heloDecision)
                if let refusal, heloRefusal == nil {
                    heloRefusal = heloDecision ?? RecipientDecision(verdict: refusal.isPermanent ? .reject(refusal) : .defer(refusal))
                }
                replies.append(.init(argument: argument, refusal: refusal.map(SessionRehearsal.asSent)))
            }
            return replies
        }

        /// MAIL and the recipients, then (when one was accepted) the end of the message.
        func transaction(_ script: SessionScript) -> [SessionOutcome.RecipientResult] {
            if let heloRefusal {
                // The MTA refuses MAIL itself with the HELO's reply; the milter hears no more.
                return script.recipients.map { .init(recipient: $0, decision: SessionRehearsal.asSent(heloRefusal)) }
            }
            if let user = script.saslUsername {
                context.macros["{auth_type}"] = "PLAIN"
                context.macros["{auth_authen}"] = user
            }
            let mail = session.mail([script.sender] + (script.smtputf8 ? ["SMTPUTF8"] : []), context: context)
            var results: [SessionOutcome.RecipientResult] = []
            for recipient in script.recipients {
                var decision = RecipientDecision(verdict: .accept)
                if mail != .accept {
                    recipientDecision = nil
                    let response = session.recipient([recipient], context: context)
                    decision = recipientDecision ?? RecipientDecision(verdict: verdict(response))
                }
                if case .accept = decision.verdict, context.macros["i"] == nil {
                    // Postfix has a queue id once a recipient is accepted.
                    context.macros["i"] = "TEST"
                }
                results.append(.init(recipient: recipient, decision: SessionRehearsal.asSent(decision)))
            }
            if context.macros["i"] != nil {
                _ = session.data(context: context)
                _ = session.endOfMessage(context: context)
            }
            return results
        }
    }

    /// A reply as the milter puts it on the wire: 7-bit (``MilterReply/sevenBitPrintable(_:)``).
    static func asSent(_ reply: SMTPReply) -> SMTPReply {
        let line = MilterReply.sevenBitPrintable(reply.line)
        return line == reply.line ? reply : SMTPReply(verbatim: line)
    }

    /// A decision whose reply is the one the milter sends.
    static func asSent(_ decision: RecipientDecision) -> RecipientDecision {
        var sent = decision
        switch decision.verdict {
        case .reject(let reply): sent.verdict = .reject(asSent(reply))
        case .defer(let reply): sent.verdict = .defer(asSent(reply))
        case .accept, .discard: break
        }
        return sent
    }

    /// How the MTA introduces the client at connect: its verified name, or `[address]`.
    static func client(_ script: SessionScript) -> MilterClient {
        let family: MilterClient.Family = IPAddress(script.clientAddress).map { $0.family == .v4 ? .inet4 : .inet6 } ?? .unknown
        let hostname = script.clientName == "unknown" ? "[\(script.clientAddress)]" : script.clientName
        return MilterClient(hostname: hostname, address: script.clientAddress, port: 0, family: family)
    }

    /// The HELO's refusal, if the session refused it: the rule core's reply when it decided.
    static func refusal(_ response: MilterResponse, decided: RecipientDecision?) -> SMTPReply? {
        switch response {
        case .reject(let reply), .tempfail(let reply):
            return decided?.verdict.reply ?? SMTPReply(verbatim: reply?.description ?? HeloGuardSession.internalErrorReply.description)
        case .continue, .accept, .discard:
            return nil
        }
    }

    /// A verdict for a response the rule core did not decide (the session's own safe reply).
    static func verdict(_ response: MilterResponse) -> Verdict {
        switch response {
        case .reject(let reply):
            return .reject(SMTPReply(verbatim: reply?.description ?? "550 5.7.1 Rejected"))
        case .tempfail(let reply):
            return .defer(SMTPReply(verbatim: reply?.description ?? HeloGuardSession.internalErrorReply.description))
        case .discard:
            return .discard
        case .continue, .accept:
            return .accept
        }
    }
}

/// Keeps log lines in memory, in order (`heloguard test`).
public final class CollectedLog: MailLog {
    private let storage = Locked<[String]>([])

    public init() {}

    public func log(_ priority: LogPriority, _ message: String) {
        storage.withLock { $0.append(logSafe(message)) }
    }

    public var lines: [String] { storage.withLock { $0 } }
}
