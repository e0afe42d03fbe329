import Foundation
import HeloPolicy
import HeloState
import MilterKit

/// One SMTP connection as heloguard sees it through the milter protocol. It keeps what Postfix
/// keeps (client, HELO name, sender, SASL login), asks the rule core at each RCPT TO, and turns
/// the answer into a milter response, log lines and, at end of message, the message actions.
///
/// The HELO name survives ABORT (RSET, the ABORT that follows a repeated HELO, end of message):
/// Postfix keeps it too. Only a new HELO replaces it.
///
/// A refusal whose decision asks for it puts the client into the penalty box (memory at once,
/// the store through the writer queue); at close, the connection's HELO and worst verdict go to
/// the HELO log (when `helo_log = yes` and the connection is sampled). Neither waits for the disk.
public final class HeloGuardSession: MilterHandler {
    /// The reply when our own state is unusable (a recipient before any connect): temporary,
    /// never a 5xx caused by our failure.
    public static let internalErrorReply = try! MilterReply(line: "451 4.3.0 Error: internal error in the HELO filter, try again later")

    public let configuration: RuntimeConfiguration
    private let log: any MailLog
    /// Sees every decision this session makes (`heloguard test`, the metrics); nil: nobody.
    public var observer: (any SessionObserver)?
    /// Carries out the pauses a decision asks for (`sleep`), one call per pause, in seconds.
    /// Blocks the calling libmilter thread, as Postfix's `sleep` holds its smtpd process;
    /// tests put a recorder here.
    public var pause: (Int) -> Void = SessionPause.sleep(seconds:)
    /// The policy engine with this session's DNS answers: made anew for each new HELO name, so
    /// every recipient (and a repeated EHLO with the same name) reuses the answers found at HELO.
    private var engine: HeloPolicyEngine
    private var dnsAnswers: SessionResolver

    private var connected = false
    private var facts = HeloGuardSession.unconnected
    /// The facts before a connect: made once, not per connection (each parses its default address).
    private static let unconnected = SessionFacts()
    /// The accepted HELO name as Postfix stores and logs it (sanitised), made once per HELO.
    private var storedHelo: String? { facts.storedHeloName }
    /// With `smtpd_delay_reject = no`: a `defer_if_permit` raised at HELO, applied to every recipient.
    private var heloDeferral: SMTPReply?
    private var transaction = Transaction()
    /// The worst verdict of this connection so far, for the HELO log.
    private var outcome = ConnectionOutcome()

    /// What the current mail transaction has collected.
    private struct Transaction {
        var recipients: [String] = []
        var actions = MessageActions()
        var loggedOnce: Set<PolicyLogEvent.Kind> = []
    }

    public init(configuration: RuntimeConfiguration, log: any MailLog) {
        self.configuration = configuration
        self.log = log
        (engine, dnsAnswers) = configuration.sessionEngine()
    }

    /// How many distinct DNS questions this session has asked (for tests and logs).
    public var dnsQuestionCount: Int { dnsAnswers.questionCount }

    // MARK: - Events

    public func negotiation() -> MilterNegotiation {
        configuration.negotiation
    }

    public func connect(client: MilterClient, context: any MilterContext) -> MilterResponse {
        connected = true
        facts = Self.unconnected
        outcome = ConnectionOutcome()
        let hostname = client.hostname
        var address = client.address
        if address.isEmpty {
            // A unix-socket or unknown-family client: use what the MTA says, else the bracketed name.
            address = context.macro("{client_addr}") ?? Self.bracketed(hostname) ?? ""
        }
        facts.clientAddress = address
        // The MTA writes `[address]` when it has no verified name: Postfix's `unknown`.
        facts.clientName = hostname.isEmpty || Self.bracketed(hostname) != nil ? "unknown" : hostname
        facts.serverHostnames = context.macro("j").map { [$0] } ?? []
        facts.serverAddresses = context.macro("{daemon_addr}").map { [$0] } ?? []
        // For RBL reply templates ($client_port, $reverse_client_name).
        facts.clientPort = client.port > 0 ? String(client.port) : nil
        facts.reverseClientName = context.macro("{client_ptr}").flatMap { $0.isEmpty ? nil : $0 }
        return .continue
    }

    public func helo(_ name: String, context: any MilterContext) -> MilterResponse {
        heloDeferral = nil
        // A new name starts with fresh answers (and a fresh timeout allowance); answers nobody
        // asked for yet need no replacing.
        if name != facts.heloArgument, dnsAnswers.questionCount > 0 {
            (engine, dnsAnswers) = configuration.sessionEngine()
        }
        guard !configuration.policy.delayReject else {
            accept(helo: name)
            // Ask DNS now, once: the recipients are then decided from these answers.
            if configuration.asksDNSAtHelo { engine.prefetch(facts: facts) }
            return .continue
        }
        // Delayed rejection off: decide now. Postfix would refuse the HELO command itself; a
        // milter cannot (the MTA answers 250 and applies our reply to MAIL and later commands).
        let result = engine.checkHelo(argument: name, facts: facts)
        performPauses(of: result.decision)
        observer?.decided(helo: name, result.decision)
        writeEvents(result.decision.events, command: "HELO", queueID: "NOQUEUE", recipient: nil, helo: name)
        carryOut(result.decision)
        if let reply = result.decision.verdict.reply {
            return .refuse(Self.milterReply(reply))
        }
        accept(helo: name)
        heloDeferral = result.pendingDeferral
        return .continue
    }

    public func mail(_ arguments: [String], context: any MilterContext) -> MilterResponse {
        transaction = Transaction()
        facts.sender = arguments.first.map(RecipientAddress.bare) ?? ""
        facts.smtputf8 = arguments.dropFirst().contains(where: Self.isSMTPUTF8)
        facts.saslMethod = context.macro("{auth_type}").flatMap { $0.isEmpty ? nil : $0 }
        facts.saslUsername = context.macro("{auth_authen}").flatMap { $0.isEmpty ? nil : $0 }
        guard connected else { return .tempfail(Self.internalErrorReply) }
        if let refusal = engine.checkMail(facts) {
            log.info("NOQUEUE: reject: MAIL from \(facts.clientNameAndAddress): \(refusal.line);\(envelope(recipient: nil, helo: storedHelo))")
            let decision = RecipientDecision(verdict: .reject(refusal), decidingRestriction: "smtpd_helo_required")
            outcome.note(decision)
            observer?.decided(mail: decision)
            return .refuse(Self.milterReply(refusal))
        }
        return acceptsWholeMessage() ? .accept : .continue
    }

    /// True when the answer at MAIL FROM stands for every recipient and is a plain acceptance
    /// (see ``RecipientDependence`` and ``RecipientDecision/isPlainAcceptance``): the message is
    /// then accepted here, and the MTA sends no RCPT, DATA or end-of-message event for it (the
    /// next MAIL FROM, and any new HELO, still come). The HELO log notes the acceptance now.
    private func acceptsWholeMessage() -> Bool {
        guard configuration.acceptsAtMail,
              let decision = engine.decideForEveryRecipient(facts: facts, heloDeferral: heloDeferral),
              decision.isPlainAcceptance else { return false }
        outcome.note(decision)
        observer?.acceptedWholeMessage(decision)
        return true
    }

    public func recipient(_ arguments: [String], context: any MilterContext) -> MilterResponse {
        guard connected, let recipient = arguments.first else {
            log.error("RCPT without a connection state (no connect event seen); answering with a temporary failure")
            return .tempfail(Self.internalErrorReply)
        }
        let decision = engine.decide(recipient: recipient, facts: facts, heloDeferral: heloDeferral)
        performPauses(of: decision)
        observer?.decided(recipient: recipient, decision)
        let queueID = context.macro("i").flatMap { $0.isEmpty ? nil : $0 } ?? "NOQUEUE"
        writeEvents(decision.events, command: "RCPT", queueID: queueID, recipient: RecipientAddress.bare(recipient),
                    helo: storedHelo)
        carryOut(decision)
        switch decision.verdict {
        case .reject(let reply), .defer(let reply):
            return .refuse(Self.milterReply(reply))
        case .discard:
            return .discard
        case .accept:
            transaction.recipients.append(recipient)
            transaction.actions.merge(decision.actions)
            return .continue
        }
    }

    public func data(context: any MilterContext) -> MilterResponse { .continue }

    public func endOfMessage(context: any MilterContext) -> MilterResponse {
        let actions = transaction.actions
        defer { transaction = Transaction() }
        if let reason = actions.hold, !context.quarantine(reason: reason) {
            log.warning("cannot quarantine the message (HOLD \(reason)): the MTA refused")
        }
        // Each header goes to the top, last first, so they end up in the order they were added.
        for line in actions.prependHeaders.reversed() {
            let (name, value) = Self.splitHeader(line)
            if !context.insertHeader(at: 0, name: name, value: value) {
                log.warning("cannot add header \"\(name)\" (PREPEND): the MTA refused")
            }
        }
        if let target = actions.redirect {
            for recipient in transaction.recipients where !context.deleteRecipient(recipient) {
                log.warning("cannot remove recipient \(recipient) (REDIRECT): the MTA refused")
            }
            if !context.addRecipient(target) { log.warning("cannot add recipient \(target) (REDIRECT): the MTA refused") }
        }
        var added: Set<String> = []
        for target in actions.bcc where added.insert(target).inserted {
            if !context.addRecipient(target) { log.warning("cannot add recipient \(target) (BCC): the MTA refused") }
        }
        if let filter = actions.filter {
            log.warning("FILTER \(filter) is not available to a milter; the message is delivered normally")
        }
        return .continue
    }

    public func abort(context: any MilterContext) {
        // RSET, a repeated HELO (its ABORT comes after the new HELO) or the end of a message:
        // the transaction ends, the HELO name stays.
        transaction = Transaction()
        facts.sender = nil
        facts.saslMethod = nil
        facts.saslUsername = nil
        facts.smtputf8 = false
    }

    public func close(context: any MilterContext) {
        guard connected else { return }
        connected = false
        let penalties = configuration.penalties
        guard let helo = storedHelo, let client = facts.clientIP, penalties.sampleConnection() else { return }
        let reverseName = facts.clientName != "unknown" ? facts.clientName : facts.reverseClientName
        penalties.record(HeloLogRecord(time: Date(), client: client, helo: helo, verdict: outcome.verdict,
                                       restriction: outcome.restriction, clientName: reverseName))
    }

    // MARK: - Helpers

    /// True for the MAIL FROM parameter `SMTPUTF8` in any ASCII case, as Postfix compares it
    /// (`strcasecmp`): no Unicode case mapping (`ſmtputf8` is not it), no copy of the text.
    static func isSMTPUTF8(_ parameter: String) -> Bool {
        parameter.utf8.elementsEqual("SMTPUTF8".utf8) { byte, upper in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 0x20 : byte) == upper
        }
    }

    /// The `sleep`s the evaluation reached, in order, before anything is logged or answered:
    /// Postfix pauses while it evaluates, so its log line and reply come after the pause.
    private func performPauses(of decision: RecipientDecision) {
        for seconds in decision.pauses where seconds > 0 { pause(seconds) }
    }

    /// Notes the verdict for the HELO log and, when the decision asks for it, boxes the client.
    private func carryOut(_ decision: RecipientDecision) {
        outcome.note(decision)
        guard let request = decision.penalty,
              let entry = configuration.penalties.penalize(clientAddress: facts.clientAddress, reason: request.reason) else { return }
        let until = PenaltyNotice.utcText(Int64(entry.expires.timeIntervalSince1970.rounded(.down)))
        log.info("penalized: \(entry.key) until \(until): \(entry.reason)")
    }

    private func accept(helo name: String) {
        facts.heloArgument = name
    }

    /// A rule-core reply as a milter reply. The rule core only builds valid replies; should one
    /// ever be unusable the answer is a temporary failure, never a 5xx of our making.
    static func milterReply(_ reply: SMTPReply) -> MilterReply {
        (try? MilterReply(line: reply.line)) ?? internalErrorReply
    }

    /// `address` for a name written `[address]`, else nil. Bytes, not Characters: it runs at
    /// every connection.
    static func bracketed(_ hostname: String) -> String? {
        let bytes = hostname.utf8
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") else { return nil }
        return String(hostname[bytes.index(after: bytes.startIndex)..<bytes.index(before: bytes.endIndex)])
    }

    static func splitHeader(_ line: String) -> (name: String, value: String) {
        guard let colon = line.firstIndex(of: ":") else { return (line, "") }
        let name = String(line[..<colon]).trimmingTrailingSpaces()
        let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        return (name, String(value))
    }

    /// `; from=<s> to=<r> helo=<h>`, as Postfix ends its log lines (no `proto=`: a milter is not
    /// told whether the client said HELO or EHLO).
    private func envelope(recipient: String?, helo: String?) -> String {
        var text = ""
        if let sender = facts.sender { text += " from=<\(sender)>" }
        if let recipient { text += " to=<\(recipient)>" }
        if let helo { text += " helo=<\(helo)>" }
        if let user = facts.saslUsername { text += " sasl_username=\(user)" }
        return text
    }

    private func writeEvents(_ events: [PolicyLogEvent], command: String, queueID: String, recipient: String?, helo: String?) {
        for event in events {
            switch event.kind {
            case .warning:
                log.warning(event.text)
            case .note:
                log.info(event.text)
            case .hold, .discard:
                // Postfix logs these for the first recipient of a transaction only.
                guard transaction.loggedOnce.insert(event.kind).inserted else { continue }
                fallthrough
            default:
                log.info("\(queueID): \(event.kind.rawValue): \(command) from \(facts.clientNameAndAddress): \(event.text);\(envelope(recipient: recipient, helo: helo))")
            }
        }
    }
}

/// The worst verdict over a connection's recipients, as the HELO log records it: `reject` over
/// `defer` over `would-reject` over `would-defer` (the refusals `dry_run = yes` did not give)
/// over `accept` (a discard counts as accepted), `none` when no recipient was decided; with the
/// restriction that decided the worst one.
struct ConnectionOutcome {
    private(set) var verdict = HeloLogVerdict.none
    private(set) var restriction: String?
    private var rank = 0

    mutating func note(_ decision: RecipientDecision) {
        let (word, rank): (String, Int)
        switch (decision.verdict, decision.wouldBe) {
        case (.reject, _): (word, rank) = (HeloLogVerdict.reject, 5)
        case (.defer, _): (word, rank) = (HeloLogVerdict.deferred, 4)
        case (_, .reject?): (word, rank) = (HeloLogVerdict.wouldReject, 3)
        case (_, .defer?): (word, rank) = (HeloLogVerdict.wouldDefer, 2)
        case (.accept, _), (.discard, _): (word, rank) = (HeloLogVerdict.accept, 1)
        }
        guard rank > self.rank else { return }
        self.rank = rank
        verdict = word
        restriction = rank > 1 ? decision.decidingRestriction : nil
    }
}

extension MessageActions {
    /// Adds what another recipient's evaluation asked for, the way Postfix accumulates it over
    /// a transaction: the last REDIRECT and FILTER win, PREPEND and BCC pile up, any HOLD holds.
    mutating func merge(_ other: MessageActions) {
        if let hold = other.hold, self.hold == nil { self.hold = hold }
        prependHeaders += other.prependHeaders
        if let redirect = other.redirect { self.redirect = redirect }
        bcc += other.bcc
        if let filter = other.filter { self.filter = filter }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = Substring(self)
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
