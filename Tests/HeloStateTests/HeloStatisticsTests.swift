import Foundation
import HeloPolicy
import Testing
@testable import HeloState

/// `heloguard stats`' findings from a real SQLite store seeded with a designed HELO log: the
/// counts, the order, the period and limits, and the suggested table lines, verbatim.
@Suite("HELO log statistics")
struct HeloStatisticsTests {
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

    /// A store holding ``log``, removed after `body`.
    static func withSeededStore<T>(_ body: (SQLiteStateStore) throws -> T) throws -> T {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let store = try SQLiteStateStore(path: temp.file("heloguard.sqlite"))
        defer { store.close() }
        try store.appendHeloLog(log)
        return try body(store)
    }

    static func report(_ options: HeloReportOptions = HeloReportOptions()) throws -> HeloReport {
        try withSeededStore { try HeloReport.build(from: $0, options: options) }
    }

    static let lastDay = HeloReportOptions(since: at(-day))

    // MARK: Summary

    @Test("summary: records, reverse names and time span, for the whole log and for a period")
    func summary() throws {
        let whole = try Self.report().summary
        #expect(whole == HeloLogSummary(records: Self.log.count, recordsWithClientName: 8, firstRecord: at(-10 * day),
                                        lastRecord: at(0), storedRecords: Self.log.count))
        let period = try Self.report(Self.lastDay).summary
        #expect(period == HeloLogSummary(records: Self.log.count - 4, recordsWithClientName: 7, firstRecord: at(0),
                                         lastRecord: at(0), storedRecords: Self.log.count))
    }

    // MARK: Shared names

    @Test("shared names: most clients first, then connections, then name; refusals counted")
    func sharedNames() throws {
        let rows = try Self.report().sharedNames.map(\.usage)
        #expect(rows == [
            SharedHeloRow(helo: "ylmf-pc", clients: 5, connections: 7, rejected: 6),
            SharedHeloRow(helo: "localhost", clients: 4, connections: 4, rejected: 0),
            SharedHeloRow(helo: "mx.google.com", clients: 3, connections: 4, rejected: 0),
            SharedHeloRow(helo: "Bad Name", clients: 3, connections: 3, rejected: 3),
            SharedHeloRow(helo: "old.example", clients: 3, connections: 3, rejected: 0),
        ])
    }

    @Test("shared names: --since leaves out older records, --min-clients raises the bar")
    func sharedNamesPeriodAndThreshold() throws {
        #expect(try Self.report(Self.lastDay).sharedNames.map(\.usage.helo) == ["ylmf-pc", "localhost", "mx.google.com", "Bad Name"])
        #expect(try Self.report(HeloReportOptions(minClients: 4)).sharedNames.map(\.usage.helo) == ["ylmf-pc", "localhost"])
        #expect(try Self.report(HeloReportOptions(limit: 2)).sharedNames.map(\.usage.helo) == ["ylmf-pc", "localhost"])
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

    // MARK: Rotating clients

    @Test("rotating clients: names, samples (most used first) and the names no other client gave")
    func rotatingClients() throws {
        let rows = try Self.report().rotatingClients.map(\.usage)
        #expect(rows == [
            RotatingClientRow(client: "203.0.113.50", names: 4, connections: 5, rejected: 1,
                              sampleNames: ["a3.rot.example", "A1.rot.example", "a2.rot.example", "localhost"],
                              exclusiveNames: ["A1.rot.example", "a2.rot.example", "a3.rot.example"]),
            RotatingClientRow(client: "203.0.113.60", names: 3, connections: 3, rejected: 0,
                              sampleNames: ["localhost", "twice.example", "ylmf-pc"], exclusiveNames: []),
            RotatingClientRow(client: "203.0.113.70", names: 3, connections: 3, rejected: 0,
                              sampleNames: ["b1.example", "b2.example", "b3.example"],
                              exclusiveNames: ["b1.example", "b2.example", "b3.example"]),
        ])
        #expect(try Self.report(HeloReportOptions(minNames: 4)).rotatingClients.map(\.usage.client) == ["203.0.113.50"])
        #expect(try Self.report(HeloReportOptions(limit: 1)).rotatingClients.map(\.usage.client) == ["203.0.113.50"])
    }

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

    // MARK: Refused names

    @Test("refused names: per restriction, most refusals first; restrictions by their refusals; deferrals not counted")
    func rejectedHelos() throws {
        let groups = try Self.report().rejectedHelos
        #expect(groups.map(\.restriction) == [Self.unknown, "reject_impersonating_helo",
                                              "check_helo_a_access cidr:/etc/heloguard/a.cidr"])
        #expect(groups.map(\.rejections) == [11, 2, 1])
        #expect(groups[0].names.map(\.usage) == [
            RejectedHeloRow(restriction: Self.unknown, helo: "ylmf-pc", rejections: 6, clients: 4),
            RejectedHeloRow(restriction: Self.unknown, helo: "Bad Name", rejections: 3, clients: 3),
            RejectedHeloRow(restriction: Self.unknown, helo: "A1.rot.example", rejections: 1, clients: 1),
            RejectedHeloRow(restriction: Self.unknown, helo: "ctl\u{1}x", rejections: 1, clients: 1),
        ])
        #expect(!groups.flatMap(\.names).contains { $0.usage.helo == "defer.example" })

        let limited = try Self.report(HeloReportOptions(limit: 2)).rejectedHelos
        #expect(limited[0].names.map(\.usage.helo) == ["ylmf-pc", "Bad Name"])
        #expect(limited[0].rejections == 9)
    }

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

    @Test("suggested lines, verbatim", arguments: sharedSuggestions + rotatingSuggestions + rejectedSuggestions)
    func suggestedLine(_ expected: ExpectedSuggestion) throws {
        let suggestion = try #require(Self.suggestion(for: expected, in: try Self.report()))
        #expect(suggestion.line == expected.line)
        #expect(suggestion.caution == expected.caution)
    }

    // MARK: Provider claims

    @Test("provider claims: outside reverse names only; same-group and look-alike names are not claims")
    func providerClaims() throws {
        let report = try Self.report()
        #expect(report.providerClaims.map(\.helo) == ["mx.google.com", "mail.outlook.com"])
        let google = report.providerClaims[0]
        #expect(google.provider == "Google")
        #expect((google.clients, google.connections) == (2, 3))
        #expect(google.examples.map { "\($0.client) \($0.clientName ?? "-") \($0.connections)" }
                == ["192.0.2.1 cpe-1.broadband.example 2", "192.0.2.2 dsl.isp.example 1"])
        #expect(google.providerReverseName == nil)
        #expect(google.suggestion.line == "mx.google.com\tREJECT forged Google HELO name: 2 clients outside Google")
        #expect(report.claimsWithoutReverseName == 1, "192.0.2.3 has no reverse name: not judged")
    }

    @Test("provider claims: a name the provider's own servers gave gets no line, even outside the period")
    func providerVouchedName() throws {
        for options in [HeloReportOptions(), Self.lastDay] {
            let claim = try #require(try Self.report(options).providerClaims.first { $0.helo == "mail.outlook.com" })
            #expect(claim.provider == "Microsoft")
            #expect(claim.providerReverseName == "mail-db5.outbound.protection.outlook.com")
            #expect(claim.suggestion.line == nil)
            #expect(claim.suggestion.caution == "Microsoft's own servers give this name too "
                    + "(reverse name mail-db5.outbound.protection.outlook.com): no static line is safe")
        }
    }

    @Test("provider claims: --provider adds a domain as a group of its own")
    func addedProvider() throws {
        var options = HeloReportOptions()
        options.providers.append(ProviderGroup(name: "example.net", domains: ["Example.NET."]))
        try Self.withSeededStore { store in
            try store.appendHeloLog([Self.record("192.0.2.9", "relay.example.net", name: "elsewhere.example.org"),
                                     Self.record("192.0.2.10", "smtp.example.net", name: "out.example.net")])
            let claims = try HeloReport.build(from: store, options: options).providerClaims
            #expect(claims.map { "\($0.helo) \($0.provider)" } == ["mx.google.com Google", "mail.outlook.com Microsoft",
                                                                    "relay.example.net example.net"])
        }
    }

    @Test("a name a provider vouches for gets no line in any section")
    func vouchedNameEverywhere() {
        let vouching = ProviderNameRow(helo: "smtp.mail.yahoo.com", client: "98.136.0.1", clientName: "sonic1.mail.yahoo.com",
                                       connections: 1, storedConnections: 1)
        let report = HeloReport(
            options: HeloReportOptions(), summary: HeloLogSummary(records: 9, recordsWithClientName: 9, firstRecord: at(0),
                                                                  lastRecord: at(0), storedRecords: 9),
            shared: [SharedHeloRow(helo: "SMTP.mail.yahoo.com", clients: 4, connections: 4, rejected: 4)],
            rotating: [RotatingClientRow(client: "192.0.2.1", names: 3, connections: 3, rejected: 3, sampleNames: [],
                                         exclusiveNames: ["smtp.mail.yahoo.com"])],
            rejected: [RejectedHeloRow(restriction: Self.unknown, helo: "smtp.mail.yahoo.com", rejections: 3, clients: 3)],
            sightings: [vouching])
        let caution = "Yahoo's own servers give this name too (reverse name sonic1.mail.yahoo.com): no static line is safe"
        #expect(report.sharedNames.map(\.suggestion) == [TableSuggestion(line: nil, table: nil, caution: caution)])
        #expect(report.rejectedHelos.flatMap(\.names).map(\.suggestion) == [TableSuggestion(line: nil, table: nil, caution: caution)])
        #expect(report.rotatingClients.first?.suggestion.line == nil)
        #expect(report.providerClaims.isEmpty)
    }

    // MARK: Table lines

    /// A HELO name, and the table type its line must use.
    struct HostileName: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let name: String
        let table: TableSuggestion.TableType
    }

    static let names: [HostileName] = [
        HostileName(testDescription: "an ordinary name", name: "Mail.Example.COM", table: .hash),
        HostileName(testDescription: "an address literal", name: "[192.0.2.1]", table: .hash),
        HostileName(testDescription: "a space", name: "evil host", table: .pcre),
        HostileName(testDescription: "a tab and a line break", name: "a\tb\r\nREJECT", table: .pcre),
        HostileName(testDescription: "a leading #", name: "#comment", table: .pcre),
        HostileName(testDescription: "a slash, the pcre delimiter", name: "a/b", table: .hash),
        HostileName(testDescription: "quotes and a backslash", name: "\"q\\uote\"", table: .pcre),
        HostileName(testDescription: "a trailing colon", name: "alias:", table: .pcre),
        HostileName(testDescription: "non-ASCII", name: "bücher.example", table: .pcre),
        HostileName(testDescription: "regex metacharacters", name: "(a|b)*.+?^$[x]{2}", table: .hash),
    ]

    @Test("a suggested line is one line that refuses exactly its name, loaded by heloguard's own table parsers",
          arguments: names)
    func lineRefusesExactlyItsName(_ hostile: HostileName) throws {
        let suggestion = AccessTableLine.refusing(hostile.name, action: "REJECT test")
        #expect(suggestion.table == hostile.table)
        let line = try #require(suggestion.line)
        #expect(!line.contains("\n") && !line.contains("\r"))
        let table = try Self.load(line, hostile.table)
        #expect(table.lookup(hostile.name) == .found(value: "REJECT test", line: 1))
        #expect(table.lookup(hostile.name + "x") == .notFound)
        #expect(table.lookup("x" + hostile.name) == .notFound)
    }

    @Test("a rotating client's line matches each of its names and nothing else")
    func alternationLine() throws {
        let names = ["A.example", "b c", "d|e", "#f"]
        let line = try #require(AccessTableLine.refusingAny(names, action: "REJECT rot").line)
        #expect(line == "/^(a\\.example|b\\x20c|d\\|e|\\#f)$/\tREJECT rot")
        let table = try Self.load(line, .pcre)
        for name in names { #expect(table.lookup(name) == .found(value: "REJECT rot", line: 1)) }
        for other in ["d", "e", "a.exampl", "b", "xa.example"] { #expect(table.lookup(other) == .notFound) }
    }

    static func load(_ line: String, _ type: TableSuggestion.TableType) throws -> any AccessTable {
        var diagnostics: [ConfigDiagnostic] = []
        let table: any AccessTable
        switch type {
        case .hash:
            table = FixedStringTable.load(.texthash, spec: "texthash:/t", path: "/t", contents: Array((line + "\n").utf8),
                                          diagnostics: &diagnostics)
        case .pcre:
            table = try PCRETable.load(spec: "pcre:/t", path: "/t", text: line + "\n", diagnostics: &diagnostics)
        }
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        return table
    }

    @Test("provider domains match at label boundaries, in any case, with or without a trailing dot",
          arguments: [("mx.google.com", true), ("GOOGLE.COM.", true), ("notgoogle.com", false), ("google.com.evil", false),
                      ("google.co", false)])
    func providerDomainMatching(_ name: String, _ inside: Bool) {
        #expect(ProviderDomain.contains("google.com", name: name) == inside)
    }
}
