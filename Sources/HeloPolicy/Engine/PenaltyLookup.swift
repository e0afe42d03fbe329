import PostfixSyntax

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why and until when a client is in the penalty box, as `reject_penalized_client` tells it.
public struct PenaltyNotice: Sendable, Hashable {
    /// What the client did, e.g. `impersonating HELO <mail.example.com>`.
    public var reason: String
    /// When the entry expires, in whole seconds since the Unix epoch.
    public var expiresAt: Int64

    public init(reason: String, expiresAt: Int64) {
        self.reason = reason
        self.expiresAt = expiresAt
    }

    /// The expiry as the reply shows it: `2026-11-22 03:00:00 UTC`.
    public var expiresText: String { Self.utcText(expiresAt) }

    /// `YYYY-MM-DD hh:mm:ss UTC` for a time in seconds since the Unix epoch.
    public static func utcText(_ seconds: Int64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return "\(seconds)" }
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) UTC"
    }
}

/// How the rule core asks whether a client is in the penalty box; the application gives the
/// engine one backed by the in-memory box (see `HeloState.PenaltyBox`). Called on the
/// per-connection path: an implementation must answer from memory, never from a disk or a
/// database.
public protocol PenaltyLookup: Sendable {
    /// The notice for a boxed client (its address as parsed once per session, as in
    /// ``SessionFacts/clientIP``), or nil when it is not boxed.
    func penalty(for client: IPAddress) -> PenaltyNotice?
}

extension PenaltyLookup {
    /// The notice for a client given as text; nil also when the text is not an IP address.
    public func penalty(for clientAddress: String) -> PenaltyNotice? {
        IPAddress(clientAddress).flatMap { penalty(for: $0) }
    }
}

/// The lookup used when no penalty box is attached: nobody is boxed.
public struct NoPenalties: PenaltyLookup {
    public init() {}
    public func penalty(for client: IPAddress) -> PenaltyNotice? { nil }
}

/// A verdict's request to put the client into the penalty box: the evaluation refused the
/// recipient with a 5xx after `penalize_client`, or `reject_impersonating_helo` refused it with
/// `penalize_impersonation = yes`. The rule core only asks; the session boxes the client.
public struct PenaltyRequest: Sendable, Hashable {
    /// What the client did, for the box's entry and the later refusals.
    public var reason: String
    /// The restriction that refused, as written in the configuration.
    public var restriction: String

    public init(reason: String, restriction: String) {
        self.reason = reason
        self.restriction = restriction
    }
}
