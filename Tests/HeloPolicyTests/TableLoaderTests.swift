import Foundation
import Testing
@testable import HeloPolicy

/// A fresh temporary directory for one test, removed again when the value is released;
/// tests write their fixture files into it.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/heloguard-tables-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `text` to `name` inside the directory and returns the full path.
    func write(_ name: String, _ text: String) throws -> String {
        let file = "\(path)/\(name)"
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

struct TableLoaderTests {
    static let here = SourceLocation(file: "/etc/postfix/main.cf", line: 12)

    struct TypeCase: Sendable, CustomTestStringConvertible {
        let type: String
        /// Name of the file to create (relative), and the suffix written in the spec.
        let fileName: String
        let specSuffix: String
        let matchesFixedStrings: Bool
        var testDescription: String { "\(type):\(fileName)\(specSuffix)" }
    }

    static let fileTypes: [TypeCase] = [
        TypeCase(type: "hash", fileName: "helo_access", specSuffix: "", matchesFixedStrings: true),
        TypeCase(type: "hash", fileName: "helo_access", specSuffix: ".db", matchesFixedStrings: true),
        TypeCase(type: "btree", fileName: "helo_access", specSuffix: "", matchesFixedStrings: true),
        TypeCase(type: "lmdb", fileName: "helo_access", specSuffix: ".lmdb", matchesFixedStrings: true),
        TypeCase(type: "cdb", fileName: "helo_access", specSuffix: ".cdb", matchesFixedStrings: true),
        TypeCase(type: "dbm", fileName: "helo_access", specSuffix: "", matchesFixedStrings: true),
        TypeCase(type: "sdbm", fileName: "helo_access", specSuffix: "", matchesFixedStrings: true),
        TypeCase(type: "texthash", fileName: "helo_access", specSuffix: "", matchesFixedStrings: true),
    ]

    @Test(arguments: fileTypes)
    func opensFixedStringTypesFromTheSourceFile(_ c: TypeCase) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(c.fileName, "MiXeD.example.info REJECT k=mixedcase\n")
        let spec = "\(c.type):\(path)\(c.specSuffix)"
        let loaded = try TableLoader.open(spec, at: Self.here)
        #expect(loaded.diagnostics.isEmpty)
        #expect(loaded.table.spec == spec)
        #expect(loaded.table.matchesFixedStrings == c.matchesFixedStrings)
        #expect(loaded.table.lookup("MIXED.EXAMPLE.INFO") == .found(value: "REJECT k=mixedcase", line: 1))
    }

    @Test func texthashDoesNotStripADatabaseSuffix() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("t.db", "a.example OK\n")
        let loaded = try TableLoader.open("texthash:\(path)", at: nil)
        #expect(loaded.table.lookup("a.example") == .found(value: "OK", line: 1))
    }

    @Test func texthashDuplicateGivesAFailingTableAndAnError() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("t", "a.example OK\nA.EXAMPLE REJECT\n")
        let loaded = try TableLoader.open("texthash:\(path)", at: Self.here)
        #expect(loaded.diagnostics.contains { $0.severity == .error && $0.location == SourceLocation(file: path, line: 2) })
        #expect(!loaded.table.matchesFixedStrings)
        if case .failed = loaded.table.lookup("b.example") {} else { Issue.record("lookup did not fail") }
    }

    @Test func hashDuplicateKeepsTheFirstValue() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("t", "a.example OK\nA.EXAMPLE REJECT\n")
        let loaded = try TableLoader.open("hash:\(path)", at: Self.here)
        #expect(loaded.diagnostics.map(\.severity) == [.warning])
        #expect(loaded.table.lookup("a.example") == .found(value: "OK", line: 1))
    }

    @Test func opensCIDR() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("c", "1.2.3.0/24 REJECT v4\n1.2.3.4/24 REJECT bad\n")
        let loaded = try TableLoader.open("cidr:\(path)", at: Self.here)
        #expect(!loaded.table.matchesFixedStrings)
        #expect(loaded.diagnostics.map(\.location) == [SourceLocation(file: path, line: 2)])
        #expect(loaded.table.lookup("1.2.3.4") == .found(value: "REJECT v4", line: 1))
        #expect(loaded.table.lookup("[1.2.3.4]") == .notFound)
    }

    @Test(arguments: ["regexp", "pcre"])
    func opensPatternTypes(_ type: String) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("r", "/^x$/ REJECT\n")
        let loaded = try TableLoader.open("\(type):\(path)", at: Self.here)
        #expect(loaded.table.spec == "\(type):\(path)")
        #expect(!loaded.table.matchesFixedStrings)
    }

    @Test func opensInlineAndStatic() throws {
        let inline = try TableLoader.open("inline:{ { spaced.example = REJECT spaced inline text } }", at: Self.here)
        #expect(inline.diagnostics.isEmpty)
        #expect(inline.table.matchesFixedStrings)
        #expect(inline.table.lookup("Spaced.Example") == .found(value: "REJECT spaced inline text", line: nil))

        let broken = try TableLoader.open("inline:{ spaced.example = REJECT spaced }", at: Self.here)
        #expect(broken.diagnostics.first?.location == Self.here)
        #expect(broken.diagnostics.first?.severity == .error)
        if case .failed = broken.table.lookup("spaced.example") {} else { Issue.record("lookup did not fail") }

        let fixed = try TableLoader.open("static:{ REJECT go away }", at: Self.here)
        #expect(fixed.table.lookup("x") == .found(value: "REJECT go away", line: nil))
    }

    struct FailureCase: Sendable, CustomTestStringConvertible {
        let spec: String
        let fragments: [String]
        var testDescription: String { spec }
    }

    static let failures: [FailureCase] = [
        FailureCase(spec: "foo:bar", fragments: ["unsupported lookup table type \"foo\"", "hash:", "cidr:", "texthash:"]),
        FailureCase(spec: "ldap:/etc/postfix/ldap.cf", fragments: ["\"ldap\"", "regexp:"]),
        FailureCase(spec: "mysql:/etc/postfix/m.cf", fragments: ["\"mysql\""]),
        FailureCase(spec: "HASH:/etc/postfix/x", fragments: ["\"HASH\""]),
        FailureCase(spec: "no-colon", fragments: ["expecting \"type:name\" form instead of \"no-colon\""]),
        FailureCase(spec: "hash:", fragments: ["expecting \"type:name\" form"]),
        FailureCase(spec: ":/etc/x", fragments: ["expecting \"type:name\" form"]),
        FailureCase(spec: "hash:/nonexistent/heloguard/helo_access.db",
                    fragments: ["/nonexistent/heloguard/helo_access:", "No such file or directory"]),
        FailureCase(spec: "cidr:/nonexistent/heloguard/c", fragments: ["/nonexistent/heloguard/c", "No such file or directory"]),
        FailureCase(spec: "regexp:/nonexistent/r", fragments: ["No such file or directory"]),
        FailureCase(spec: "pcre:/nonexistent/p", fragments: ["No such file or directory"]),
        FailureCase(spec: "texthash:/", fragments: ["read /:", "Is a directory"]),
    ]

    @Test(arguments: failures)
    func refusesWithALocatedError(_ c: FailureCase) {
        do {
            _ = try TableLoader.open(c.spec, at: Self.here)
            Issue.record("\(c.spec) was accepted")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.diagnostics.first?.location == Self.here)
            #expect(error.diagnostics.first?.severity == .error)
            for fragment in c.fragments {
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        }
    }

    @Test func largeFileLoadsAndAnswers() throws {
        let directory = try TemporaryDirectory()
        var text = ""
        text.reserveCapacity(4_000_000)
        for index in 0..<100_000 {
            text += "h\(index).example.com REJECT number \(index)\n"
        }
        let path = try directory.write("big", text)
        let loaded = try TableLoader.open("hash:\(path)", at: Self.here)
        #expect(loaded.diagnostics.isEmpty)
        #expect((loaded.table as? FixedStringTable)?.count == 100_000)
        #expect(loaded.table.lookup("H54321.EXAMPLE.COM") == .found(value: "REJECT number 54321", line: 54_322))
    }
}
