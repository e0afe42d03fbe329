import Foundation
import HeloGuard
import HeloPolicy
@testable import HeloState
import MilterKit
import MilterTesting
import Testing

/// What a session writes to the HELO log for `heloguard stats`: the client's reverse name is
/// the MTA's verified name, else the `{client_ptr}` macro, else none (NULL). On the penalty
/// tests' temporary state directory and configuration.
extension PenaltySessionTests {
    /// The MTA's view of one client and the reverse name the log should keep.
    struct ReverseNameCase: Sendable, CustomTestStringConvertible {
        let testDescription: String
        let hostname: String
        let clientPTR: String?
        let expected: String?
    }

    static let cases: [ReverseNameCase] = [
        ReverseNameCase(testDescription: "verified name, no PTR macro: the verified name",
                        hostname: "mail.example.org", clientPTR: nil, expected: "mail.example.org"),
        ReverseNameCase(testDescription: "unverified ([address]) with a PTR macro: the PTR name",
                        hostname: "[203.0.113.7]", clientPTR: "ptr.example.net", expected: "ptr.example.net"),
        ReverseNameCase(testDescription: "both: the verified name wins",
                        hostname: "mail.example.org", clientPTR: "other.example.net", expected: "mail.example.org"),
        ReverseNameCase(testDescription: "neither (an empty PTR macro counts as none): no reverse name",
                        hostname: "[203.0.113.7]", clientPTR: "", expected: nil),
    ]

    @Test("a session records the client's reverse name in the HELO log", arguments: cases)
    func recordsReverseName(_ example: ReverseNameCase) throws {
        let configuration = try config().make()
        #expect(configuration.penalties.prepare() == nil)
        let session = HeloGuardSession(configuration: configuration, log: log)
        let context = RecordingContext()
        if let ptr = example.clientPTR { context.macros["{client_ptr}"] = ptr }
        let client = MilterClient(hostname: example.hostname, address: "203.0.113.7", port: 40000, family: .inet4)
        _ = session.connect(client: client, context: context)
        _ = session.helo("mx.example.com", context: context)
        _ = session.mail(["<a@example.org>"], context: context)
        _ = session.recipient(["<b@example.net>"], context: context)
        session.close(context: context)
        #expect(configuration.penalties.shutdown())

        let db = try SQLiteConnection(path: directory + "/state/heloguard.sqlite")
        defer { db.close() }
        var rows: [String] = []
        try db.run("SELECT client, helo, verdict, restriction, coalesce(client_name, '(none)') FROM helo_log") { row in
            rows.append((0..<5).map { row.text($0) ?? "(null)" }.joined(separator: " "))
        }
        #expect(rows == ["203.0.113.7 mx.example.com reject reject_impersonating_helo \(example.expected ?? "(none)")"])
    }
}
