import HeloPolicy
import Locking

/// The DNS answers of one SMTP session, in front of the shared resolver.
///
/// Every question is asked once per HELO name: the look-ahead at HELO time asks them, each
/// recipient's evaluation then reads the same answers, and a repeated EHLO with the same name
/// keeps them. Temporary failures are kept too, so a server that times out costs one deadline
/// per session rather than one per recipient (which could run past the MTA's milter timeout).
/// The shared resolver's own cache (libunbound's, by TTL) serves across sessions.
///
/// Once one question has run into the deadline, the session asks no more: later questions fail
/// temporarily at once. With the server down, `reject_unknown_helo_hostname` alone would
/// otherwise wait three deadlines (A, AAAA, MX) in one milter callback, past the MTA's milter
/// timeout; this way no SMTP command waits much longer than one `dns_timeout`.
final class SessionResolver: HeloResolver {
    private struct Question: Hashable {
        let name: String
        let type: DNSRecordType
    }

    private struct State {
        var answers: [Question: DNSAnswer] = [:]
        var timedOut = false
    }

    private let upstream: any HeloResolver
    /// A temporary failure that took at least this long counts as a timeout.
    private let timeoutThreshold: Duration
    private let state = Locked(State())

    init(upstream: any HeloResolver, timeoutMilliseconds: Int) {
        self.upstream = upstream
        timeoutThreshold = .milliseconds(timeoutMilliseconds * 9 / 10)
    }

    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        let question = Question(name: name, type: type)
        let (known, timedOut) = state.withLock { ($0.answers[question], $0.timedOut) }
        if let known { return known }
        if timedOut {
            let answer = DNSAnswer.temporaryFailure("not asked: an earlier DNS lookup of this session timed out")
            state.withLock { $0.answers[question] = answer }
            return answer
        }
        // Asked outside the lock: one connection's callbacks never overlap, so the same
        // question is not asked twice at once in practice, and a slow answer blocks nobody else.
        let clock = ContinuousClock()
        let started = clock.now
        let answer = upstream.lookup(name, type: type)
        let took = clock.now - started
        let tookDeadline = took >= timeoutThreshold
        HeloGuardMetrics.current?.dnsLookup(answer, took: took, timedOut: tookDeadline)
        state.withLock { state in
            state.answers[question] = answer
            if case .temporaryFailure = answer, tookDeadline { state.timedOut = true }
        }
        return answer
    }

    /// How many distinct questions this session has asked.
    var questionCount: Int { state.withLock { $0.answers.count } }
}
