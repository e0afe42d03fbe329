import Foundation
import Testing
import HeloPolicy
@testable import HeloDNS

/// The per-lookup deadline, many lookups at once, and shutting down with lookups in flight.
/// Timings are loose: they check that the deadline holds, not how fast anything is.
@Suite("UnboundResolver deadlines and threads")
struct DeadlineTests {
    /// Silent for names starting with "silent"; for `host<N>.slow.scripted` the address
    /// 10.0.x.y encoding N, after the delay; 192.0.2.1 at once for anything else.
    static func rules(delayMilliseconds: Int) -> ScriptedDNSServer.Rules {
        { question in
            if question.name.hasPrefix("silent") { return .silence }
            guard question.type == DNSWire.RRType.a else { return .answer() }
            let isSlow = question.name.hasPrefix("host") && question.name.hasSuffix(".slow.scripted")
            if isSlow, let number = Int(question.name.dropFirst(4).prefix { $0.isNumber }) {
                let address: [UInt8] = [10, 0, UInt8(number / 256), UInt8(number % 256)]
                return .answer(records: [DNSWire.Record(type: DNSWire.RRType.a, data: address)],
                               delayMilliseconds: delayMilliseconds)
            }
            return .answer(records: [DNSWire.Record(type: DNSWire.RRType.a, data: DNSWire.a("192.0.2.1"))])
        }
    }

    static func expectedAddress(_ number: Int) -> DNSAnswer {
        .records(["10.0.\(number / 256).\(number % 256)"])
    }

    @Test("a silent server: temporary failure at the deadline")
    func silentServer() throws {
        let server = try ScriptedDNSServer { _ in .silence }
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 500)
        defer { resolver.shutdown() }
        let start = secondsNow()
        let answer = resolver.lookup("anything.scripted", type: .a)
        let elapsed = secondsNow() - start
        #expect(answer == .temporaryFailure("timeout after 500 ms"))
        #expect(elapsed >= 0.45 && elapsed < 1.5, "took \(elapsed) s")
        #expect(resolver.statistics == .init(lookups: 1, timeouts: 1))
    }

    @Test("an answer slower than libunbound's first retry but inside the deadline is used")
    func slowAnswerInsideDeadline() throws {
        let server = try ScriptedDNSServer(rules: Self.rules(delayMilliseconds: 600))
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 4000)
        defer { resolver.shutdown() }
        #expect(resolver.lookup("host7.slow.scripted", type: .a) == Self.expectedAddress(7))
    }

    @Test("an answer slower than the deadline is a timeout")
    func slowAnswerAfterDeadline() throws {
        let server = try ScriptedDNSServer(rules: Self.rules(delayMilliseconds: 1500))
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 400)
        defer { resolver.shutdown() }
        let start = secondsNow()
        #expect(resolver.lookup("host8.slow.scripted", type: .a) == .temporaryFailure("timeout after 400 ms"))
        #expect(secondsNow() - start < 1.4)
    }

    @Test("a name that timed out does not spoil the server for other names")
    func timeoutDoesNotPoison() throws {
        let server = try ScriptedDNSServer(rules: Self.rules(delayMilliseconds: 0))
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 500)
        defer { resolver.shutdown() }
        #expect(resolver.lookup("silent1.scripted", type: .a) == .temporaryFailure("timeout after 500 ms"))
        #expect(resolver.lookup("good1.scripted", type: .a) == .records(["192.0.2.1"]))
        // Several silent names at once, then more good names and the first silent one again.
        let silent = (2...6).map { "silent\($0).scripted" }
        let answers = runConcurrently(silent.count) { resolver.lookup(silent[$0], type: .a) }
        #expect(answers.allSatisfy { $0 == .temporaryFailure("timeout after 500 ms") })
        for number in 2...4 {
            let start = secondsNow()
            #expect(resolver.lookup("good\(number).scripted", type: .a) == .records(["192.0.2.1"]))
            #expect(secondsNow() - start < 0.4)
        }
        #expect(resolver.lookup("silent1.scripted", type: .a) == .temporaryFailure("timeout after 500 ms"))
        #expect(resolver.lookup("good5.scripted", type: .a) == .records(["192.0.2.1"]))
        #expect(resolver.statistics == .init(lookups: 12, timeouts: 7))
    }

    @Test("200 lookups from 200 threads against a server that answers after 300 ms")
    func manyThreads() throws {
        let server = try ScriptedDNSServer(rules: Self.rules(delayMilliseconds: 300))
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 10_000)
        defer { resolver.shutdown() }
        let start = secondsNow()
        let answers = runConcurrently(200) { resolver.lookup("host\($0).slow.scripted", type: .a) }
        let elapsed = secondsNow() - start
        for (number, answer) in answers.enumerated() {
            #expect(answer == Self.expectedAddress(number), "host\(number): \(answer)")
        }
        #expect(elapsed < 10, "took \(elapsed) s")
        #expect(resolver.statistics == .init(lookups: 200, timeouts: 0))
    }

    @Test("answers arriving just at the deadline: cancel and callback race without harm")
    func cancelRacesCallback() throws {
        let server = try ScriptedDNSServer(rules: Self.rules(delayMilliseconds: 200))
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 200)
        defer { resolver.shutdown() }
        let answers = runConcurrently(100) { resolver.lookup("host\($0 + 1000).slow.scripted", type: .a) }
        for (index, answer) in answers.enumerated() {
            let fine = answer == Self.expectedAddress(index + 1000) || answer == .temporaryFailure("timeout after 200 ms")
            #expect(fine, "host\(index + 1000): \(answer)")
        }
    }

    @Test("shutdown with lookups in flight wakes every caller")
    func shutdownInFlight() throws {
        let server = try ScriptedDNSServer { _ in .silence }
        defer { server.stop() }
        let resolver = try makeResolver([server.address], timeoutMilliseconds: 20_000)
        let start = secondsNow()
        let stopper = Thread {
            Thread.sleep(forTimeInterval: 0.3)
            resolver.shutdown()
        }
        stopper.start()
        let answers = runConcurrently(30) { resolver.lookup("silent\($0).scripted", type: .a) }
        #expect(secondsNow() - start < 3)
        #expect(answers.allSatisfy { $0 == .temporaryFailure("the DNS resolver was shut down") })
        #expect(resolver.lookup("later.scripted", type: .a) == .temporaryFailure("the DNS resolver is shut down"))
        resolver.shutdown()
    }

    @Test("releasing a resolver whose timed-out questions are still open in libunbound")
    func releaseWithOpenQuestions() throws {
        let server = try ScriptedDNSServer { _ in .silence }
        defer { server.stop() }
        do {
            let resolver = try makeResolver([server.address], timeoutMilliseconds: 100)
            let answers = runConcurrently(10) { resolver.lookup("silent\($0).scripted", type: .a) }
            #expect(answers.allSatisfy { $0 == .temporaryFailure("timeout after 100 ms") })
            // The last reference goes here, without shutdown().
        }
        // And a resolver that never asked anything.
        _ = try makeResolver([server.address])
    }
}

/// Runs `body(0..<count)` on `count` threads at once and returns the results in order.
func runConcurrently<Result: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> Result) -> [Result] {
    let results = ConcurrentResults<Result>()
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            let value = body(index)
            results.lock.withLock { results.values[index] = value }
            group.leave()
        }
        thread.stackSize = 512 * 1024
        thread.start()
    }
    group.wait()
    return (0..<count).map { results.values[$0]! }
}

private final class ConcurrentResults<Value>: @unchecked Sendable {
    let lock = NSLock()
    var values: [Int: Value] = [:]
}
