import Foundation
import HeloPolicy
import HeloState
import PostfixSyntax

/// `heloguard stats` output: aligned tables with a block of table lines under each section, or JSON.
///
/// Every line of a suggestion block is valid `check_helo_access` table syntax (remarks are `#`
/// comments), so a block can be pasted whole; names are shown with control characters escaped,
/// so a hostile HELO name cannot break a line.
enum StatsRendering {
    // MARK: Text

    static func text(_ report: HeloReport, settings: StateSettings, configPath: String) -> String {
        var out: [String] = header(report, settings: settings, configPath: configPath)
        let period = report.options.since.map { "since \(PenaltyCommand.utc($0))" } ?? "in the log"

        let options = report.options
        out += section("HELO names given by \(options.minClients) or more client addresses", isEmpty: report.sharedNames.isEmpty,
                       empty: "no HELO name was used by \(options.minClients) or more client addresses \(period)") {
            table(["HELO", "CLIENTS", "CONNECTIONS", "REJECTED"], numericFrom: 1, report.sharedNames.map {
                [visible($0.usage.helo), String($0.usage.clients), String($0.usage.connections), String($0.usage.rejected)]
            }) + suggestionBlock(report.sharedNames.map { (visible($0.usage.helo), $0.suggestion, nil) })
        }
        out += section("Clients that gave \(options.minNames) or more HELO names", isEmpty: report.rotatingClients.isEmpty,
                       empty: "no client address gave \(options.minNames) or more HELO names \(period)") {
            table(["CLIENT", "NAMES", "CONNECTIONS", "REJECTED", "OWN NAMES", "MOST USED"], numericFrom: 1,
                  report.rotatingClients.map {
                [$0.usage.client, String($0.usage.names), String($0.usage.connections), String($0.usage.rejected),
                 String($0.usage.exclusiveNames.count), $0.usage.sampleNames.map(visible).joined(separator: ", ")]
            }, numericTo: 4) + suggestionBlock(report.rotatingClients.map { finding in
                (finding.usage.client, finding.suggestion,
                 finding.suggestion.line == nil ? "alternative: heloguard penalty add \(finding.usage.client)" : nil)
            })
        }
        out += section("Most refused HELO names per restriction", isEmpty: report.rejectedHelos.isEmpty,
                       empty: "no HELO name was refused \(period)") {
            refusalGroups(report.rejectedHelos, noun: "refusals")
        }
        if !report.wouldRejectHelos.isEmpty {
            out += section("Would-be refusals per restriction (dry_run = yes: logged, not enforced)", isEmpty: false, empty: "") {
                refusalGroups(report.wouldRejectHelos, noun: "would-be refusals")
            }
        }
        out += section("Provider names from clients whose reverse name is elsewhere", isEmpty: report.providerClaims.isEmpty,
                       empty: "no HELO name of a big provider came from a client with a reverse name outside it \(period)") {
            table(["HELO", "PROVIDER", "CLIENTS", "CONNECTIONS", "FOR EXAMPLE"], numericFrom: 2, report.providerClaims.map {
                [visible($0.helo), $0.provider, String($0.clients), String($0.connections),
                 $0.examples.map { "\($0.client) (\(visible($0.clientName ?? "")))" }.joined(separator: ", ")]
            }, numericTo: 3) + suggestionBlock(report.providerClaims.map { (visible($0.helo), $0.suggestion, nil) })
        }
        out.append("Clients without a reverse name cannot be judged: \(report.claimsWithoutReverseName) such "
                   + "connection(s) gave a provider's name \(period) and are not counted.")
        return out.joined(separator: "\n") + "\n"
    }

    /// A section: a blank line and its heading, then `empty` when it has no findings, else `body`.
    /// Refused names grouped by restriction, each group with its table lines.
    private static func refusalGroups(_ groups: [RestrictionRejections], noun: String) -> [String] {
        groups.flatMap { group in
            ["\(visible(group.restriction)): \(group.rejections) \(noun) of the names below"]
                + table(["HELO", "REFUSALS", "CLIENTS"], numericFrom: 1, group.names.map {
                    [visible($0.usage.helo), String($0.usage.rejections), String($0.usage.clients)]
                }).map { "  " + $0 }
                + suggestionBlock(group.names.map { (visible($0.usage.helo), $0.suggestion, nil) })
        }
    }

    private static func section(_ heading: String, isEmpty: Bool, empty: String, _ body: () -> [String]) -> [String] {
        ["", "== \(heading) =="] + (isEmpty ? [empty] : body())
    }

    private static func header(_ report: HeloReport, settings: StateSettings, configPath: String) -> [String] {
        let summary = report.summary
        var lines: [String] = []
        let scope = report.options.since.map { "since \(PenaltyCommand.utc($0)), of \(summary.storedRecords) stored" }
            ?? "the whole log"
        if let first = summary.firstRecord, let last = summary.lastRecord {
            lines.append("heloguard stats: \(summary.records) HELO log records examined (\(scope)), "
                         + "from \(PenaltyCommand.utc(first)) to \(PenaltyCommand.utc(last))")
            lines.append("client reverse name known in \(summary.recordsWithClientName) of them")
        } else {
            lines.append("heloguard stats: no HELO log records to examine (\(scope))")
        }
        if !settings.heloLog {
            lines.append("note: helo_log = no in \(configPath): nothing new is recorded; this is what the log still holds")
        } else if settings.heloLogSample > 1 {
            lines.append("note: helo_log_sample = \(settings.heloLogSample): one connection in \(settings.heloLogSample) "
                         + "is recorded; the counts are of recorded connections")
        }
        return lines
    }

    /// Columns padded to their widest cell; columns `numericFrom...numericTo` right-aligned; the
    /// last column is not padded.
    private static func table(_ headers: [String], numericFrom: Int, _ rows: [[String]], numericTo: Int? = nil) -> [String] {
        let all = [headers] + rows
        let last = headers.count - 1
        let numeric = numericFrom...(numericTo ?? last)
        let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.indices.map { column in
                let cell = row[column]
                if column == last && !numeric.contains(column) { return cell }
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return numeric.contains(column) ? padding + cell : cell + padding
            }.joined(separator: "  ")
        }
    }

    /// The table lines of a section: a `#` remark per caution (and per pcre line among hash lines),
    /// then the line itself.
    private static func suggestionBlock(_ items: [(subject: String, suggestion: TableSuggestion, alternative: String?)])
        -> [String] {
        let allPCRE = items.allSatisfy { $0.suggestion.table != .hash }
        var out = ["check_helo_access lines" + (allPCRE && items.contains { $0.suggestion.table == .pcre }
                                                ? " (pcre: table):" : " (hash: table unless marked):")]
        for item in items {
            if let caution = item.suggestion.caution { out.append("# \(item.subject): \(caution)") }
            if item.suggestion.table == .pcre && !allPCRE {
                out.append("# \(item.subject): not a fixed-string key; this line is for a pcre: table")
            }
            if let alternative = item.alternative { out.append("# \(item.subject): \(alternative)") }
            if let line = item.suggestion.line { out.append(line) }
        }
        return out
    }

    /// `text` with control characters (and other line breakers) shown as escapes: the
    /// sanitiser's `.terminalEscaped` flavour.
    static func visible(_ text: String) -> String {
        Printable.sanitized(text, for: .terminalEscaped)
    }

    // MARK: JSON

    /// One object, keys sorted, snake_case, every key present (null when there is no value),
    /// times in ISO 8601 UTC.
    static func json(_ report: HeloReport, settings: StateSettings) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        func time(_ date: Date?) -> Any { date.map { formatter.string(from: $0) } ?? NSNull() }
        func optional(_ value: String?) -> Any { value ?? NSNull() }
        func suggestion(_ value: TableSuggestion) -> [String: Any] {
            ["line": optional(value.line), "table": optional(value.table?.rawValue), "caution": optional(value.caution)]
        }
        func refusalGroupsJSON(_ groups: [RestrictionRejections]) -> [[String: Any]] {
            groups.map { group in
                ["restriction": group.restriction, "rejections": group.rejections, "names": group.names.map {
                    ["helo": $0.usage.helo, "rejections": $0.usage.rejections, "clients": $0.usage.clients,
                     "suggestion": suggestion($0.suggestion)]
                }]
            }
        }
        let summary = report.summary
        let object: [String: Any] = [
            "records": summary.records,
            "records_with_reverse_name": summary.recordsWithClientName,
            "stored_records": summary.storedRecords,
            "first_record": time(summary.firstRecord),
            "last_record": time(summary.lastRecord),
            "since": time(report.options.since),
            "helo_log_enabled": settings.heloLog,
            "helo_log_sample": settings.heloLogSample,
            "limit": report.options.limit,
            "min_clients": report.options.minClients,
            "min_names": report.options.minNames,
            "providers": report.options.providers.map { ["name": $0.name, "domains": $0.domains] },
            "shared_names": report.sharedNames.map {
                ["helo": $0.usage.helo, "clients": $0.usage.clients, "connections": $0.usage.connections,
                 "rejected": $0.usage.rejected, "all_accepted": $0.allAccepted, "suggestion": suggestion($0.suggestion)]
            },
            "rotating_clients": report.rotatingClients.map {
                ["client": $0.usage.client, "names": $0.usage.names, "connections": $0.usage.connections,
                 "rejected": $0.usage.rejected, "all_accepted": $0.allAccepted, "sample_names": $0.usage.sampleNames,
                 "exclusive_names": $0.usage.exclusiveNames, "names_in_line": $0.namesInLine,
                 "suggestion": suggestion($0.suggestion)]
            },
            "rejected_helos": refusalGroupsJSON(report.rejectedHelos),
            "would_reject_helos": refusalGroupsJSON(report.wouldRejectHelos),
            "provider_claims": report.providerClaims.map {
                ["helo": $0.helo, "provider": $0.provider, "clients": $0.clients, "connections": $0.connections,
                 "provider_reverse_name": optional($0.providerReverseName), "suggestion": suggestion($0.suggestion),
                 "examples": $0.examples.map {
                     ["client": $0.client, "client_name": optional($0.clientName), "connections": $0.connections]
                 }]
            },
            "provider_claims_without_reverse_name": report.claimsWithoutReverseName,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object,
                                                options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
