import Foundation
@testable import HeloPolicy

/// A resolver for tests: a zone of names and record types with their answers, and a record of
/// every question asked, in order. Names are matched case-insensitively, as DNS matches them,
/// and with or without one trailing dot;
/// a listed name answers "not found" for the types it does not list (NODATA), an unlisted name
/// answers "not found" (NXDOMAIN). Safe to call from any thread.
final class ScriptedResolver: HeloResolver, @unchecked Sendable {
    typealias Zone = [String: [DNSRecordType: DNSAnswer]]

    /// One question as the rule core asked it (name in its original case).
    struct Question: Hashable, Sendable, CustomStringConvertible {
        let name: String
        let type: DNSRecordType
        var description: String { "\(type.rawValue) \(name)" }
    }

    private let zone: Zone
    private let lock = NSLock()
    private var asked: [Question] = []

    init(_ zone: Zone) {
        var lowered: Zone = [:]
        for (name, records) in zone { lowered[name.lowercased(), default: [:]].merge(records) { $1 } }
        self.zone = lowered
    }

    /// The same answer for every record type, e.g. a server that fails for the whole name.
    static func every(_ answer: DNSAnswer) -> [DNSRecordType: DNSAnswer] {
        [.a: answer, .aaaa: answer, .mx: answer, .ns: answer, .txt: answer]
    }

    func lookup(_ name: String, type: DNSRecordType) -> DNSAnswer {
        lock.lock()
        asked.append(Question(name: name, type: type))
        lock.unlock()
        // "name." and "name" are the same absolute name to a resolver.
        var key = name.lowercased()
        if key.count > 1, key.hasSuffix(".") { key.removeLast() }
        return zone[key]?[type] ?? .notFound
    }

    /// Every question so far, in order.
    var questions: [Question] {
        lock.lock()
        defer { lock.unlock() }
        return asked
    }

    /// The questions so far written as `TYPE name`.
    var questionTexts: [String] { questions.map(\.description) }

    /// The test zone of postfix-helo-semantics §8.1 (the `reject_unknown_helo_hostname` column).
    static func section81Zone() -> ScriptedResolver {
        ScriptedResolver([
            "good.example.test": [.a: .records(["192.0.2.10"])],
            "v6only.example.test": [.aaaa: .records(["2001:db8::10"])],
            "mxonly.example.test": [.mx: .records(["mx.example.test"])],
            "nullmx.example.test": [.mx: .nullMX],
            "nodata.example.test": [.txt: .records(["only text here"])],
            // A CNAME to good.example.test: resolvers follow it and answer with good's records.
            "cname.example.test": [.a: .records(["192.0.2.10"])],
            "tempfail.example.test": every(.temporaryFailure("SERVFAIL")),
        ])
    }
}
