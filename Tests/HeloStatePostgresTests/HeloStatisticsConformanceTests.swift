import Foundation
import HeloPolicy
import Testing
@testable import HeloState
@testable import HeloStatePostgres

/// `heloguard stats`' findings from a real store seeded with a designed HELO log: the counts,
/// the order, the period and limits, and the suggested table lines, verbatim. Every test runs
/// on both stores with the same seed and the same expectations (the report is built from the
/// rows alone, so equal findings mean equal rows where they matter).
@Suite("HELO log statistics on both stores")
struct HeloStatisticsConformanceTests {
    /// One designed log record; `ago` in seconds before the epoch (0: at it).
    static func record(_ client: String, _ helo: String, _ verdict: String = "accept", _ restriction: String? = nil,
                       name: String? = nil, ago: TimeInterval = 0) -> HeloLogRecord {
        HeloLogRecord(time: at(-ago), client: address(client), helo: helo, verdict: verdict, restriction: restriction,
                      clientName: name)
    }

    static let unknown = "reject_unknown_helo_hostname"

    /// The seeded log. The comments give what each group is meant to show.
    static let log: [HeloLogRecord] = {
        var records: [HeloLogRecord] = []
        // Shared and refused: ylmf-pc from four bots (one of them three times), all refused.
        for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.1", "198.51.100.1"] {
            records.append(record(client, "ylmf-pc", "reject", unknown))
        }
        // Shared but always accepted: localhost.
        records.append(record("198.51.100.10", "localhost"))
        records.append(record("198.51.100.11", "localhost"))
        // Only two clients: below the threshold.
        records.append(record("198.51.100.20", "twice.example"))
        // Shared, but ten days ago: outside a one-day period.
        for client in ["198.51.100.30", "198.51.100.31", "198.51.100.32"] {
            records.append(record(client, "old.example", ago: 10 * day))
        }
        // A name with a space, refused: only a pcre line can hold it.
        for client in ["198.51.100.40", "198.51.100.41", "198.51.100.42"] {
            records.append(record(client, "Bad Name", "reject", unknown))
        }
        // A rotating client with three names of its own (one refused) and a shared one.
        records.append(record("203.0.113.50", "A1.rot.example", "reject", unknown))
        records.append(record("203.0.113.50", "a2.rot.example"))
        records.append(record("203.0.113.50", "a3.rot.example"))
        records.append(record("203.0.113.50", "a3.rot.example"))
        records.append(record("203.0.113.50", "localhost"))
        // A rotating client whose names all belong to others too.
        for helo in ["localhost", "ylmf-pc", "twice.example"] { records.append(record("203.0.113.60", helo)) }
        // A rotating client, never refused.
        for helo in ["b1.example", "b2.example", "b3.example"] { records.append(record("203.0.113.70", helo)) }
        // Refused names of other restrictions, and hostile bytes.
        records.append(record("198.51.100.50", "ctl\u{1}x", "reject", unknown))
        records.append(record("198.51.100.51", "#hash.example", "reject", "check_helo_a_access cidr:/etc/heloguard/a.cidr"))
        records.append(record("198.51.100.80", "mx.example.com", "reject", "reject_impersonating_helo"))
        records.append(record("198.51.100.80", "mx.example.com", "reject", "reject_impersonating_helo"))
        // Deferred, not refused: not counted as a refusal.
        records.append(record("198.51.100.90", "defer.example", "defer", unknown))
        // Provider claims: Google's name from two broadband clients and one without a reverse name.
        records.append(record("192.0.2.1", "mx.google.com", name: "cpe-1.broadband.example"))
        records.append(record("192.0.2.1", "mx.google.com", name: "cpe-1.broadband.example"))
        records.append(record("192.0.2.2", "mx.google.com", name: "dsl.isp.example"))
        records.append(record("192.0.2.3", "mx.google.com"))
        // Google's own server with another Google domain's name: no claim.
        records.append(record("209.85.128.1", "gmail.com", name: "mail-yw1.google.com"))
        // A name that merely ends like Google's: not Google's.
        records.append(record("192.0.2.6", "notgoogle.com", name: "x.example"))
        // Yahoo's name with Yahoo's reverse name in capitals and a trailing dot: no claim.
        records.append(record("192.0.2.7", "mail.yahoo.com", name: "MAIL.YAHOO.COM."))
        // Microsoft's name from elsewhere; Microsoft's own server gave it ten days ago.
        records.append(record("192.0.2.5", "mail.outlook.com", name: "spam.example.net"))
        records.append(record("40.107.0.1", "mail.outlook.com", name: "mail-db5.outbound.protection.outlook.com", ago: 10 * day))
        return records
    }()

    /// A store of `kind` holding ``log``, cleaned up after `body`.
    static func withSeededStore(_ kind: StoreKind, _ body: (any StateStore & HeloLogStatistics) throws -> Void) throws {
        try withStore(kind) { subject in
            let store = try #require(subject.store as? any StateStore & HeloLogStatistics,
                                     "the \(kind) store does not answer the statistics queries")
            try store.appendHeloLog(log)
            try body(store)
        }
    }

    static func report(_ store: any HeloLogStatistics, _ options: HeloReportOptions = HeloReportOptions()) throws -> HeloReport {
        try HeloReport.build(from: store, options: options)
    }

    static let lastDay = HeloReportOptions(since: at(-day))

    // MARK: Summary

    @Test("summary: records, reverse names and time span, for the whole log and for a period", arguments: StoreKind.allCases)
    func summary(_ kind: StoreKind) throws {
        try Self.withSeededStore(kind) { store throws in
            let whole = try Self.report(store).summary
            #expect(whole == HeloLogSummary(records: Self.log.count, recordsWithClientName: 8, firstRecord: at(-10 * day),
                                            lastRecord: at(0), storedRecords: Self.log.count))
            let period = try Self.report(store, Self.lastDay).summary
            #expect(period == HeloLogSummary(records: Self.log.count - 4, recordsWithClientName: 7, firstRecord: at(0),
                                             lastRecord: at(0), storedRecords: Self.log.count))
        }
    }

    // MARK: Shared names

    @Test("shared names: most clients first, then connections, then name; refusals counted; period, threshold, limit",
          arguments: StoreKind.allCases)
    func sharedNames(_ kind: StoreKind) throws {
        try Self.withSeededStore(kind) { store throws in
            #expect(try Self.report(store).sharedNames.map(\.usage) == [
                SharedHeloRow(helo: "ylmf-pc", clients: 5, connections: 7, rejected: 6),
                SharedHeloRow(helo: "localhost", clients: 4, connections: 4, rejected: 0),
                SharedHeloRow(helo: "mx.google.com", clients: 3, connections: 4, rejected: 0),
                SharedHeloRow(helo: "Bad Name", clients: 3, connections: 3, rejected: 3),
                SharedHeloRow(helo: "old.example", clients: 3, connections: 3, rejected: 0),
            ])
            #expect(try Self.report(store, Self.lastDay).sharedNames.map(\.usage.helo)
                    == ["ylmf-pc", "localhost", "mx.google.com", "Bad Name"])
            #expect(try Self.report(store, HeloReportOptions(minClients: 4)).sharedNames.map(\.usage.helo) == ["ylmf-pc", "localhost"])
            #expect(try Self.report(store, HeloReportOptions(limit: 2)).sharedNames.map(\.usage.helo) == ["ylmf-pc", "localhost"])
        }
    }

    /// A finding's subject and the suggestion expected for it.
    struct ExpectedSuggestion: Sendable, CustomTestStringConvertible {
        enum Section: String, Sendable { case shared = "shared name", rotating = "rotating client", rejected = "refused name" }
        let section: Section
        let description: String
        var testDescription: String { "\(section.rawValue): \(description)" }
        let subject: String
        let line: String?
        let caution: String?
    }

    static let sharedSuggestions: [ExpectedSuggestion] = [
        ExpectedSuggestion(section: .shared, description: "refused shared name: a plain REJECT line", subject: "ylmf-pc",
                           line: "ylmf-pc\tREJECT shared HELO name: 5 clients, 7 connections", caution: nil),
        ExpectedSuggestion(section: .shared, description: "always accepted: the line commented out, review first", subject: "localhost",
                           line: "# localhost\tREJECT shared HELO name: 4 clients, 4 connections",
                           caution: "all 4 connection(s) were accepted: review before blocking"),
        ExpectedSuggestion(section: .shared, description: "a name with a space: a pcre line, lower case, escaped", subject: "Bad Name",
                           line: "/^bad\\x20name$/\tREJECT shared HELO name: 3 clients, 3 connections", caution: nil),
    ]

    static let rotatingSuggestions: [ExpectedSuggestion] = [
        ExpectedSuggestion(section: .rotating, description: "its own names in one pcre line", subject: "203.0.113.50",
                           line: "/^(a1\\.rot\\.example|a2\\.rot\\.example|a3\\.rot\\.example)$/\tREJECT HELO name rotation by 203.0.113.50: 4 names",
                           caution: nil),
        ExpectedSuggestion(section: .rotating, description: "no name of its own: no line", subject: "203.0.113.60", line: nil,
                           caution: "no HELO name was given by this client alone: a HELO line would refuse other clients too"),
        ExpectedSuggestion(section: .rotating, description: "never refused: the line commented out", subject: "203.0.113.70",
                           line: "# /^(b1\\.example|b2\\.example|b3\\.example)$/\tREJECT HELO name rotation by 203.0.113.70: 3 names",
                           caution: "all 3 connection(s) were accepted: review before blocking"),
    ]

    static let rejectedSuggestions: [ExpectedSuggestion] = [
        ExpectedSuggestion(section: .rejected, description: "a DNS refusal becomes a static line", subject: "ylmf-pc",
                           line: "ylmf-pc\tREJECT refused 6 times by reject_unknown_helo_hostname", caution: nil),
        ExpectedSuggestion(section: .rejected, description: "a control byte is escaped in a pcre line", subject: "ctl\u{1}x",
                           line: "/^ctl\\x01x$/\tREJECT refused 1 times by reject_unknown_helo_hostname", caution: nil),
        ExpectedSuggestion(section: .rejected, description: "a leading # cannot start a fixed-string line", subject: "#hash.example",
                           line: "/^\\#hash\\.example$/\tREJECT refused 1 times by check_helo_a_access", caution: nil),
        ExpectedSuggestion(section: .rejected, description: "impersonation: no line, it would skip the penalty box", subject: "mx.example.com",
                           line: nil, caution: "reject_impersonating_helo refuses it without a lookup and boxes the client; "
                               + "a table line before it would skip the penalty box"),
    ]

    /// The finding a suggestion case is about, from the report of the whole seeded log.
    static func suggestion(for expected: ExpectedSuggestion, in report: HeloReport) -> TableSuggestion? {
        switch expected.section {
        case .shared: report.sharedNames.first { $0.usage.helo == expected.subject }?.suggestion
        case .rotating: report.rotatingClients.first { $0.usage.client == expected.subject }?.suggestion
        case .rejected: report.rejectedHelos.flatMap(\.names).first { $0.usage.helo == expected.subject }?.suggestion
        }
    }

    // MARK: Rotating clients

    @Test("rotating clients: names, samples (most used first) and the names no other client gave", arguments: StoreKind.allCases)
    func rotatingClients(_ kind: StoreKind) throws {
        try Self.withSeededStore(kind) { store throws in
            #expect(try Self.report(store).rotatingClients.map(\.usage) == [
                RotatingClientRow(client: "203.0.113.50", names: 4, connections: 5, rejected: 1,
                                  sampleNames: ["a3.rot.example", "A1.rot.example", "a2.rot.example", "localhost"],
                                  exclusiveNames: ["A1.rot.example", "a2.rot.example", "a3.rot.example"]),
                RotatingClientRow(client: "203.0.113.60", names: 3, connections: 3, rejected: 0,
                                  sampleNames: ["localhost", "twice.example", "ylmf-pc"], exclusiveNames: []),
                RotatingClientRow(client: "203.0.113.70", names: 3, connections: 3, rejected: 0,
                                  sampleNames: ["b1.example", "b2.example", "b3.example"],
                                  exclusiveNames: ["b1.example", "b2.example", "b3.example"]),
            ])
            #expect(try Self.report(store, HeloReportOptions(minNames: 4)).rotatingClients.map(\.usage.client) == ["203.0.113.50"])
            #expect(try Self.report(store, HeloReportOptions(limit: 1)).rotatingClients.map(\.usage.client) == ["203.0.113.50"])
        }
    }

    // MARK: Refused names

    @Test("refused names: per restriction, most refusals first; restrictions by their refusals; deferrals not counted",
          arguments: StoreKind.allCases)
    func rejectedHelos(_ kind: StoreKind) throws {
        try Self.withSeededStore(kind) { store throws in
            let groups = try Self.report(store).rejectedHelos
            #expect(groups.map(\.restriction) == [Self.unknown, "reject_impersonating_helo",
                                                  "check_helo_a_access cidr:/etc/heloguard/a.cidr"])
            #expect(groups.map(\.rejections) == [11, 2, 1])
            #expect(groups.first?.names.map(\.usage) == [
                RejectedHeloRow(restriction: Self.unknown, helo: "ylmf-pc", rejections: 6, clients: 4),
                RejectedHeloRow(restriction: Self.unknown, helo: "Bad Name", rejections: 3, clients: 3),
                RejectedHeloRow(restriction: Self.unknown, helo: "A1.rot.example", rejections: 1, clients: 1),
                RejectedHeloRow(restriction: Self.unknown, helo: "ctl\u{1}x", rejections: 1, clients: 1),
            ])
            #expect(!groups.flatMap(\.names).contains { $0.usage.helo == "defer.example" })

            let limited = try Self.report(store, HeloReportOptions(limit: 2)).rejectedHelos
            #expect(limited.first?.names.map(\.usage.helo) == ["ylmf-pc", "Bad Name"])
            #expect(limited.first?.rejections == 9)
        }
    }

    @Test("suggested lines, verbatim", arguments: StoreKind.allCases)
    func suggestedLines(_ kind: StoreKind) throws {
        try Self.withSeededStore(kind) { store throws in
            let report = try Self.report(store)
            for expected in Self.sharedSuggestions + Self.rotatingSuggestions + Self.rejectedSuggestions {
                let suggestion = Self.suggestion(for: expected, in: report)
                #expect(suggestion != nil, "no finding for \(expected.testDescription)")
                #expect(suggestion?.line == expected.line, "\(expected.testDescription)")
                #expect(suggestion?.caution == expected.caution, "\(expected.testDescription)")
            }
        }
    }

    // MARK: Provider claims

    @Test("provider claims: outside reverse names only; same-group and look-alike names are not claims",
          arguments: StoreKind.allCases)
    func providerClaims(_ kind: StoreKind) throws {
        try Self.withSeededStore(kind) { store throws in
            let report = try Self.report(store)
            #expect(report.providerClaims.map(\.helo) == ["mx.google.com", "mail.outlook.com"])
            let google = try #require(report.providerClaims.first)
            #expect(google.provider == "Google")
            #expect((google.clients, google.connections) == (2, 3))
            #expect(google.examples.map { "\($0.client) \($0.clientName ?? "-") \($0.connections)" }
                    == ["192.0.2.1 cpe-1.broadband.example 2", "192.0.2.2 dsl.isp.example 1"])
            #expect(google.providerReverseName == nil)
            #expect(google.suggestion.line == "mx.google.com\tREJECT forged Google HELO name: 2 clients outside Google")
            #expect(report.claimsWithoutReverseName == 1, "192.0.2.3 has no reverse name: not judged")
        }
    }

    @Test("provider claims: a name the provider's own servers gave gets no line, even outside the period",
          arguments: StoreKind.allCases)
    func providerVouchedName(_ kind: StoreKind) throws {
        try Self.withSeededStore(kind) { store throws in
            for options in [HeloReportOptions(), Self.lastDay] {
                let claim = try #require(try Self.report(store, options).providerClaims.first { $0.helo == "mail.outlook.com" })
                #expect(claim.provider == "Microsoft")
                #expect(claim.providerReverseName == "mail-db5.outbound.protection.outlook.com")
                #expect(claim.suggestion.line == nil)
                #expect(claim.suggestion.caution == "Microsoft's own servers give this name too "
                        + "(reverse name mail-db5.outbound.protection.outlook.com): no static line is safe")
            }
        }
    }

    @Test("provider claims: --provider adds a domain as a group of its own", arguments: StoreKind.allCases)
    func addedProvider(_ kind: StoreKind) throws {
        var options = HeloReportOptions()
        options.providers.append(ProviderGroup(name: "example.net", domains: ["Example.NET."]))
        try Self.withSeededStore(kind) { store throws in
            try store.appendHeloLog([Self.record("192.0.2.9", "relay.example.net", name: "elsewhere.example.org"),
                                     Self.record("192.0.2.10", "smtp.example.net", name: "out.example.net")])
            let claims = try Self.report(store, options).providerClaims
            #expect(claims.map { "\($0.helo) \($0.provider)" } == ["mx.google.com Google", "mail.outlook.com Microsoft",
                                                                    "relay.example.net example.net"])
        }
    }

    @Test("dry run: would-be refusals are reported apart, never among the enforced ones", arguments: StoreKind.allCases)
    func wouldBeRefusals(_ kind: StoreKind) throws {
        try Self.withSeededStore(kind) { store throws in
            let enforced = try Self.report(store).rejectedHelos
            try store.appendHeloLog([
                Self.record("198.51.100.1", "dry.example", HeloLogVerdict.wouldReject, "reject_non_fqdn_helo_hostname"),
                Self.record("198.51.100.2", "dry.example", HeloLogVerdict.wouldReject, "reject_non_fqdn_helo_hostname"),
                Self.record("198.51.100.3", "ylmf-pc", HeloLogVerdict.wouldReject, Self.unknown),
                Self.record("198.51.100.4", "later.example", HeloLogVerdict.wouldDefer, Self.unknown),
            ])
            let report = try Self.report(store)
            #expect(report.rejectedHelos == enforced)
            #expect(report.wouldRejectHelos.map(\.restriction) == ["reject_non_fqdn_helo_hostname", Self.unknown])
            #expect(report.wouldRejectHelos.flatMap(\.names).map(\.usage) == [
                RejectedHeloRow(restriction: "reject_non_fqdn_helo_hostname", helo: "dry.example", rejections: 2, clients: 2),
                RejectedHeloRow(restriction: Self.unknown, helo: "ylmf-pc", rejections: 1, clients: 1),
            ])
        }
    }
}
