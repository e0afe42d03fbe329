import Testing
@testable import HeloPolicy

/// The estimate that keeps a `regexp:` pattern from making glibc's `regcomp()` allocate
/// gigabytes (found by FuzzRegexp: Fuzz/crashes/FuzzRegexp/interval-memory). Each case gives
/// `regcomp()`'s peak memory for the pattern, measured with the C library of Debian 12.
struct RegcompCostTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let pattern: String
        let extended: Bool
        let refused: Bool
        let measured: String
        var testDescription: String { "\(pattern.prefix(60)) (\(measured))" }
    }

    static func alternation(_ names: Int) -> String {
        "^(" + (0..<names).map { "host\($0)\\.example\\.com" }.joined(separator: "|") + ")$"
    }

    static let cases: [Case] = [
        // Refused: each takes regcomp() from about 30 MB to gigabytes.
        Case(pattern: "a{1,32767}", extended: true, refused: true, measured: "8 GB, 18 s"),
        Case(pattern: "heO?????{1,3421}ich", extended: true, refused: true, measured: "2 GB: the fuzzer's input"),
        Case(pattern: "((a?){1,60}){1,60}", extended: true, refused: true, measured: "1.7 GB"),
        Case(pattern: "(((a?){1,13}){1,13}){1,13}", extended: true, refused: true, measured: "680 MB"),
        Case(pattern: "a{1,4000}", extended: true, refused: true, measured: "130 MB"),
        Case(pattern: "(a|b?|c*){1,600}", extended: true, refused: true, measured: "180 MB"),
        Case(pattern: String(repeating: "a?", count: 2000), extended: true, refused: true, measured: "33 MB"),
        Case(pattern: String(repeating: "a{32767}", count: 10), extended: true, refused: true, measured: "69 MB"),
        Case(pattern: alternation(2000), extended: true, refused: true, measured: "2,000 names: 117 MB"),
        // glibc copies X for X+, so `+` on nested groups doubles the pattern at each level.
        Case(pattern: String(repeating: "(", count: 18) + "a" + String(repeating: "+)", count: 18), extended: true,
             refused: true, measured: "18 nested groups with +: 1.7 GB, 2 s"),
        Case(pattern: "a\\{1,32767\\}", extended: false, refused: true, measured: "basic syntax"),
        Case(pattern: "\\(\\(a\\?\\)\\{1,60\\}\\)\\{1,60\\}", extended: false, refused: true, measured: "basic syntax, GNU \\?"),
        Case(pattern: String(repeating: "(", count: 600) + "a" + String(repeating: ")", count: 600), extended: true,
             refused: true, measured: "600 nested groups"),
        // Kept: what people write, and large patterns that stay small in memory.
        Case(pattern: "^(.+)\\.dyn\\.example\\.com$", extended: true, refused: false, measured: "under 1 MB"),
        Case(pattern: "^[0-9]{1,3}(\\.[0-9]{1,3}){3}$", extended: true, refused: false, measured: "under 1 MB"),
        Case(pattern: "^[a-z0-9-]{1,63}(\\.[a-z0-9-]{1,63}){1,126}$", extended: true, refused: false, measured: "11 MB"),
        Case(pattern: alternation(300), extended: true, refused: false, measured: "300 names: 6 MB"),
        Case(pattern: ".{0,1000}", extended: true, refused: false, measured: "8 MB"),
        Case(pattern: "a{32767}", extended: true, refused: false, measured: "7 MB"),
        Case(pattern: "(a?){1,400}", extended: true, refused: false, measured: "24 MB"),
        Case(pattern: String(repeating: "(", count: 10) + "a" + String(repeating: "+)", count: 10), extended: true,
             refused: false, measured: "10 nested groups with +: 5 MB"),
        Case(pattern: String(repeating: "a?", count: 1000), extended: true, refused: false, measured: "8 MB"),
        Case(pattern: String(repeating: "x{0}", count: 1000), extended: true, refused: false, measured: "nothing repeated"),
        Case(pattern: "a{1,32767}", extended: false, refused: false, measured: "basic syntax: literal braces"),
        Case(pattern: "[{1,32767}]*", extended: true, refused: false, measured: "braces in a bracket"),
        Case(pattern: "a\\{1,32767}", extended: true, refused: false, measured: "escaped brace"),
    ]

    @Test(arguments: cases)
    func verdict(_ c: Case) {
        let started = ContinuousClock.now
        let analysis = RegcompCost.analyze(Array(c.pattern.utf8), extended: c.extended)
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect((analysis.cost > RegcompCost.limit) == c.refused, "estimate \(analysis.cost)")
    }

    /// Paths that read nothing from an anchor: each case gives `regcomp()`'s time for the
    /// pattern on Debian 12 (found by FuzzRegexp: Fuzz/crashes/FuzzRegexp/anchored-paths).
    static let pathCases: [Case] = [
        // Refused: each takes regcomp() from a second to far longer than anyone waits.
        Case(pattern: "^'^a*++++++b+++++k++++++c+++++", extended: true, refused: true,
             measured: "the fuzzer's pattern in ASCII: over 5 minutes"),
        Case(pattern: "^a*+++++", extended: true, refused: true, measured: "9 s"),
        Case(pattern: "^a*++++b*++++", extended: true, refused: true, measured: "9 s"),
        Case(pattern: "^a*+++b*+++c*+++d*+++", extended: true, refused: true, measured: "6 s"),
        Case(pattern: "^((a*)++){8}", extended: true, refused: true, measured: "15 s"),
        Case(pattern: "^((a*)*){22}", extended: true, refused: true, measured: "over 20 s"),
        Case(pattern: "^((a?|b?)*){14}", extended: true, refused: true, measured: "over 20 s"),
        Case(pattern: "^((a*)?b?)++++", extended: true, refused: true, measured: "over 20 s"),
        Case(pattern: "(x|^a*)+++++", extended: true, refused: true, measured: "an anchor inside the group: over 20 s"),
        Case(pattern: "\\<a*+++++", extended: true, refused: true, measured: "a word anchor: 15 s"),
        Case(pattern: "$a*+++++", extended: true, refused: true, measured: "$ before: 11 s"),
        Case(pattern: "^((a*)+){16}", extended: true, refused: true, measured: "1.3 s"),
        Case(pattern: "^\\(a*\\)\\+\\+\\+\\+\\+", extended: false, refused: true, measured: "basic syntax: over 15 s"),
        // Kept: the same shapes smaller, without an anchor before them, and what people write.
        Case(pattern: "^a*++++", extended: true, refused: false, measured: "10 ms"),
        Case(pattern: "^((a*)+){14}", extended: true, refused: false, measured: "0.3 s"),
        Case(pattern: "a*+++++$", extended: true, refused: false, measured: "$ after: 3 ms"),
        Case(pattern: "^ba*+++++", extended: true, refused: false, measured: "a byte between: 4 ms"),
        Case(pattern: "((((((a*)+)+)+)+)+)+", extended: true, refused: false, measured: "no anchor: 23 ms"),
        Case(pattern: "^\\(a*\\)\\+\\+\\+", extended: false, refused: false, measured: "basic syntax: 3 ms"),
        Case(pattern: "^(www\\.)?(mail\\.)?([a-z0-9-]+\\.)*example\\.com$", extended: true, refused: false,
             measured: "under 1 ms"),
        Case(pattern: "^(a?b?c?)*$", extended: true, refused: false, measured: "under 1 ms"),
        Case(pattern: "\\bdyn(amic)?[-.]?(ip)?\\b", extended: true, refused: false, measured: "under 1 ms"),
    ]

    @Test(arguments: pathCases)
    func anchoredPaths(_ c: Case) {
        let started = ContinuousClock.now
        let analysis = RegcompCost.analyze(Array(c.pattern.utf8), extended: c.extended)
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(analysis.cost <= RegcompCost.limit && analysis.stackedRepetitions <= 8, "\(analysis)")
        #expect((analysis.anchoredPaths > RegcompCost.pathLimit) == c.refused, "paths \(analysis.anchoredPaths)")
    }

    /// The estimate grows with the square of a run of optional copies, as glibc's memory does
    /// (measured: a{1,1000} 8 MB, a{1,2000} 32 MB, a{1,4000} 127 MB).
    @Test func growsWithTheSquareOfTheRepetitionCount() {
        let costs = [1000, 2000, 4000].map {
            RegcompCost.analyze(Array("a{1,\($0)}".utf8), extended: true, ceiling: .max).cost
        }
        #expect(costs[1] > 3 * costs[0] && costs[1] < 5 * costs[0], "\(costs)")
        #expect(costs[2] > 3 * costs[1] && costs[2] < 5 * costs[1], "\(costs)")
    }

    /// Counting stops at the ceiling, so a pattern of any size is read quickly.
    @Test func stopsAtTheCeiling() {
        let pattern = Array(String(repeating: "(a?){1,32767}", count: 5000).utf8)
        let started = ContinuousClock.now
        let analysis = RegcompCost.analyze(pattern, extended: true)
        #expect(ContinuousClock.now - started < .seconds(1))
        #expect(analysis.cost == RegcompCost.limit + 1)
    }
}
