import Foundation
import HeloGuard
import HeloState

/// `heloguard replay` output: a summary, then each group of changed (or not replayable) records
/// with its newest examples; or JSON with the keys the README lists. Names from the log are
/// shown with control characters escaped (``StatsRendering/visible(_:)``); replies are as the
/// milter sends them (7-bit).
enum ReplayRendering {
    /// What the report was asked for, for its header.
    struct Context {
        var candidate: String
        var since: Date?
        var limit: Int?
        var asksDNS: Bool
        var dryRun: Bool
    }

    // MARK: Text

    static func text(_ report: ReplayReport, _ context: Context) -> String {
        var out = header(report, context)
        out += section("Newly refused (recorded accept), per deciding restriction of the candidate", report.newlyRefused)
        out += section("Newly accepted (recorded reject or defer), per restriction that refused before", report.newlyAccepted)
        out += section("Refusal changed (reject <-> defer), per deciding restriction of the candidate", report.changedRefusal)
        out += section("Not replayable: the candidate needs what the HELO log does not keep", report.notReplayable)
        return out.joined(separator: "\n") + "\n"
    }

    private static func header(_ report: ReplayReport, _ context: Context) -> [String] {
        var scope = context.since.map { "since \(PenaltyCommand.utc($0))" } ?? "the whole log"
        if let limit = context.limit { scope += ", at most the newest \(limit)" }
        var lines: [String] = []
        if let first = report.firstRecord, let last = report.lastRecord {
            lines.append("heloguard replay: \(report.examined) HELO log records examined (\(scope)), "
                         + "from \(PenaltyCommand.utc(first)) to \(PenaltyCommand.utc(last))")
        } else {
            lines.append("heloguard replay: no HELO log records to examine (\(scope))")
        }
        lines.append("candidate: \(visible(context.candidate))"
                     + (context.asksDNS ? "; DNS asked live" : "; --no-dns: records that need DNS are not replayable"))
        if context.dryRun {
            lines.append("the candidate has dry_run = yes: its would-be refusals count as refusals")
        }
        let counts: [(String, Int)] = [
            ("unchanged", report.unchanged), ("newly refused", report.newlyRefusedCount),
            ("newly accepted", report.newlyAcceptedCount), ("refusal changed", report.changedRefusalCount),
            ("not replayable", report.notReplayableCount), ("no recorded decision", report.undecided),
        ] + (report.unreadable > 0 ? [("unreadable records", report.unreadable)] : [])
        let width = counts.map(\.0.count).max() ?? 0
        let numbers = counts.map { String($0.1).count }.max() ?? 0
        lines += counts.map { name, count in
            name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                + String(repeating: " ", count: numbers - String(count).count) + String(count)
        }
        return lines
    }

    private static func section(_ heading: String, _ groups: [ReplayGroup]) -> [String] {
        guard !groups.isEmpty else { return [] }
        var lines = ["", "== \(heading) =="]
        for group in groups {
            let needs = group.blocker.map { " (needs: \($0.rawValue))" } ?? ""
            lines.append("\(visible(group.restriction))\(needs): \(group.count) connection(s)")
            lines += group.examples.map { "  " + example($0) }
        }
        return lines
    }

    /// `client (name) HELO <helo>: recorded [restriction] -> candidate reply`.
    private static func example(_ example: ReplayExample) -> String {
        let name = example.clientName.map { " (\(visible($0)))" } ?? ""
        let recorded = example.recordedVerdict + (example.recordedRestriction.map { " [\(visible($0))]" } ?? "")
        let candidate: String
        switch example.candidateVerdict {
        case nil: candidate = "not replayable"
        case .accept?: candidate = "accept"
        case let verdict?: candidate = verdict.rawValue + (example.candidateReply.map { " " + visible($0) } ?? "")
        }
        return "\(example.client)\(name) HELO \(visible(example.helo)): \(recorded) -> \(candidate)"
    }

    private static func visible(_ text: String) -> String { StatsRendering.visible(text) }

    // MARK: JSON

    static func json(_ report: ReplayReport, _ context: Context) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        func time(_ date: Date?) -> Any { date.map { formatter.string(from: $0) } ?? NSNull() }
        func optional(_ value: String?) -> Any { value ?? NSNull() }
        func groups(_ groups: [ReplayGroup]) -> [[String: Any]] {
            groups.map { group in
                var object: [String: Any] = ["restriction": group.restriction, "count": group.count, "examples": group.examples.map {
                    ["time": time($0.time), "client": $0.client, "client_name": optional($0.clientName), "helo": $0.helo,
                     "recorded_verdict": $0.recordedVerdict, "recorded_restriction": optional($0.recordedRestriction),
                     "candidate_verdict": optional($0.candidateVerdict?.rawValue), "candidate_reply": optional($0.candidateReply)]
                }]
                if let blocker = group.blocker { object["needs"] = blocker.rawValue }
                return object
            }
        }
        let object: [String: Any] = [
            "candidate": context.candidate,
            "since": time(context.since),
            "limit": context.limit.map { $0 as Any } ?? NSNull(),
            "dns": context.asksDNS,
            "candidate_dry_run": context.dryRun,
            "examined": report.examined,
            "first_record": time(report.firstRecord),
            "last_record": time(report.lastRecord),
            "unchanged": report.unchanged,
            "newly_refused_total": report.newlyRefusedCount,
            "newly_accepted_total": report.newlyAcceptedCount,
            "changed_refusal_total": report.changedRefusalCount,
            "not_replayable_total": report.notReplayableCount,
            "undecided": report.undecided,
            "unreadable": report.unreadable,
            "evaluations": report.evaluations,
            "newly_refused": groups(report.newlyRefused),
            "newly_accepted": groups(report.newlyAccepted),
            "changed_refusal": groups(report.changedRefusal),
            "not_replayable": groups(report.notReplayable),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object,
                                                options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
