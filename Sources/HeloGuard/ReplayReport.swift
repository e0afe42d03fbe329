import Foundation
import HeloPolicy
import HeloState

/// One recorded connection in a replay report: what the log says and what the candidate says.
public struct ReplayExample: Sendable, Hashable {
    public var time: Date
    public var client: String
    public var clientName: String?
    public var helo: String
    /// The verdict as logged (`accept`, `reject`, `would-reject`, ...) and the restriction logged with it.
    public var recordedVerdict: String
    public var recordedRestriction: String?
    /// The candidate's verdict class and reply (nil for an acceptance, or when not replayable).
    public var candidateVerdict: ReplayVerdict?
    public var candidateReply: String?
}

/// Records that changed the same way under the same restriction: how many, and the newest few.
public struct ReplayGroup: Sendable, Hashable {
    /// The candidate's deciding restriction for new refusals and changed refusals; the recorded
    /// one (the restriction that refused before) for new acceptances; the restriction that needs
    /// what the log does not keep for records not replayable.
    public var restriction: String
    /// For records not replayable: what the restriction needs.
    public var blocker: ReplayBlocker?
    public var count: Int
    public var examples: [ReplayExample]
}

/// What `heloguard replay` found: every examined record is counted once, in exactly one of
/// ``unchanged``, ``newlyRefused``, ``newlyAccepted``, ``changedRefusal``, ``notReplayable`` and
/// ``undecided``.
public struct ReplayReport: Sendable {
    /// How many examples each group keeps (the newest records, as the walk is newest first).
    public static let examplesPerGroup = 5

    public var examined = 0
    /// Records whose candidate verdict class equals the recorded one.
    public var unchanged = 0
    /// Recorded accept, candidate reject or defer: per candidate restriction.
    public var newlyRefused: [ReplayGroup] = []
    /// Recorded reject or defer, candidate accept: per recorded restriction.
    public var newlyAccepted: [ReplayGroup] = []
    /// Recorded reject, candidate defer, or the other way round: per candidate restriction.
    public var changedRefusal: [ReplayGroup] = []
    /// Per restriction (and what it needs).
    public var notReplayable: [ReplayGroup] = []
    /// Records without a recorded decision (`none`: the client left before any recipient).
    public var undecided = 0
    /// Rows the store could not read (a client address that is not one).
    public var unreadable = 0
    /// The oldest and newest record examined.
    public var firstRecord: Date?
    public var lastRecord: Date?
    /// Distinct (client, reverse name, HELO name) tuples evaluated.
    public var evaluations = 0

    public var newlyRefusedCount: Int { newlyRefused.reduce(0) { $0 + $1.count } }
    public var newlyAcceptedCount: Int { newlyAccepted.reduce(0) { $0 + $1.count } }
    public var changedRefusalCount: Int { changedRefusal.reduce(0) { $0 + $1.count } }
    public var notReplayableCount: Int { notReplayable.reduce(0) { $0 + $1.count } }

    public init() {}

    /// Walks `source` (newest first, at most `limit` records at or after `since`) and replays
    /// each record with `evaluator`.
    public static func build(from source: any HeloLogReading, since: Date?, limit: Int?,
                             evaluator: ReplayEvaluator) throws -> ReplayReport {
        var builder = Builder()
        let unreadable = try source.forEachHeloLogRecord(since: since, limit: limit) { record in
            builder.add(record, evaluator: evaluator)
        }
        var report = builder.report()
        report.unreadable = unreadable
        report.evaluations = evaluator.evaluations
        return report
    }

    /// Collects groups in dictionaries while walking; ``report()`` sorts them.
    struct Builder {
        private struct GroupKey: Hashable {
            let restriction: String
            let blocker: ReplayBlocker?
        }

        private var counts = ReplayReport()
        private var refused: [GroupKey: ReplayGroup] = [:]
        private var accepted: [GroupKey: ReplayGroup] = [:]
        private var changed: [GroupKey: ReplayGroup] = [:]
        private var blocked: [GroupKey: ReplayGroup] = [:]

        mutating func add(_ record: HeloLogRecord, evaluator: ReplayEvaluator) {
            counts.examined += 1
            counts.firstRecord = min(counts.firstRecord ?? record.time, record.time)
            counts.lastRecord = max(counts.lastRecord ?? record.time, record.time)
            guard let recorded = ReplayVerdict(logged: record.verdict) else {
                counts.undecided += 1
                return
            }
            switch evaluator.outcome(of: record) {
            case let .notReplayable(restriction, blocker):
                Self.note(record, nil, nil, in: &blocked, GroupKey(restriction: restriction, blocker: blocker))
            case let .decided(verdict, reply, restriction):
                if verdict == recorded {
                    counts.unchanged += 1
                } else if !recorded.isRefusal {
                    Self.note(record, verdict, reply, in: &refused, GroupKey(restriction: restriction ?? "(none)", blocker: nil))
                } else if !verdict.isRefusal {
                    Self.note(record, verdict, reply, in: &accepted,
                              GroupKey(restriction: record.restriction ?? "(none recorded)", blocker: nil))
                } else {
                    Self.note(record, verdict, reply, in: &changed, GroupKey(restriction: restriction ?? "(none)", blocker: nil))
                }
            }
        }

        private static func note(_ record: HeloLogRecord, _ verdict: ReplayVerdict?, _ reply: String?,
                                 in groups: inout [GroupKey: ReplayGroup], _ key: GroupKey) {
            var group = groups[key] ?? ReplayGroup(restriction: key.restriction, blocker: key.blocker, count: 0, examples: [])
            group.count += 1
            if group.examples.count < ReplayReport.examplesPerGroup {
                group.examples.append(ReplayExample(
                    time: record.time, client: record.client.description, clientName: record.clientName, helo: record.helo,
                    recordedVerdict: record.verdict, recordedRestriction: record.restriction,
                    candidateVerdict: verdict, candidateReply: reply))
            }
            groups[key] = group
        }

        func report() -> ReplayReport {
            var report = counts
            report.newlyRefused = Self.sorted(refused)
            report.newlyAccepted = Self.sorted(accepted)
            report.changedRefusal = Self.sorted(changed)
            report.notReplayable = Self.sorted(blocked)
            return report
        }

        /// The biggest group first, then by restriction.
        private static func sorted(_ groups: [GroupKey: ReplayGroup]) -> [ReplayGroup] {
            groups.values.sorted {
                ($1.count, $0.restriction, $0.blocker?.rawValue ?? "") < ($0.count, $1.restriction, $1.blocker?.rawValue ?? "")
            }
        }
    }
}
