/// Postfix's error classes, as far as they matter here: `warn_if_reject` can soften only
/// policy refusals, never software, resource or data errors.
enum ErrorClass: Sendable {
    case policy
    case software
    case data

    var isSoftenedByWarnIfReject: Bool { self == .policy }
}

/// A refusal remembered by `defer_if_permit` or `defer_if_reject`.
struct Deferral: Sendable, Hashable {
    let errorClass: ErrorClass
    let code: Int
    let dsn: String
    let reason: String
}

/// The result of one restriction or one list, as in Postfix's `generic_checks()`.
enum CheckStatus: Sendable, Hashable {
    case dunno
    case permit
    case reject(SMTPReply)

    var isDecisive: Bool { self != .dunno }
}

/// Ends the whole evaluation at once, as Postfix's `longjmp` out of the restriction code does
/// for server configuration errors and temporary lookup failures.
struct EvaluationAbort: Error {
    let reply: SMTPReply
}

/// The reply classes Postfix names in its refusals.
enum ReplyClass: String, Sendable {
    case helo = "Helo command"
    case client = "Client host"
    case sender = "Sender address"
    case recipient = "Recipient address"
}

/// One run of the HELO restriction list for one recipient (or one HELO, with delayed
/// rejection off). Holds the mutable state Postfix keeps in `SMTPD_STATE` while it evaluates;
/// it lives for one call and is never shared between threads.
final class Evaluation {
    let config: PolicyConfig
    let resolver: any HeloResolver
    /// Who is in the penalty box, for `reject_penalized_client`.
    let penalties: any PenaltyLookup
    let facts: SessionFacts
    /// The HELO name as the restrictions see it: sanitised with delayed rejection, raw without.
    let heloName: String?
    /// The recipient address without angle brackets, when evaluating for a recipient.
    let recipient: String?

    var recursion = 0
    var warnIfRejectLevel = 0
    var deferIfReject: Deferral?
    var deferIfPermit: Deferral?
    var discard = false
    var actions = MessageActions()
    var events: [PolicyLogEvent] = []
    var trace: [TraceStep] = []
    /// True for a look-ahead run (``HeloPolicyEngine/prefetch(facts:)``) whose verdict is
    /// thrown away: its `sleep`s ask for no pause.
    var isLookAhead = false
    /// True when the verdict is a recipient's (or every recipient's): a pending
    /// `defer_if_permit` then becomes the reply.
    var answersRecipients = false
    /// Set when a restriction that reads the recipient or acts once per recipient was reached
    /// (`check_recipient_access`, `sleep`): the verdict then cannot stand for every recipient.
    var readsRecipient = false
    /// The restriction being evaluated at the top level, for reports (spelt only when a
    /// report needs it: see ``currentTopRestriction``).
    var currentTop: Restriction?
    /// ``currentTop`` as written in the configuration.
    var currentTopRestriction: String? { currentTop?.description }
    var decidingRestriction: String?
    /// Set by `penalize_client`: the next permanent refusal boxes the client.
    var penalizeNext = false
    /// The verdict's request to box the client, if a refusal asked for it.
    var penaltyRequest: PenaltyRequest?
    /// The pauses `sleep` asked for so far, in seconds and in order; the session carries them
    /// out. All of them together stay within the command's budget.
    var pauses: [Int] = []

    init(config: PolicyConfig, resolver: any HeloResolver, penalties: any PenaltyLookup = NoPenalties(),
         facts: SessionFacts, heloName: String?, recipient: String?) {
        self.config = config
        self.resolver = resolver
        self.penalties = penalties
        self.facts = facts
        self.heloName = heloName
        self.recipient = recipient
        // One step per restriction of the list is the usual count: grow the trace once.
        trace.reserveCapacity(config.heloRestrictions.count + 2)
    }

    var warnIfReject: Bool { warnIfRejectLevel != 0 }

    // MARK: - Replies (Postfix's smtpd_check_reject)

    /// Builds a refusal the way Postfix's `smtpd_check_reject()` does: under `warn_if_reject` it
    /// is only logged; an active `defer_if_reject` turns a 5xx into the remembered deferral.
    func refuse(_ errorClass: ErrorClass, code: Int, dsn: String, text: String) -> CheckStatus {
        let warnOnly = warnIfReject && errorClass.isSoftenedByWarnIfReject
        let draft = SMTPReply.draft(code: code, dsn: dsn, text: text)
        switch draft.repair {
        case .badReplyCode(let line)?:
            events.append(PolicyLogEvent(.warning, "SMTP reply code configuration error: \(line)"))
        case .badDSN(let line)?:
            events.append(PolicyLogEvent(.warning, "DSN detail code configuration error: \(line)"))
        case nil:
            break
        }
        if !warnOnly, let deferral = deferIfReject, draft.isPermanent {
            warnIfRejectLevel = 0
            deferIfReject = nil
            return refuse(deferral.errorClass, code: deferral.code, dsn: deferral.dsn, text: deferral.reason)
        }
        let reply = SMTPReply.finish(draft, softBounce: config.softBounce)
        events.append(PolicyLogEvent(warnOnly ? .rejectWarning : .reject, reply.line))
        let status: CheckStatus = warnOnly ? .dunno : .reject(reply)
        notePenalty(for: status, warnOnly: warnOnly)
        return status
    }

    /// `<name>: <class> rejected: <reason>`, the text of every restriction refusal.
    func rejectionText(_ replyName: String, _ replyClass: ReplyClass, _ reason: String) -> String {
        "<\(replyName)>: \(replyClass.rawValue) rejected: \(reason)"
    }

    /// Postfix's `reject_server_error()`: `451 4.3.5 Server configuration error`, ending everything.
    func serverError(_ why: String) -> EvaluationAbort {
        events.append(PolicyLogEvent(.warning, why))
        warnIfRejectLevel = 0
        if case .reject(let reply) = refuse(.software, code: 451, dsn: "4.3.5", text: "Server configuration error") {
            return EvaluationAbort(reply: reply)
        }
        return EvaluationAbort(reply: SMTPReply(verbatim: "451 4.3.5 Server configuration error"))
    }

    /// Postfix's `reject_dict_retry()`: `451 4.3.0 <name>: Temporary lookup failure`, ending everything.
    func temporaryLookupFailure(_ replyName: String, _ why: String) -> EvaluationAbort {
        events.append(PolicyLogEvent(.warning, why))
        warnIfRejectLevel = 0
        if case .reject(let reply) = refuse(.data, code: 451, dsn: "4.3.0", text: "<\(replyName)>: Temporary lookup failure") {
            return EvaluationAbort(reply: reply)
        }
        return EvaluationAbort(reply: SMTPReply(verbatim: "451 4.3.0 <\(replyName)>: Temporary lookup failure"))
    }

    /// Remembers the first `defer_if_permit` reason; under `warn_if_reject` it is logged instead.
    func rememberDeferIfPermit(_ errorClass: ErrorClass, code: Int, dsn: String, text: String) -> CheckStatus {
        if warnIfReject {
            return refuse(errorClass, code: code, dsn: dsn, text: text)
        }
        if deferIfPermit == nil {
            deferIfPermit = Deferral(errorClass: errorClass, code: code, dsn: dsn, reason: text)
        }
        return .dunno
    }

    /// Remembers the first `defer_if_reject` reason for the rest of this list.
    func rememberDeferIfReject(_ errorClass: ErrorClass, code: Int, dsn: String, text: String) {
        if deferIfReject == nil {
            deferIfReject = Deferral(errorClass: errorClass, code: code, dsn: dsn, reason: text)
        }
    }

    /// Turns an active `defer_if_permit` into its reply, as Postfix does after the last list.
    func finalDeferIfPermit() -> SMTPReply? {
        guard let deferral = deferIfPermit else { return nil }
        warnIfRejectLevel = 0
        if case .reject(let reply) = refuse(deferral.errorClass, code: deferral.code, dsn: deferral.dsn, text: deferral.reason) {
            return reply
        }
        return nil
    }

    // MARK: - Lists (Postfix's generic_checks)

    /// Evaluates one list left to right; the first permit or reject ends it.
    func runList(_ list: [Restriction], replyName: String, replyClass: ReplyClass) throws(EvaluationAbort) -> CheckStatus {
        let savedRecursion = recursion
        recursion += 1
        defer { recursion = savedRecursion }
        if recursion > 100 {
            throw serverError("restriction list causes unreasonable recursion")
        }
        var status = CheckStatus.dunno
        for (index, restriction) in list.enumerated() {
            if discard { break }
            if case .warnIfReject = restriction {
                if warnIfRejectLevel == 0 { warnIfRejectLevel = recursion }
                record(restriction, "prefix: the next restriction only warns")
                continue
            }
            if recursion == 1 { currentTop = restriction }
            let next = index + 1 < list.count ? list[index + 1] : nil
            status = try evaluate(restriction, next: next, replyName: replyName, replyClass: replyClass)
            if warnIfRejectLevel >= recursion { warnIfRejectLevel = 0 }
            if status.isDecisive {
                if decidingRestriction == nil, case .reject = status { decidingRestriction = currentTopRestriction }
                break
            }
            if deferIfPermit != nil && deferIfReject != nil { break }
        }
        if warnIfRejectLevel >= recursion { warnIfRejectLevel = 0 }
        return status
    }

    func record(_ restriction: Restriction, _ outcome: String) {
        trace.append(TraceStep(depth: max(0, recursion - 1), restriction: restriction, outcome: outcome))
    }

    func recordNote(_ what: String, _ outcome: String) {
        trace.append(TraceStep(depth: max(0, recursion - 1), restriction: what, outcome: outcome))
    }

    /// Describes a status for the trace.
    static func describe(_ status: CheckStatus) -> String {
        switch status {
        case .dunno: return "DUNNO"
        case .permit: return "permit"
        case .reject(let reply): return reply.line
        }
    }

    /// Dispatches one restriction to the code that implements it.
    func evaluate(_ restriction: Restriction, next: Restriction?, replyName: String, replyClass: ReplyClass) throws(EvaluationAbort) -> CheckStatus {
        let status: CheckStatus
        switch restriction {
        case .permit:
            status = .permit
            if let next { events.append(PolicyLogEvent(.warning, "restriction `\(next)' after `permit' is ignored")) }
        case .reject:
            status = refuse(.policy, code: config.codes.reject, dsn: "5.7.1",
                            text: rejectionText(replyName, replyClass, "Access denied"))
            if let next, !warnIfReject { events.append(PolicyLogEvent(.warning, "restriction `\(next)' after `reject' is ignored")) }
        case .defer:
            status = refuse(.policy, code: config.codes.defer, dsn: "4.3.2",
                            text: rejectionText(replyName, replyClass, "Try again later"))
            if let next, !warnIfReject { events.append(PolicyLogEvent(.warning, "restriction `\(next)' after `defer' is ignored")) }
        case .deferIfPermit:
            status = rememberDeferIfPermit(.policy, code: 450, dsn: "4.7.0",
                                           text: rejectionText(replyName, replyClass, "defer_if_permit requested"))
        case .deferIfReject:
            rememberDeferIfReject(.policy, code: 450, dsn: "4.7.0",
                                  text: rejectionText(replyName, replyClass, "defer_if_reject requested"))
            status = .dunno
        case .warnIfReject:
            status = .dunno
        case .sleep(let seconds):
            readsRecipient = true
            if !isLookAhead { pause(seconds) }
            status = .dunno
        case .permitMynetworks:
            status = try permitMynetworks(replyName: replyName)
        case .permitSaslAuthenticated:
            status = permitSaslAuthenticated()
        case .checkClientAccess(let table):
            status = try checkClientAccess(table)
        case .checkHeloAccess(let table):
            status = try checkHeloAccess(table)
        case .checkSenderAccess(let table):
            status = try checkSenderAccess(table)
        case .checkRecipientAccess(let table):
            readsRecipient = true
            status = try checkRecipientAccess(table)
        case .checkHeloServerAccess(let kind, let table):
            status = try checkHeloServerAccess(kind, table)
        case .rejectInvalidHeloHostname:
            status = rejectInvalidHeloHostname()
        case .rejectNonFQDNHeloHostname:
            status = rejectNonFQDNHeloHostname()
        case .rejectUnknownHeloHostname:
            status = rejectUnknownHeloHostname()
        case .rejectRHSBLHelo(let domain):
            status = try rejectRHSBLHelo(domain)
        case .permitNakedIPAddress:
            status = permitNakedIPAddress()
        case .rejectImpersonatingHelo:
            status = rejectImpersonatingHelo()
        case .rejectPenalizedClient:
            status = rejectPenalizedClient()
        case .penalizeClient:
            status = penalizeClient()
        case .restrictionClass(let name):
            guard let list = config.restrictionClasses[name] else {
                throw serverError("unknown smtpd restriction: \"\(name)\"")
            }
            record(restriction, "restriction class, expands to \(list.count) item(s)")
            status = try runList(list, replyName: replyName, replyClass: replyClass)
            return status
        case .serverError(let why):
            throw serverError(why)
        }
        record(restriction, Evaluation.describe(status))
        return status
    }
}

extension Evaluation {
    /// `sleep`: asks the session to pause (Postfix pauses, then goes on with the list), never
    /// past ``CommandTimeBudget``. The configured lists are checked at load; only sleeps named in
    /// access-table results can reach the limit, and are cut short.
    func pause(_ seconds: Int) {
        let allowed = CommandTimeBudget.allowedSleep(seconds, slept: pauses.reduce(0, +),
                                                     dnsTimeoutMilliseconds: config.dns.timeoutMilliseconds)
        if allowed < seconds {
            events.append(PolicyLogEvent(.warning, "sleep \(seconds) cut to \(allowed) s: this evaluation would otherwise take more than "
                                         + "\(CommandTimeBudget.seconds) s with dns_timeout, past Postfix's milter_command_timeout"))
        }
        pauses.append(allowed)
    }
}
