import Foundation
import HeloPolicy
import HeloState
import MilterKit

/// A verdict class as `heloguard replay` compares them. The HELO log's words map onto it:
/// `accept` → accept; `reject` and a dry run's `would-reject` → reject; `defer` and
/// `would-defer` → defer (a replay asks what the restrictions decide, enforced or not, so a log
/// written under `dry_run = yes` compares as if it had been enforced); `none` (the client left
/// before any recipient) and any other word: no recorded decision, nothing to compare.
public enum ReplayVerdict: String, Sendable, Hashable, Codable {
    case accept, reject, `defer`

    public init?(logged word: String) {
        switch word {
        case HeloLogVerdict.accept: self = .accept
        case HeloLogVerdict.reject, HeloLogVerdict.wouldReject: self = .reject
        case HeloLogVerdict.deferred, HeloLogVerdict.wouldDefer: self = .defer
        default: return nil
        }
    }

    /// The class of a rule-core decision: what the restrictions decided (a dry run's would-be
    /// verdict when there is one); a discard is an acceptance, as in the HELO log.
    init(_ decision: RecipientDecision) {
        switch decision.wouldBe ?? decision.verdict {
        case .reject: self = .reject
        case .defer: self = .defer
        case .accept, .discard: self = .accept
        }
    }

    public var isRefusal: Bool { self != .accept }
}

/// Why a record cannot be replayed: the candidate reached, before it decided, a restriction
/// that needs something the HELO log does not keep.
public enum ReplayBlocker: String, Sendable, Hashable, Codable, CaseIterable {
    /// `check_sender_access`: the envelope sender.
    case sender
    /// `check_recipient_access`: the recipient.
    case recipient
    /// `permit_sasl_authenticated`: the SASL login.
    case saslLogin = "sasl-login"
    /// `reject_penalized_client`: the penalty box as it was at the time.
    case penaltyBox = "penalty-box"
    /// A restriction that asked DNS while `--no-dns` forbids asking.
    case dns

    /// The restrictions that read what the log does not keep, by the name they are written with.
    static let byRestriction: [String: ReplayBlocker] = [
        RestrictionName.checkSenderAccess.rawValue: .sender,
        RestrictionName.checkRecipientAccess.rawValue: .recipient,
        RestrictionName.permitSaslAuthenticated.rawValue: .saslLogin,
        RestrictionName.rejectPenalizedClient.rawValue: .penaltyBox,
    ]

    /// The restrictions that can ask DNS (`reject_impersonating_helo` only with
    /// `impersonation_check_dns`): the one reached first names a `--no-dns` blocker.
    static let dnsRestrictions: Set<String> = [
        RestrictionName.rejectUnknownHeloHostname.rawValue, RestrictionName.checkHeloAAccess.rawValue,
        RestrictionName.checkHeloMXAccess.rawValue, RestrictionName.checkHeloNSAccess.rawValue,
        RestrictionName.rejectRHSBLHelo.rawValue, RestrictionName.rejectImpersonatingHelo.rawValue,
        RestrictionName.rejectUnknownHostname.rawValue,
    ]
}

/// What the candidate configuration makes of one recorded connection.
public enum ReplayOutcome: Sendable, Hashable {
    /// Decided from what the log keeps: the verdict class, the reply as the milter sends it
    /// (nil for an acceptance) and the deciding restriction.
    case decided(ReplayVerdict, reply: String?, restriction: String?)
    /// The restriction (as written, e.g. `check_sender_access hash:/etc/heloguard/senders`)
    /// that needs what the log does not keep, and what that is.
    case notReplayable(restriction: String, ReplayBlocker)
}

/// Evaluates HELO log records against a candidate configuration with the milter's own engine.
///
/// Why not a whole simulated session per record (``SessionRehearsal``): a recorded connection
/// has no sender, recipient or SASL login to play, and a session per record (its recording
/// context, log lines, observer) costs tens of microseconds, too much for a million records in
/// ten seconds. So each record goes through the one engine call a session's recipient goes
/// through — an engine made by ``RuntimeConfiguration/sessionEngine()`` exactly as for a
/// milter session (the same policy, DNS answers through a per-session ``SessionResolver`` over
/// the shared resolver), asked ``HeloPolicyEngine/replayDecision(facts:)``, which runs the
/// session's HELO-stage and recipient runs without sleeping or boxing anyone. The same
/// restrictions, tables, replies and DNS code decide; only the MTA side is left out.
///
/// Identical (client, reverse name, HELO name) tuples get the same answer (nothing else goes
/// into it), so answers are kept, up to ``cacheLimit`` tuples, and a busy log of repeating
/// clients costs one evaluation per tuple.
///
/// Not guessed: the trace of each run says which restrictions were reached before the
/// decision; reaching one that reads the sender, the recipient, the SASL login or the penalty
/// box (directly, in a restriction class or through a table result) makes the record not
/// replayable, and so does asking DNS when DNS is off (`--no-dns`). A decision reached before
/// any of them stands.
///
/// What the log keeps of the client name is the verified name, else the unverified reverse
/// name, without saying which: it is given to the engine as the client's name. The MTA's own
/// names and addresses (`j`, `{daemon_addr}`) are not kept either: the candidate's own
/// identity settings stand for them.
public final class ReplayEvaluator {
    public static let cacheLimit = 500_000

    private let configuration: RuntimeConfiguration
    private let asksDNS: Bool
    private var cache: [Key: ReplayOutcome] = [:]
    /// Evaluations run (cache misses), for reports and tests.
    public private(set) var evaluations = 0

    private struct Key: Hashable {
        let client: IPAddress
        let clientName: String?
        let helo: String
    }

    /// `resolver` nil: DNS is not asked (`--no-dns`); a record whose decision needs DNS is then
    /// not replayable.
    public init(candidate: LoadedConfiguration, path: String, resolver: ResolverSetup?) {
        asksDNS = resolver != nil
        let setup = resolver ?? ResolverSetup(resolver: NoDNSResolver(), settings: candidate.policy.dns)
        configuration = RuntimeConfiguration(path: path, loaded: candidate, generation: 1, resolver: setup,
                                             penalties: PenaltyService.inMemory(settings: candidate.state))
    }

    public var policy: PolicyConfig { configuration.policy }

    /// The candidate's answer for `record`.
    public func outcome(of record: HeloLogRecord) -> ReplayOutcome {
        let key = Key(client: record.client, clientName: record.clientName, helo: record.helo)
        if let known = cache[key] { return known }
        let outcome = evaluate(key)
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = outcome
        return outcome
    }

    private func evaluate(_ key: Key) -> ReplayOutcome {
        evaluations += 1
        let (engine, answers) = configuration.sessionEngine()
        let name = key.clientName ?? "unknown"
        let facts = SessionFacts(clientAddress: key.client.description, clientName: name, heloArgument: key.helo,
                                 reverseClientName: key.clientName)
        let decision = engine.replayDecision(facts: facts)
        if let blocked = Self.firstBlocker(decision.trace, askedDNS: !asksDNS && answers.questionCount > 0,
                                           deciding: decision.decidingRestriction) {
            return .notReplayable(restriction: blocked.restriction, blocked.blocker)
        }
        let verdict = ReplayVerdict(decision)
        let reply = (decision.wouldBe ?? decision.verdict).reply.map { MilterReply.sevenBitPrintable($0.line) }
        return .decided(verdict, reply: reply, restriction: verdict.isRefusal ? decision.decidingRestriction : nil)
    }

    /// The first restriction of the run that needs what the log does not keep; with
    /// `askedDNS`, the first one that can ask DNS counts too (else the `deciding` one: a lookup
    /// that ended the run is not in the trace).
    static func firstBlocker(_ trace: [TraceStep], askedDNS: Bool, deciding: String?)
        -> (restriction: String, blocker: ReplayBlocker)? {
        for step in trace {
            // Descriptions spell restriction names in lower case (``Restriction/description``).
            let word = String(step.restriction.prefix { $0 != " " })
            if let blocker = ReplayBlocker.byRestriction[word] { return (step.restriction, blocker) }
            if askedDNS, ReplayBlocker.dnsRestrictions.contains(word) { return (step.restriction, .dns) }
        }
        return askedDNS ? (deciding ?? "(a DNS lookup)", .dns) : nil
    }
}

/// The resolver of `heloguard replay --no-dns`: asks nobody. An evaluation that asks anyway is
/// not replayable, whatever this answer made of it.
struct NoDNSResolver: HeloResolver {
    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        .temporaryFailure("not asked: DNS is off for this replay")
    }
}
