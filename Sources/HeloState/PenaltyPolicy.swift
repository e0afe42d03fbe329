import Foundation
import HeloPolicy

/// One client (or IPv6 network) in the penalty box: why it went in, since when, until when, and
/// how often it offended while it was remembered.
public struct PenaltyEntry: Sendable, Hashable, CustomStringConvertible {
    public var key: PenaltyKey
    /// What the client did, for the reject reply and the logs, e.g.
    /// `reject_impersonating_helo: helo=<mail.example.com>`.
    public var reason: String
    /// When the first offence of this run of offences happened.
    public var firstSeen: Date
    /// When the box stops refusing the client.
    public var expires: Date
    /// How many offences this run counts (1 for a first offender).
    public var offences: Int

    public init(key: PenaltyKey, reason: String, firstSeen: Date, expires: Date, offences: Int) {
        self.key = key
        self.reason = reason
        self.firstSeen = firstSeen
        self.expires = expires
        self.offences = offences
    }

    /// True while the box refuses the client.
    public func isActive(at now: Date) -> Bool { now < expires }

    public var description: String {
        "\(key) until \(expires) (offences: \(offences)): \(reason)"
    }
}

/// How long the penalty box keeps a client and how big it may grow.
///
/// A first offence boxes the client for ``ttl``. An offence by a client that is still boxed, or
/// whose entry expired less than ``memory`` ago, doubles the time: the n-th offence of a run
/// boxes for `ttl × 2^(n-1)`, never more than ``maxTTL``. Once an entry has been expired for
/// longer than ``memory`` it is forgotten and the next offence starts a new run at ``ttl``.
///
/// Defaults: 24 hours, doubling up to 7 days (a persistent impersonator is then refused for a
/// week at a time; 1 → 2 → 4 → 7 days), remembered for 7 days after expiry, at most 100,000
/// entries. When the box is full, the entries that expire soonest make room first.
///
/// The policy is pure: every function takes the time as an argument, so tests run on a fake clock.
public struct PenaltyPolicy: Sendable, Hashable {
    public static let hour: TimeInterval = 3600
    public static let day: TimeInterval = 86_400

    /// How long a first offence boxes a client (`penalty_box_ttl`).
    public var ttl: TimeInterval
    /// The longest a repeat offence boxes a client.
    public var maxTTL: TimeInterval
    /// How long an expired entry is still remembered for the backoff.
    public var memory: TimeInterval
    /// The most entries the box holds (`penalty_box_max_entries`).
    public var maxEntries: Int
    /// IPv6 clients are boxed by the network of this many bits (see ``PenaltyKey``).
    public var ipv6PrefixLength: Int

    public init(
        ttl: TimeInterval = PenaltyPolicy.day,
        maxTTL: TimeInterval = 7 * PenaltyPolicy.day,
        memory: TimeInterval = 7 * PenaltyPolicy.day,
        maxEntries: Int = 100_000,
        ipv6PrefixLength: Int = 64
    ) {
        self.ttl = max(1, ttl)
        self.maxTTL = max(self.ttl, maxTTL)
        self.memory = max(0, memory)
        self.maxEntries = max(1, maxEntries)
        self.ipv6PrefixLength = ipv6PrefixLength
    }

    /// The key a client address is boxed under.
    public func key(for address: IPAddress) -> PenaltyKey {
        PenaltyKey(address: address, ipv6PrefixLength: ipv6PrefixLength)
    }

    /// How long the `offence`-th offence of a run boxes a client: `ttl × 2^(offence-1)`, capped.
    public func duration(ofOffence offence: Int) -> TimeInterval {
        var duration = ttl
        var remaining = max(1, offence) - 1
        while remaining > 0 && duration < maxTTL {
            duration *= 2
            remaining -= 1
        }
        return min(duration, maxTTL)
    }

    /// True while `entry` still counts for the backoff (boxed, or expired less than ``memory`` ago).
    public func remembers(_ entry: PenaltyEntry, at now: Date) -> Bool {
        now < entry.expires.addingTimeInterval(memory)
    }

    /// The moment before which an entry has expired for so long that it is forgotten.
    public func forgetCutoff(at now: Date) -> Date {
        now.addingTimeInterval(-memory)
    }

    /// The entry after an offence at `now`, given what the box held for the key.
    public func offence(
        by key: PenaltyKey, reason: String, at now: Date, previous: PenaltyEntry?
    ) -> PenaltyEntry {
        guard let previous, previous.key == key, remembers(previous, at: now) else {
            return PenaltyEntry(key: key, reason: reason, firstSeen: now,
                                expires: now.addingTimeInterval(ttl), offences: 1)
        }
        let offences = previous.offences + 1
        let expires = max(previous.expires, now.addingTimeInterval(duration(ofOffence: offences)))
        return PenaltyEntry(key: key, reason: reason, firstSeen: previous.firstSeen,
                            expires: expires, offences: offences)
    }
}
