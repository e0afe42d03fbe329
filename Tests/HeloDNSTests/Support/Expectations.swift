import HeloPolicy
@testable import HeloDNS
import Locking

/// What a lookup must return: an exact answer, or a failure of a kind whose reason text need
/// only contain a given phrase.
enum Expected: Sendable, CustomStringConvertible {
    /// Exactly this answer, record order included.
    case exactly(DNSAnswer)
    /// A temporary failure whose reason contains the text.
    case temporary(String)
    /// A permanent failure whose reason contains the text.
    case failed(String)
    /// A malformed-reply answer whose reason contains the text.
    case malformed(String)

    static let notFound = Expected.exactly(.notFound)
    static let nullMX = Expected.exactly(.nullMX)
    static func records(_ values: String...) -> Expected { .exactly(.records(values)) }

    func matches(_ answer: DNSAnswer) -> Bool {
        switch (self, answer) {
        case let (.exactly(expected), _):
            return expected == answer
        case let (.temporary(text), .temporaryFailure(reason)),
             let (.failed(text), .failed(reason)),
             let (.malformed(text), .malformed(reason)):
            return reason.contains(text)
        default:
            return false
        }
    }

    var description: String {
        switch self {
        case let .exactly(answer): return "\(answer)"
        case let .temporary(text): return "temporary failure (\(text))"
        case let .failed(text): return "failed (\(text))"
        case let .malformed(text): return "malformed (\(text))"
        }
    }
}

/// A resolver that asks only `servers`.
func makeResolver(_ servers: [DNSServerAddress], timeoutMilliseconds: Int = 3000) throws -> UnboundResolver {
    try UnboundResolver(settings: DNSSettings(servers: servers, timeoutMilliseconds: timeoutMilliseconds))
}

/// Monotonic seconds, for loose timing checks.
func secondsNow() -> Double {
    Double(Monitor.now()) / 1e9
}
