/// The rule core's front door: given a configuration snapshot and what a session has said,
/// it answers the MAIL, HELO and RCPT questions exactly as Postfix's native
/// `smtpd_helo_restrictions` would. Stateless and `Sendable`: one engine serves every thread.
public struct HeloPolicyEngine: Sendable {
    public let config: PolicyConfig
    public let resolver: any HeloResolver
    /// Who is in the penalty box (`reject_penalized_client`); nobody by default.
    public let penalties: any PenaltyLookup

    public init(config: PolicyConfig, resolver: any HeloResolver = UnavailableResolver(),
                penalties: any PenaltyLookup = NoPenalties()) {
        self.config = config
        self.resolver = resolver
        self.penalties = penalties
    }

    /// The reply Postfix gives to MAIL FROM when `smtpd_helo_required = yes` and no HELO was
    /// accepted.
    public static let heloRequiredReply = SMTPReply(verbatim: "503 5.5.1 Error: send HELO/EHLO first")

    /// MAIL FROM: refused only by `smtpd_helo_required`. Never with `dry_run = yes`: the
    /// would-be refusal is then reported (and logged as a warning) at each recipient instead.
    public func checkMail(_ facts: SessionFacts) -> SMTPReply? {
        config.dryRun ? nil : mailRefusal(facts)
    }

    private func mailRefusal(_ facts: SessionFacts) -> SMTPReply? {
        config.heloRequired && facts.heloArgument == nil ? Self.heloRequiredReply : nil
    }

    /// HELO/EHLO with `smtpd_delay_reject = no`: the list runs now, on the raw argument. A
    /// refusal means Postfix does not store the name. A `defer_if_permit` raised here is carried
    /// in `pendingDeferral` and applied to every recipient later. With delayed rejection on,
    /// nothing is checked now.
    public func checkHelo(argument: String, facts: SessionFacts) -> HeloStageResult {
        let result = enforcedCheckHelo(argument: argument, facts: facts)
        guard config.dryRun else { return result }
        return HeloStageResult(decision: result.decision.unenforced(), pendingDeferral: result.pendingDeferral)
    }

    private func enforcedCheckHelo(argument: String, facts: SessionFacts, lookAhead: Bool = false) -> HeloStageResult {
        guard !config.delayReject else { return HeloStageResult(decision: RecipientDecision(verdict: .accept), pendingDeferral: nil) }
        let evaluation = Evaluation(config: config, resolver: resolver, penalties: penalties, facts: facts, heloName: argument, recipient: nil)
        evaluation.isLookAhead = lookAhead
        let decision = run(evaluation)
        var pending: SMTPReply? = nil
        if case .accept = decision.verdict, evaluation.deferIfPermit != nil {
            pending = evaluation.finalDeferIfPermit()
        }
        return HeloStageResult(decision: decision, pendingDeferral: pending)
    }

    /// RCPT TO: what this recipient gets because of the HELO restrictions.
    ///
    /// - Parameters:
    ///   - recipient: the RCPT TO argument (angle brackets optional).
    ///   - heloDeferral: a deferral left by ``checkHelo(argument:facts:)`` with delayed rejection off.
    ///
    /// With `dry_run = yes` a refusal comes back unenforced: accepted, the would-be verdict in
    /// ``RecipientDecision/wouldBe``, its log event a `reject_warning`, no penalty.
    public func decide(recipient: String, facts: SessionFacts, heloDeferral: SMTPReply? = nil) -> RecipientDecision {
        // Only the look-ahead run gives up; a recipient's run always has an answer.
        decide(address: RecipientAddress.bare(recipient), facts: facts, heloDeferral: heloDeferral) ?? RecipientDecision(verdict: .accept)
    }

    /// MAIL FROM: the answer every recipient of this transaction will get, when that is known
    /// now; nil when a recipient could still change it (a `check_recipient_access` or a `sleep`
    /// was reached). Meant for configurations whose ``RecipientDependence`` is independent;
    /// `postmaster` is left out (its exemption only ever turns a refusal into an acceptance).
    /// The run asks for no pause and to box nobody.
    public func decideForEveryRecipient(facts: SessionFacts, heloDeferral: SMTPReply? = nil) -> RecipientDecision? {
        decide(address: nil, facts: facts, heloDeferral: heloDeferral)
    }

    /// The two above: `address` nil stands for "every recipient" (a look-ahead run). A dry
    /// run's would-be refusal carries its warning, so it is never taken for a plain accept.
    private func decide(address: String?, facts: SessionFacts, heloDeferral: SMTPReply?) -> RecipientDecision? {
        guard let decision = enforcedDecision(address: address, facts: facts, heloDeferral: heloDeferral) else { return nil }
        return config.dryRun ? decision.unenforced() : decision
    }

    /// `givesUp`: a look-ahead run (`address` nil) answers nil once it reaches a restriction that
    /// reads the recipient; without it, it answers anyway (``replayDecision(facts:)``).
    private func enforcedDecision(address: String?, facts: SessionFacts, heloDeferral: SMTPReply?,
                                  givesUp: Bool = true) -> RecipientDecision? {
        if let refusal = mailRefusal(facts) {
            return RecipientDecision(verdict: .refusal(refusal), decidingRestriction: "smtpd_helo_required",
                                     trace: [TraceStep(depth: 0, restriction: "smtpd_helo_required", outcome: refusal.line)])
        }
        if let address, address.lowercased() == "postmaster" {
            return RecipientDecision(verdict: .accept, trace: [TraceStep(depth: 0, restriction: "postmaster", outcome: "exempt from all restrictions")])
        }
        guard config.delayReject else {
            if let heloDeferral { return RecipientDecision(verdict: .refusal(heloDeferral), decidingRestriction: "defer_if_permit (at HELO)") }
            return RecipientDecision(verdict: .accept)
        }
        guard let stored = facts.storedHeloName else {
            return RecipientDecision(verdict: .accept, trace: [TraceStep(depth: 0, restriction: "(no HELO)", outcome: "no HELO restrictions apply")])
        }
        let evaluation = Evaluation(config: config, resolver: resolver, penalties: penalties, facts: facts,
                                    heloName: stored, recipient: address)
        evaluation.answersRecipients = true
        evaluation.isLookAhead = address == nil
        let decision = run(evaluation)
        return givesUp && evaluation.isLookAhead && evaluation.readsRecipient ? nil : decision
    }

    /// `heloguard replay`: what a recipient of a connection would get, from what the HELO log
    /// keeps of it (client, reverse name, HELO name in `facts`; no sender, recipient or SASL
    /// login). The session's own runs — the HELO-stage run first with `smtpd_delay_reject =
    /// no`, then the recipient's run — made as look-aheads: `sleep` does not pause, nobody is
    /// boxed, and reaching a restriction that reads the recipient does not end the run. Which
    /// restrictions were reached, and so whether the answer depends on facts the log does not
    /// keep, is for the caller to read from the trace. With `dry_run = yes` a refusal comes back
    /// unenforced, as in ``decide(recipient:facts:heloDeferral:)``.
    public func replayDecision(facts: SessionFacts) -> RecipientDecision {
        var decision: RecipientDecision
        if !config.delayReject, let argument = facts.heloArgument {
            let stage = enforcedCheckHelo(argument: argument, facts: facts, lookAhead: true)
            if stage.decision.verdict.reply != nil {
                decision = stage.decision
            } else {
                decision = enforcedDecision(address: nil, facts: facts, heloDeferral: stage.pendingDeferral, givesUp: false)
                    ?? RecipientDecision(verdict: .accept)
                decision.trace = stage.decision.trace + decision.trace
            }
        } else {
            decision = enforcedDecision(address: nil, facts: facts, heloDeferral: nil, givesUp: false)
                ?? RecipientDecision(verdict: .accept)
        }
        return config.dryRun ? decision.unenforced() : decision
    }

    /// Asks, at HELO time, the DNS questions a recipient's evaluation would ask, so that they
    /// are answered before the first RCPT (through a caching resolver given to this engine).
    /// Runs the list as for a recipient not yet known and throws the verdict away; its `sleep`s
    /// ask for no pause. Questions that depend on the sender or recipient are asked when needed.
    public func prefetch(facts: SessionFacts) {
        guard config.delayReject, let stored = facts.storedHeloName else { return }
        let evaluation = Evaluation(config: config, resolver: resolver, penalties: penalties, facts: facts,
                                    heloName: stored, recipient: nil)
        evaluation.isLookAhead = true
        _ = run(evaluation)
    }

    private func run(_ evaluation: Evaluation) -> RecipientDecision {
        var verdict: Verdict
        do throws(EvaluationAbort) {
            let status = try evaluation.runList(config.heloRestrictions, replyName: evaluation.heloName ?? "", replyClass: .helo)
            if case .reject(let reply) = status {
                verdict = .refusal(reply)
            } else if evaluation.discard {
                verdict = .discard
            } else {
                verdict = .accept
            }
        } catch {
            verdict = .refusal(error.reply)
            evaluation.decidingRestriction = evaluation.decidingRestriction ?? evaluation.currentTopRestriction
        }
        if config.delayReject, evaluation.answersRecipients, verdict == .accept || verdict == .discard,
           let deferral = evaluation.finalDeferIfPermit() {
            verdict = .refusal(deferral)
            evaluation.decidingRestriction = "defer_if_permit"
        }
        if case .discard = verdict { evaluation.decidingRestriction = evaluation.decidingRestriction ?? evaluation.currentTopRestriction }
        var penalty: PenaltyRequest? = nil
        if case .reject = verdict, !evaluation.isLookAhead { penalty = evaluation.penaltyRequest }
        var decision = RecipientDecision(verdict: verdict, decidingRestriction: verdict == .accept ? nil : evaluation.decidingRestriction,
                                         actions: evaluation.actions, events: evaluation.events, trace: evaluation.trace,
                                         penalty: penalty)
        decision.pauses = evaluation.pauses
        return decision
    }
}

/// The answer at HELO time (only meaningful with `smtpd_delay_reject = no`).
public struct HeloStageResult: Sendable, Hashable {
    /// `accept`, or the refusal Postfix would send to the HELO command.
    public let decision: RecipientDecision
    /// A `defer_if_permit` reply to apply to every later recipient.
    public let pendingDeferral: SMTPReply?
}

/// Envelope addresses as Postfix reads them from RCPT TO: angle brackets, a source route
/// (`@a,@b:`) and quotes around the local part removed.
public enum RecipientAddress {
    public static func bare(_ argument: String) -> String {
        // Every byte this looks at is ASCII, so cutting there never splits a character; it
        // runs on every MAIL and RCPT, hence bytes rather than Characters.
        let bytes = argument.utf8
        var start = bytes.startIndex, end = bytes.endIndex
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") {
            bytes.formIndex(after: &start)
        }
        while start < end {
            let last = bytes.index(before: end)
            guard bytes[last] == UInt8(ascii: " ") || bytes[last] == UInt8(ascii: "\t") else { break }
            end = last
        }
        if bytes.distance(from: start, to: end) >= 2, bytes[start] == UInt8(ascii: "<"),
           bytes[bytes.index(before: end)] == UInt8(ascii: ">") {
            bytes.formIndex(after: &start)
            bytes.formIndex(before: &end)
        }
        if start < end, bytes[start] == UInt8(ascii: "@"),
           let colon = bytes[start..<end].firstIndex(of: UInt8(ascii: ":")) {
            start = bytes.index(after: colon)
        }
        let text = bytes[start..<end]
        guard text.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
            return String(argument[start..<end])
        }
        var result: [UInt8] = []
        result.reserveCapacity(text.count)
        var quoted = false
        var escaped = false
        for byte in text {
            if escaped { result.append(byte); escaped = false; continue }
            if byte == UInt8(ascii: "\\") && quoted { escaped = true; continue }
            if byte == UInt8(ascii: "\"") { quoted.toggle(); continue }
            result.append(byte)
        }
        return String(decoding: result, as: UTF8.self)
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
