import Foundation
import Testing
@testable import HeloPolicy

/// `FILTER transport:destination` in an access table: every table type lists its results, and
/// the configuration loader warns at load time about each FILTER result, because a milter can
/// only log it when it fires.
struct FilterWarningTests {
    static let unavailable = "FILTER is not available to a milter: the message would be delivered without the content filter"

    /// One table type: how it is written, what results it lists, and which of them are FILTERs.
    struct TableCase: Sendable, CustomTestStringConvertible {
        let type: String
        /// The text of the table file `t`, or nil for a table written in main.cf.
        let file: String?
        /// For a table written in main.cf, everything after `type:`.
        var inlineName = ""
        /// What `resultTexts` must return.
        let results: [TableResultText]
        /// The lines of the FILTER results (nil: the table has no lines).
        let filterLines: [Int?]
        var testDescription: String { type }

        /// The spec as written in the configuration; `directory` holds the file `t`.
        func spec(_ directory: String) -> String {
            file == nil ? "\(type):\(inlineName)" : "\(type):\(directory)/t"
        }
    }

    static let fixedStringFile = """
        # HELO names
        ok.example        OK
        filter.example    filter smtp:[127.0.0.1]:10025
        reject.example    REJECT 5.7.1 go away
        """
    static let fixedStringResults = [
        TableResultText(text: "OK", line: 2),
        TableResultText(text: "filter smtp:[127.0.0.1]:10025", line: 3),
        TableResultText(text: "REJECT 5.7.1 go away", line: 4),
    ]

    static let patternFile = """
        /^(.+)\\.filter\\.example$/   FILTER smtp:[$1]:10025
        if /\\.example$/
        /^bad\\./                      REJECT $$ is not allowed
        endif
        /^x/                           Filter
         relay:[192.0.2.1]
        """
    static let patternResults = [
        TableResultText(text: "FILTER smtp:[$1]:10025", line: 1),
        TableResultText(text: "REJECT $$ is not allowed", line: 3),
        TableResultText(text: "Filter relay:[192.0.2.1]", line: 5),
    ]

    static let cases: [TableCase] =
        FixedStringTable.Kind.allCases.map {
            TableCase(type: $0.rawValue, file: fixedStringFile, results: fixedStringResults, filterLines: [3])
        } + [
            TableCase(type: "inline", file: nil, inlineName: "{ok.example=OK,{f.example = FILTER smtp:x}}",
                      results: [TableResultText(text: "FILTER smtp:x", line: nil), TableResultText(text: "OK", line: nil)],
                      filterLines: [nil]),
            TableCase(type: "static", file: nil, inlineName: "{FILTER smtp:[127.0.0.1]:10025}",
                      results: [TableResultText(text: "FILTER smtp:[127.0.0.1]:10025", line: nil)],
                      filterLines: [nil]),
            TableCase(type: "cidr", file: """
                192.0.2.0/24          OK
                !198.51.100.0/24      FILTER relay:[10.0.0.1]
                if 2001:db8::/32
                2001:db8::1           REJECT
                endif
                """,
                results: [TableResultText(text: "OK", line: 1),
                          TableResultText(text: "FILTER relay:[10.0.0.1]", line: 2),
                          TableResultText(text: "REJECT", line: 4)],
                filterLines: [2]),
            TableCase(type: "regexp", file: patternFile, results: patternResults, filterLines: [1, 5]),
            TableCase(type: "pcre", file: patternFile, results: patternResults, filterLines: [1, 5]),
        ]

    /// Writes `t` (when the case has a file) and loads a configuration naming the table on line 2.
    static func load(_ c: TableCase, files: [String: String] = [:]) throws -> (PolicyFixture, spec: String) {
        var files = files
        if let file = c.file { files["t"] = file }
        let written = c.file == nil ? "\(c.type):\(c.inlineName)" : "\(c.type):@DIR@/t"
        let fixture = try PolicyFixture("""
            # FILTER test
            smtpd_helo_restrictions = check_helo_access \(written)
            """, files: files)
        return (fixture, c.spec(fixture.directory))
    }

    static func filterWarnings(_ fixture: PolicyFixture) -> [ConfigDiagnostic] {
        fixture.diagnostics.filter { $0.message.hasSuffix(unavailable) }
    }

    static func location(_ fixture: PolicyFixture, line: Int) -> HeloPolicy.SourceLocation {
        HeloPolicy.SourceLocation(file: fixture.directory + "/heloguard.conf", line: line)
    }

    @Test(arguments: cases)
    func everyTableListsItsResultsAsWritten(_ c: TableCase) throws {
        let directory = try TemporaryDirectory()
        if let file = c.file { _ = try directory.write("t", file) }
        let loaded = try TableLoader.open(c.spec(directory.path), at: HeloPolicy.SourceLocation(file: "main.cf", line: 1))
        #expect(loaded.diagnostics.isEmpty, "\(loaded.diagnostics)")
        #expect(loaded.table.resultTexts == c.results)
    }

    @Test(arguments: cases)
    func aFilterResultIsAWarningWithBothLocations(_ c: TableCase) throws {
        let (fixture, spec) = try Self.load(c)
        let expected = c.filterLines.map { line in
            ConfigDiagnostic.warning(Self.location(fixture, line: 2),
                                     "\(spec)\(line.map { " line \($0)" } ?? ""): \(Self.unavailable)")
        }
        #expect(Self.filterWarnings(fixture) == expected)
        #expect(!fixture.diagnostics.contains { $0.severity == .error }, "\(fixture.diagnostics)")
    }

    @Test func theWarningReadsAsDocumented() throws {
        let fixture = try PolicyFixture("""
            # heloguard.conf
            # HELO checks
            smtpd_helo_restrictions = check_helo_access hash:@DIR@/helo_access
            """, files: ["helo_access": "a.example OK\n\n# note\nb.example REJECT\nc.example OK\nd.example OK\nf.example FILTER smtp:[::1]:10025\n"])
        #expect(Self.filterWarnings(fixture).map(\.description) == [
            "\(fixture.directory)/heloguard.conf:3: warning: hash:\(fixture.directory)/helo_access line 7: "
                + "FILTER is not available to a milter: the message would be delivered without the content filter",
        ])
    }

    struct ValueCase: Sendable, CustomTestStringConvertible {
        let value: String
        var testDescription: String { value }
    }

    @Test(arguments: ["OK", "REJECT FILTER smtp:x", "FILTERED smtp:x", "FILTER_OFF", "DUNNO", "reject_non_fqdn_helo_hostname",
                      "550 FILTER smtp:x"].map(ValueCase.init))
    func otherResultsGiveNoWarning(_ c: ValueCase) throws {
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = check_helo_access hash:@DIR@/t
            """, files: ["t": "a.example \(c.value)\n"])
        #expect(Self.filterWarnings(fixture).isEmpty)
    }

    @Test func aSurrogateTableHasNoResults() throws {
        // A duplicate key makes a texthash table fail every lookup: nothing it holds is reachable.
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = check_helo_access texthash:@DIR@/t
            """, files: ["t": "a.example FILTER smtp:x\na.example FILTER smtp:y\n"])
        #expect(fixture.diagnostics.contains { $0.severity == .error })
        #expect(Self.filterWarnings(fixture).isEmpty)
        #expect(SurrogateTable(spec: "texthash:t", reason: "broken").resultTexts.isEmpty)
    }

    @Test func tablesInRestrictionClassesAreCheckedWhereTheyAreNamed() throws {
        let fixture = try PolicyFixture("""
            smtpd_restriction_classes = filtered, both
            filtered = check_client_access cidr:@DIR@/clients
            both = check_helo_access hash:@DIR@/shared
            smtpd_helo_restrictions = check_helo_access hash:@DIR@/shared, filtered, both
            """, files: ["clients": "192.0.2.0/24 FILTER smtp:x\n", "shared": "a.example FILTER smtp:y\n"])
        let directory = fixture.directory
        // The HELO list is read before the classes; a table named twice is reported once.
        #expect(Self.filterWarnings(fixture) == [
            .warning(Self.location(fixture, line: 4), "hash:\(directory)/shared line 1: \(Self.unavailable)"),
            .warning(Self.location(fixture, line: 2), "cidr:\(directory)/clients line 1: \(Self.unavailable)"),
        ])
    }

    @Test func aTableUsedOnlyAsANetworkListIsNotAnAccessTable() throws {
        // In mynetworks a table hit means "matches"; its value is never an action.
        let fixture = try PolicyFixture("""
            mynetworks = hash:@DIR@/nets
            smtpd_helo_restrictions = permit_mynetworks
            """, files: ["nets": "192.0.2.1 FILTER smtp:x\n"])
        #expect(Self.filterWarnings(fixture).isEmpty)
    }

    @Test func dsnMappingIsANoteAndTheInfoActionStaysInfo() throws {
        let fixture = try PolicyFixture("""
            smtpd_helo_restrictions = check_helo_access hash:@DIR@/t
            """, files: ["t": "info.example INFO looked at\nmapped.example REJECT 5.1.1 no such user\n"])
        func events(_ helo: String) -> [PolicyLogEvent] {
            fixture.engine.play(SessionScript(helos: [helo], recipients: ["b@example.com"])).recipients[0].decision.events
        }
        #expect(events("info.example") == [PolicyLogEvent(.info, "looked at")])
        #expect(events("mapped.example") == [
            PolicyLogEvent(.note, "mapping DSN status 5.1.1 into Helo command status 5.0.0"),
            PolicyLogEvent(.reject, "554 5.0.0 <mapped.example>: Helo command rejected: no such user"),
        ])
        #expect(PolicyLogEvent.Kind.note.rawValue != PolicyLogEvent.Kind.info.rawValue)
    }
}
