import Testing
@testable import HeloPolicy

func loadCIDR(_ text: String, path: String = "c") -> (table: CIDRTable, diagnostics: [ConfigDiagnostic]) {
    var diagnostics: [ConfigDiagnostic] = []
    let table = CIDRTable.load(spec: "cidr:\(path)", path: path, contents: Array(text.utf8), diagnostics: &diagnostics)
    return (table, diagnostics)
}

struct CIDRTableTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let key: String
        /// The expected value and line, nil for "not found".
        let expected: (String, Int)?
        var testDescription: String { "lookup \(key)" }
    }

    static func check(_ table: CIDRTable, _ c: Case) {
        let expected: TableLookup = c.expected.map { .found(value: $0.0, line: $0.1) } ?? .notFound
        #expect(table.lookup(c.key) == expected)
    }

    // MARK: postfix-helo-semantics §3.9 / §8.2

    static let helo = """
        1.2.3.0/24 REJECT v4 net
        [2001:db8::]/32 REJECT v6 net
        [192.0.2.7] REJECT bracketed host
        [198.51.100.0/24] REJECT brackets around the prefix
        """

    static let heloCases: [Case] = [
        Case(key: "1.2.3.4", expected: ("REJECT v4 net", 1)),
        Case(key: "1.2.3.255", expected: ("REJECT v4 net", 1)),
        Case(key: "1.2.4.0", expected: nil),
        Case(key: "01.2.3.4", expected: nil),
        Case(key: "[1.2.3.4]", expected: nil),
        Case(key: "1.2.3.4.", expected: nil),
        Case(key: "host.example", expected: nil),
        Case(key: "", expected: nil),
        Case(key: "2001:DB8:0::5", expected: ("REJECT v6 net", 2)),
        Case(key: "2001:db8:ffff::1", expected: ("REJECT v6 net", 2)),
        Case(key: "[IPv6:2001:db8::5]", expected: nil),
        Case(key: "2001:db9::1", expected: nil),
        Case(key: "192.0.2.7", expected: ("REJECT bracketed host", 3)),
        Case(key: "192.0.2.8", expected: nil),
        Case(key: "198.51.100.9", expected: ("REJECT brackets around the prefix", 4)),
        Case(key: "::ffff:1.2.3.4", expected: nil),
    ]

    @Test(arguments: heloCases)
    func heloLookups(_ c: Case) {
        let (table, diagnostics) = loadCIDR(Self.helo)
        #expect(diagnostics.isEmpty)
        #expect(!table.matchesFixedStrings)
        Self.check(table, c)
    }

    // MARK: Postfix's own regression table (src/util/dict_cidr.map, .in, .ref)

    static let postfixMap = """
        172.16.0.0/21\t\t554 match bad netblock 172.16.0.0/21
        172.16.8.0/21\t\t554 match bad netblock 172.16.8.0/21
        172.16.0.0/16\t\t554 match bad netblock 172.16.0.0/16
        172.17.1.1\t\t554 match bad naked address
        172.16.1.3/21\t\twhatever
        172.16.1.3/33\t\twhatever
        172.999.0.0/21\t\twhatever
        172.16.1.999\t\twhatever
        172.16.1.4
        if 1.2.0.0/16
        if 1.2.3.4/30
        1.2.3.3\t\t1.2.3.3 can't happen
        1.2.3.4\t\t1.2.3.4 can happen
        1.2.3.5\t\t1.2.3.5 can happen
        1.2.3.6\t\t1.2.3.6 can happen
        1.2.3.7\t\t1.2.3.7 can happen
        1.2.3.8\t\t1.2.3.8 can't happen
        endif
        endif
        if !1.2.3.4/30
        1.2.3.3\t\t1.2.3.3 can happen
        1.2.3.8\t\t1.2.3.8 can happen
        endif
        if ::f4/126
        ::f3\t\t::f3 can't happen
        ::f4\t\t::f4 can happen
        ::f5\t\t::f5 can happen
        ::f6\t\t::f6 can happen
        ::f7\t\t::f7 can happen
        ::f8\t\t::f8 can't happen
        endif
        if !::f4/126
        ::f3\t\t::f3 can happen
        ::f8\t\t::f8 can happen
        endif
        2001:240:5c7:0:2d0:b7ff:fe88:2ca7 match 2001:240:5c7:0:2d0:b7ff:fe88:2ca7
        2001:240:5c7::/64\tmatch netblock 2001:240:5c7::/64
        1.0.0.0/0\t\tmatch 0.0.0.0/0
        ! ! 0.0.0.0/0\t\tmatch 0.0.0.0/0
        1::/0\t\t\tmatch ::/0
        ::/0\t\t\tmatch ::/0
        [1234\t\t\tcan't happen
        [1234]junk\t\tcan't happen
        172.16.1.3/3x\t\tcan't happen
        endif
        endif
        if 1:2::3:4
        if 1:2::3:5
        if !
        !
        """

    static let postfixCases: [Case] = [
        Case(key: "172.16.0.0", expected: ("554 match bad netblock 172.16.0.0/21", 1)),
        Case(key: "172.16.0.1", expected: ("554 match bad netblock 172.16.0.0/21", 1)),
        Case(key: "172.16.7.255", expected: ("554 match bad netblock 172.16.0.0/21", 1)),
        Case(key: "172.16.8.1", expected: ("554 match bad netblock 172.16.8.0/21", 2)),
        Case(key: "172.16.17.1", expected: ("554 match bad netblock 172.16.0.0/16", 3)),
        Case(key: "172.17.1.1", expected: ("554 match bad naked address", 4)),
        Case(key: "172.17.1.2", expected: ("match 0.0.0.0/0", 39)),
        Case(key: "2001:240:5c7:0:2d0:b7ff:fe88:2ca7", expected: ("match 2001:240:5c7:0:2d0:b7ff:fe88:2ca7", 36)),
        Case(key: "2001:240:5c7:0:2d0:b7ff:febe:ca9f", expected: ("match netblock 2001:240:5c7::/64", 37)),
        Case(key: "1.1.1.1", expected: ("match 0.0.0.0/0", 39)),
        Case(key: "1:1:1:1:1:1:1:1", expected: ("match ::/0", 41)),
        Case(key: "1.2.3.3", expected: ("1.2.3.3 can happen", 21)),
        Case(key: "1.2.3.4", expected: ("1.2.3.4 can happen", 13)),
        Case(key: "1.2.3.5", expected: ("1.2.3.5 can happen", 14)),
        Case(key: "1.2.3.6", expected: ("1.2.3.6 can happen", 15)),
        Case(key: "1.2.3.7", expected: ("1.2.3.7 can happen", 16)),
        Case(key: "1.2.3.8", expected: ("1.2.3.8 can happen", 22)),
        Case(key: "::f3", expected: ("::f3 can happen", 33)),
        Case(key: "::f4", expected: ("::f4 can happen", 26)),
        Case(key: "::f5", expected: ("::f5 can happen", 27)),
        Case(key: "::f6", expected: ("::f6 can happen", 28)),
        Case(key: "::f7", expected: ("::f7 can happen", 29)),
        Case(key: "::f8", expected: ("::f8 can happen", 34)),
    ]

    @Test(arguments: postfixCases)
    func postfixRegressionLookups(_ c: Case) {
        Self.check(loadCIDR(Self.postfixMap).table, c)
    }

    @Test func postfixRegressionDiagnostics() {
        let (_, diagnostics) = loadCIDR(Self.postfixMap, path: "dict_cidr.map")
        let expected: [(ConfigDiagnostic.Severity, Int, String)] = [
            (.error, 5, "non-null host address bits in \"172.16.1.3/21\", perhaps you should use \"172.16.0.0/21\" instead: skipping this rule"),
            (.error, 6, "bad mask length in \"172.16.1.3/33\": skipping this rule"),
            (.error, 7, "bad network value in \"172.999.0.0/21\": skipping this rule"),
            (.error, 8, "bad address pattern: \"172.16.1.999\": skipping this rule"),
            (.error, 9, "no lookup result: skipping this rule"),
            (.error, 38, "non-null host address bits in \"1.0.0.0/0\", perhaps you should use \"0.0.0.0/0\" instead: skipping this rule"),
            (.error, 40, "non-null host address bits in \"1::/0\", perhaps you should use \"::/0\" instead: skipping this rule"),
            (.error, 42, "missing ']' character after \"[1234\": skipping this rule"),
            (.error, 43, "garbage after \"[1234]\": skipping this rule"),
            (.error, 44, "bad mask value in \"172.16.1.3/3x\": skipping this rule"),
            (.error, 45, "ENDIF without IF: skipping this rule"),
            (.error, 46, "ENDIF without IF: skipping this rule"),
            (.error, 49, "no address pattern: skipping this rule"),
            (.error, 50, "no address pattern: skipping this rule"),
            (.warning, 48, "IF has no matching ENDIF"),
            (.warning, 47, "IF has no matching ENDIF"),
        ]
        #expect(diagnostics.count == expected.count, "\(diagnostics)")
        for (found, wanted) in zip(diagnostics, expected) {
            #expect(found.severity == wanted.0)
            #expect(found.location == SourceLocation(file: "dict_cidr.map", line: wanted.1))
            #expect(found.message == wanted.2)
        }
    }

    // MARK: negation, families, if/endif

    static let logic = """
        !10.0.0.0/8 REJECT not ten
        if 2001:db8::/32
        if !2001:db8::/48
        2001:db8::/32 REJECT outside the /48
        endif
        ENDIF
        ::/0 OK any v6
        if 192.168.0.0/16
        192.168.1.0/24 REJECT inner
        endif
        10.1.0.0/16 REJECT ten-one
        """

    static let logicCases: [Case] = [
        Case(key: "192.0.2.1", expected: ("REJECT not ten", 1)),
        Case(key: "192.168.1.5", expected: ("REJECT not ten", 1)),
        Case(key: "10.1.2.3", expected: ("REJECT ten-one", 11)),
        Case(key: "10.2.2.3", expected: nil),
        // A v4 rule never matches a v6 key, even negated; the v6 key falls through.
        Case(key: "2001:db8:1::1", expected: ("REJECT outside the /48", 4)),
        Case(key: "2001:db8:0:1::1", expected: ("OK any v6", 7)),
        Case(key: "2001:db9::1", expected: ("OK any v6", 7)),
        Case(key: "::ffff:10.1.2.3", expected: ("OK any v6", 7)),
    ]

    @Test(arguments: logicCases)
    func negationFamiliesAndBlocks(_ c: Case) {
        let (table, diagnostics) = loadCIDR(Self.logic)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        Self.check(table, c)
    }

    @Test func negatedRuleOfTheOtherFamilyNeverMatches() {
        let (table, _) = loadCIDR("!0.0.0.0/0 REJECT v4 negated\n!::/0 REJECT v6 negated\n")
        #expect(table.lookup("2001:db8::1") == .notFound)
        #expect(table.lookup("192.0.2.1") == .notFound)
    }

    @Test func ifWithoutEndifEndsTheTableWhenItDoesNotMatch() {
        let (table, diagnostics) = loadCIDR("if 1.2.3.4\n1.2.3.4 REJECT inside\n")
        #expect(diagnostics.map(\.message) == ["IF has no matching ENDIF"])
        #expect(table.lookup("1.2.3.4") == .found(value: "REJECT inside", line: 2))
        #expect(table.lookup("1.2.3.5") == .notFound)
    }

    @Test func hostBitsAreAnErrorWithTheMaskedForm() {
        let (table, diagnostics) = loadCIDR("[2001:db8::1]/32 REJECT x\n1.2.3.4/24 REJECT y\n1.2.3.0/24 OK\n")
        #expect(diagnostics.map(\.severity) == [.error, .error])
        #expect(diagnostics.first?.message.contains("perhaps you should use \"2001:db8::/32\" instead") == true)
        #expect(diagnostics.last?.message.contains("perhaps you should use \"1.2.3.0/24\" instead") == true)
        #expect(table.lookup("2001:db8::1") == .notFound)
        #expect(table.lookup("1.2.3.4") == .found(value: "OK", line: 3))
    }
}
