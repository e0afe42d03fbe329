import Foundation

/// The HELO log's size and extent over the period a report examines.
public struct HeloLogSummary: Sendable, Hashable {
    /// Records in the period.
    public var records: Int
    /// Of those, records that carry the client's reverse name.
    public var recordsWithClientName: Int
    /// The oldest and newest record in the period; nil when there is none.
    public var firstRecord: Date?
    public var lastRecord: Date?
    /// Records in the whole log, whatever the period.
    public var storedRecords: Int

    public init(records: Int, recordsWithClientName: Int, firstRecord: Date?, lastRecord: Date?, storedRecords: Int) {
        self.records = records
        self.recordsWithClientName = recordsWithClientName
        self.firstRecord = firstRecord
        self.lastRecord = lastRecord
        self.storedRecords = storedRecords
    }
}

/// One HELO name and how widely it was used: by how many distinct client addresses, in how many
/// connections, how many of which were refused (verdict `reject`).
public struct SharedHeloRow: Sendable, Hashable {
    public var helo: String
    public var clients: Int
    public var connections: Int
    public var rejected: Int

    public init(helo: String, clients: Int, connections: Int, rejected: Int) {
        self.helo = helo
        self.clients = clients
        self.connections = connections
        self.rejected = rejected
    }
}

/// One client address and the HELO names it went through.
public struct RotatingClientRow: Sendable, Hashable {
    public var client: String
    /// Distinct HELO names in the period.
    public var names: Int
    public var connections: Int
    public var rejected: Int
    /// Its most used names (most connections first, then by name), at most
    /// ``HeloLogStatisticsLimits/sampleNames``.
    public var sampleNames: [String]
    /// The names of the period that no other client used, at any time in the stored log, sorted.
    /// A table line built from them refuses nobody else (as far as the log knows).
    public var exclusiveNames: [String]

    public init(client: String, names: Int, connections: Int, rejected: Int, sampleNames: [String], exclusiveNames: [String]) {
        self.client = client
        self.names = names
        self.connections = connections
        self.rejected = rejected
        self.sampleNames = sampleNames
        self.exclusiveNames = exclusiveNames
    }
}

/// A HELO name refused (verdict `reject`) by one restriction: how often and from how many clients.
public struct RejectedHeloRow: Sendable, Hashable {
    /// The deciding restriction as logged, e.g. `reject_unknown_helo_hostname` or
    /// `check_helo_access hash:/etc/heloguard/helo_access`.
    public var restriction: String
    public var helo: String
    public var rejections: Int
    public var clients: Int

    public init(restriction: String, helo: String, rejections: Int, clients: Int) {
        self.restriction = restriction
        self.helo = helo
        self.rejections = rejections
        self.clients = clients
    }
}

/// Connections that gave a HELO name inside one of the domains asked about, per client address
/// and reverse name. Both the period's count and the whole log's are given: a report finds
/// claims in the period but asks the whole log whether the provider itself used the name.
public struct ProviderNameRow: Sendable, Hashable {
    public var helo: String
    public var client: String
    /// The client's reverse name; nil when the MTA knew none.
    public var clientName: String?
    /// Connections in the period.
    public var connections: Int
    /// Connections in the whole stored log (at least ``connections``).
    public var storedConnections: Int

    public init(helo: String, client: String, clientName: String?, connections: Int, storedConnections: Int) {
        self.helo = helo
        self.client = client
        self.clientName = clientName
        self.connections = connections
        self.storedConnections = storedConnections
    }
}

/// Fixed bounds of the statistics queries.
public enum HeloLogStatisticsLimits {
    /// How many of a rotating client's names are given as a sample.
    public static let sampleNames = 5
}

/// The aggregate queries `heloguard stats` asks of a state store's HELO log.
///
/// Kept apart from ``StateStore`` because only the administrator's tool needs them, and free of
/// any database's types so the embedded SQLite store and a PostgreSQL one answer the same
/// questions (plain `GROUP BY` and `count(DISTINCT …)` serve both). Every query takes the start
/// of the period (`since`; nil for the whole log, records at or after it count) and returns
/// raw rows; judging them is ``HeloReport``'s work. Ties are broken by name or address, so the
/// answers are deterministic.
public protocol HeloLogStatistics: Sendable {
    /// How many records the period holds, and its first and last record.
    func heloLogSummary(since: Date?) throws -> HeloLogSummary

    /// HELO names given by at least `minClients` distinct client addresses: most clients first,
    /// then most connections, then by name; at most `limit` rows.
    func sharedHeloNames(since: Date?, minClients: Int, limit: Int) throws -> [SharedHeloRow]

    /// Client addresses that gave at least `minNames` distinct HELO names: most names first,
    /// then most connections, then by address; at most `limit` rows.
    func rotatingClients(since: Date?, minNames: Int, limit: Int) throws -> [RotatingClientRow]

    /// Refused HELO names per deciding restriction — records whose verdict is `verdict`
    /// (``HeloLogVerdict/reject``, or ``HeloLogVerdict/wouldReject`` for the refusals a dry run
    /// did not give): at most `limitPerRestriction` names per restriction, most refusals first,
    /// then by name; restrictions in name order.
    func rejectedHelos(since: Date?, limitPerRestriction: Int, verdict: String) throws -> [RejectedHeloRow]

    /// Every (HELO name, client, reverse name) whose HELO name is one of `domains` or inside one
    /// (``ProviderDomain/contains(_:in:)``), over the whole log, with the period's count alongside.
    func providerNameSightings(since: Date?, domains: [String]) throws -> [ProviderNameRow]

    /// Runs `body`, whose queries then see one consistent state of the log where the store can
    /// give that (a read transaction); the default just runs it.
    func readingConsistently<T>(_ body: () throws -> T) throws -> T
}

extension HeloLogStatistics {
    public func readingConsistently<T>(_ body: () throws -> T) throws -> T { try body() }

    /// The HELO names refused (enforced) per deciding restriction.
    public func rejectedHelos(since: Date?, limitPerRestriction: Int) throws -> [RejectedHeloRow] {
        try rejectedHelos(since: since, limitPerRestriction: limitPerRestriction, verdict: HeloLogVerdict.reject)
    }
}

/// Name-in-domain matching for provider names, shared by every store and the report so they agree.
public enum ProviderDomain {
    /// The form names are compared in: ASCII lower case, without a trailing dot.
    public static func normalized(_ name: String) -> String {
        var text = name.lowercased()
        while text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// True when `name` is `domain` or a name under it, at a label boundary: `mx.google.com` is in
    /// `google.com`, `notgoogle.com` is not.
    public static func contains(_ domain: String, name: String) -> Bool {
        let name = normalized(name), domain = normalized(domain)
        guard !domain.isEmpty else { return false }
        return name == domain || name.hasSuffix("." + domain)
    }

    /// True when `name` is inside any of `domains`.
    public static func contains(_ name: String, in domains: [String]) -> Bool {
        domains.contains { contains($0, name: name) }
    }
}
