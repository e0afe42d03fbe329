import Foundation
import HeloPolicy
import Testing
@testable import HeloState

/// `heloguard stats`' judging and table lines, apart from any store. The findings from a seeded
/// store, on SQLite and PostgreSQL alike, are in `HeloStatePostgresTests`
/// (`HeloStatisticsConformanceTests`).
@Suite("HELO log statistics")
struct HeloStatisticsTests {
    static let unknown = "reject_unknown_helo_hostname"

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
