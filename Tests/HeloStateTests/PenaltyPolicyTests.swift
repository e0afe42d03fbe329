import Foundation
import Testing
import HeloPolicy
@testable import HeloState

/// Time in the box: first offence, doubling for repeat offenders, the cap, expiry and forgetting,
/// all on a fake clock (every call takes the time).
@Suite("PenaltyPolicy and PenaltyBox")
struct PenaltyPolicyTests {
    struct Backoff: Sendable, CustomTestStringConvertible {
        let label: String
        let offence: Int
        let duration: TimeInterval
        var testDescription: String { label }
    }

    static let backoffs: [Backoff] = [
        Backoff(label: "first offence: 24 h", offence: 1, duration: 1 * day),
        Backoff(label: "second: 2 days", offence: 2, duration: 2 * day),
        Backoff(label: "third: 4 days", offence: 3, duration: 4 * day),
        Backoff(label: "fourth: capped at 7 days", offence: 4, duration: 7 * day),
        Backoff(label: "fiftieth: still 7 days", offence: 50, duration: 7 * day),
    ]

    @Test("default backoff", arguments: backoffs)
    func backoff(_ testCase: Backoff) {
        #expect(PenaltyPolicy().duration(ofOffence: testCase.offence) == testCase.duration)
    }

    @Test("a first offence boxes for the ttl; the box refuses until the expiry, not after")
    func firstOffenceAndExpiry() {
        let box = PenaltyBox(policy: PenaltyPolicy(ttl: hour))
        let client = address("192.0.2.1")
        let entry = box.penalize(client, reason: "reject_impersonating_helo: helo=<mx.example.com>", at: at(0))
        #expect(entry.offences == 1)
        #expect(entry.firstSeen == at(0))
        #expect(entry.expires == at(hour))
        #expect(box.lookup(client, at: at(hour - 1)) == entry)
        #expect(box.lookup(client, at: at(hour)) == nil)
        #expect(box.lookup(address("192.0.2.2"), at: at(1)) == nil)
        #expect(active(in: box, ["192.0.2.1", "192.0.2.2"], at: at(hour)).isEmpty)
    }

    struct Repeat: Sendable, CustomTestStringConvertible {
        let label: String
        /// Seconds after the first offence at 0 when the second comes.
        let secondAt: TimeInterval
        let offences: Int
        let expires: TimeInterval
        var testDescription: String { label }
    }

    static let repeats: [Repeat] = [
        Repeat(label: "again while boxed: doubled from now", secondAt: 12 * hour, offences: 2,
               expires: 12 * hour + 2 * day),
        Repeat(label: "again within the memory after expiry: doubled", secondAt: 3 * day, offences: 2,
               expires: 3 * day + 2 * day),
        Repeat(label: "again after the memory: a new first offence", secondAt: 1 * day + 7 * day, offences: 1,
               expires: 8 * day + 1 * day),
    ]

    @Test("repeat offences", arguments: repeats)
    func repeatOffence(_ testCase: Repeat) {
        let box = PenaltyBox()
        let client = address("2001:db8:1:2::1")
        box.penalize(client, reason: "first", at: at(0))
        let entry = box.penalize(address("2001:db8:1:2::2"), reason: "second", at: at(testCase.secondAt))
        #expect(entry.offences == testCase.offences)
        #expect(entry.expires == at(testCase.expires))
        #expect(entry.reason == "second")
        #expect(entry.firstSeen == (testCase.offences == 1 ? at(testCase.secondAt) : at(0)))
        #expect(box.lookup(client, at: at(testCase.secondAt)) == entry)
    }

    @Test("a persistent offender reaches the cap and stays there")
    func capReached() {
        let box = PenaltyBox(policy: PenaltyPolicy(ttl: hour, maxTTL: 5 * hour))
        let client = address("198.51.100.9")
        var expiries: [TimeInterval] = []
        for step in 0..<5 {
            let now = TimeInterval(step) * 60
            expiries.append(box.penalize(client, reason: "x", at: at(now)).expires.timeIntervalSince(at(now)))
        }
        #expect(expiries == [hour, 2 * hour, 4 * hour, 5 * hour, 5 * hour])
    }

    @Test("remove takes a key out; an expired entry stops boxing but stays remembered")
    func removeAndRemember() throws {
        let box = PenaltyBox(policy: PenaltyPolicy(ttl: hour, memory: hour))
        box.penalize(address("192.0.2.2"), reason: "b", at: at(10))
        box.penalize(address("192.0.2.1"), reason: "a", at: at(0))
        box.penalize(address("192.0.2.3"), reason: "c", at: at(10))
        let all = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
        #expect(active(in: box, all, at: at(20)) == all)
        let removed = box.remove(try PenaltyKey(parsing: "192.0.2.2"))
        #expect(removed?.reason == "b")
        #expect(box.lookup(address("192.0.2.2"), at: at(20)) == nil)
        #expect(box.count == 2)
        // .1 expired at 1 h: no longer boxed, still counted (remembered for the backoff).
        #expect(active(in: box, all, at: at(hour + 5)) == ["192.0.2.3"])
        #expect(box.count == 2)
        #expect(box.penalize(address("192.0.2.1"), reason: "a", at: at(hour + 5)).offences == 2)
    }

    @Test("a full box makes room by dropping the entries that expire soonest")
    func boundedEviction() {
        let box = PenaltyBox(policy: PenaltyPolicy(ttl: hour, maxTTL: 100 * hour, maxEntries: 3))
        // Expiries: .1 at 1 h, .2 at 1 h + 10 s, .3 repeat → 2 h + 20 s.
        box.penalize(address("192.0.2.1"), reason: "", at: at(0))
        box.penalize(address("192.0.2.2"), reason: "", at: at(10))
        box.penalize(address("192.0.2.3"), reason: "", at: at(15))
        box.penalize(address("192.0.2.3"), reason: "", at: at(20))
        #expect(box.count == 3)
        // Updating a key already in the box evicts nobody.
        box.penalize(address("192.0.2.2"), reason: "", at: at(30))
        #expect(box.count == 3)
        #expect(box.lookup(address("192.0.2.1"), at: at(40)) != nil)
        // .1 (1 h) expires soonest, so the fourth key pushes it out. For the fifth, the newest
        // entry .4 (1 h + 40 s) goes before the older repeat offenders .3 (2 h + 20 s) and
        // .2 (2 h + 30 s): the order is by expiry, not by arrival.
        box.penalize(address("192.0.2.4"), reason: "", at: at(40))
        #expect(box.lookup(address("192.0.2.1"), at: at(41)) == nil)
        box.penalize(address("192.0.2.5"), reason: "", at: at(50))
        #expect(box.lookup(address("192.0.2.4"), at: at(51)) == nil)
        #expect(active(in: box, (1...5).map { "192.0.2.\($0)" }, at: at(60)) == ["192.0.2.2", "192.0.2.3", "192.0.2.5"])
    }

    @Test("bounded under churn: many keys through a small box")
    func churn() {
        let box = PenaltyBox(policy: PenaltyPolicy(ttl: hour, maxEntries: 100))
        for index in 0..<5000 {
            box.penalize(address("10.0.\(index / 256).\(index % 256)"), reason: "", at: at(TimeInterval(index)))
        }
        #expect(box.count == 100)
        // The survivors are the 100 latest, which expire last.
        let kept = active(in: box, (0..<5000).map { "10.0.\($0 / 256).\($0 % 256)" }, at: at(5000))
        #expect(kept.count == 100)
        #expect(kept.first == "10.0.19.36")
        #expect(kept.last == "10.0.19.135")
    }

    @Test("replaceAll loads the store's entries within the bound")
    func replaceAll() throws {
        let box = PenaltyBox(policy: PenaltyPolicy(maxEntries: 2))
        let entries = try [("192.0.2.1", 30.0), ("192.0.2.2", 10.0), ("192.0.2.3", 20.0)].map { text, expiry in
            PenaltyEntry(key: try PenaltyKey(parsing: text), reason: "", firstSeen: at(0), expires: at(expiry),
                         offences: 1)
        }
        box.replaceAll(with: entries)
        #expect(active(in: box, ["192.0.2.1", "192.0.2.2", "192.0.2.3"], at: at(0)) == ["192.0.2.1", "192.0.2.3"])
    }

    /// Those of `candidates` the box holds active at `now`, in the order given.
    private func active(in box: PenaltyBox, _ candidates: [String], at now: Date) -> [String] {
        candidates.filter { box.lookup(address($0), at: now) != nil }
    }
}
