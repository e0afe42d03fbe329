import Foundation
import Glibc
import MilterKit
@testable import MilterTesting
import Testing

/// Whatever a client on the internet says reaches heloguard through the MTA: HELO names, sender
/// and recipient addresses, macros such as the client's PTR name (Sendmail passes any bytes).
/// This plays thousands of milter sessions in valid command orders with random contents —
/// random bytes, 4 KB fields, `%`, CR/LF, 8-bit, empty — through the built binary, at the byte
/// level (no UTF-8 clean-up on our side), and checks every answer.
///
/// Reproduce a run with `HELOGUARD_HOSTILE_SEED=<seed printed by the test>`; change its length
/// with `HELOGUARD_HOSTILE_SESSIONS` (default 3000, about a minute in CI).
@Suite("Hostile MTA-side input", .serialized)
struct HostileInputTests {
    static let config = """
        myhostname = mx.example.com
        mynetworks = 127.0.0.0/8
        impersonation_hostnames = mx.example.com
        impersonation_addresses = 192.0.2.25
        penalty_box_ttl = 1h
        smtpd_helo_restrictions = permit_mynetworks, reject_penalized_client, reject_impersonating_helo,
            check_helo_access pcre:@DIR@/helo.pcre, check_sender_access regexp:@DIR@/sender.regexp,
            check_recipient_access pcre:@DIR@/rcpt.pcre, reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname

        """
    /// Tables whose results carry the input into the reply text, and a few actions.
    static let files = [
        "helo.pcre": """
            /%/          REJECT percent in $0 is refused
            /^[0-9]/     DEFER_IF_PERMIT starts with a digit
            /x{3}/       550 5.7.1 triple x
            /^hold/      HOLD held
            /^disc/      DISCARD
            /^slow/      sleep 0, DUNNO

            """,
        "sender.regexp": "/[0-9]>?$/   REJECT sender ends in a digit\n/\\\\/ 450 4.1.8 backslash\n",
        "rcpt.pcre": "/^<?[aeiou]/  REJECT vowel first\n/[^[:ascii:]]/  554 5.7.1 not ASCII\n",
    ]

    struct Figures: CustomStringConvertible {
        var sessions = 0, replies = 0, refusals = 0, tempfails = 0, permanent = 0
        var warmRSS = 0, maxRSS = 0, finalRSS = 0
        var description: String {
            "\(sessions) sessions, \(replies) answers, \(refusals) custom replies (\(permanent) 5xx, \(tempfails) 4xx); "
                + "VmRSS after warm-up \(warmRSS) kB, max \(maxRSS) kB, final \(finalRSS) kB"
        }
    }

    @Test("thousands of sessions with random contents: every answer valid, no 5xx of our making, memory bounded")
    func randomSessions() throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["HELOGUARD_HOSTILE_SEED"].flatMap { UInt64($0) } ?? 20_261_206
        let count = environment["HELOGUARD_HOSTILE_SESSIONS"].flatMap { Int($0) } ?? 3000
        print("hostile input: seed \(seed), \(count) sessions (HELOGUARD_HOSTILE_SEED=\(seed) to repeat)")
        var random = SplitMix64(seed: seed)
        var figures = Figures()
        try HeloguardMilter.run(config: Self.config, files: Self.files) { milter in
            let pid = milter.process.processIdentifier
            for index in 0..<count {
                let session = HostileSession(random: &random, index: index)
                let answers: [RawAnswer]
                do {
                    answers = try session.play(socket: milter.socketPath)
                } catch {
                    Issue.record("session \(index) (seed \(seed)): \(error)\n\(session)\nlog tail:\n\(milter.log.suffix(2000))")
                    return
                }
                figures.sessions += 1
                for answer in answers {
                    figures.replies += 1
                    if let problem = answer.problem {
                        Issue.record("session \(index) (seed \(seed)), \(answer.event): \(problem)\n\(session)")
                        return
                    }
                    if case .reply(let text) = answer.kind {
                        figures.refusals += 1
                        if text.first == 0x35 { figures.permanent += 1 } else { figures.tempfails += 1 }
                    }
                }
                if index == min(300, count - 1) { figures.warmRSS = Self.residentKilobytes(pid) }
                if index % 250 == 0 { figures.maxRSS = max(figures.maxRSS, Self.residentKilobytes(pid)) }
            }
            figures.finalRSS = Self.residentKilobytes(pid)
            figures.maxRSS = max(figures.maxRSS, figures.finalRSS)
            print("hostile input: \(figures)")
            #expect(figures.refusals > count / 10, "the tables and checks refused too little to mean anything: \(figures)")
            // Bounded: the penalty box, caches and the HELO log queue have limits; after warm-up
            // the process may grow a little (allocator arenas of libmilter's threads), not with
            // every session.
            #expect(figures.maxRSS - figures.warmRSS < 64 * 1024, "\(figures)")
            // Still answering, with the exact reply.
            let client = try milter.client()
            #expect(try HeloguardProtocolTests.session(helos: ["foo"]).play(on: client)
                    == [HeloguardProtocolTests.mailOK, "RCPT <b@example.com>: \(HeloguardProtocolTests.nonFQDN)"])
            client.quit()
            #expect(!milter.log.contains("internal error"), "log tail:\n\(milter.log.suffix(3000))")
        }
    }

    static func residentKilobytes(_ pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
}

/// A small, seedable generator (SplitMix64): the same seed plays the same sessions.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One random session: the fields of each command as raw bytes (never NUL, which ends a field
/// in the milter protocol; anything else goes).
struct HostileSession: CustomStringConvertible {
    var clientName: [UInt8]
    var clientAddress: String
    var connectMacros: [([UInt8], [UInt8])]
    /// False: the connect event is left out when the milter negotiated it away, as Postfix does;
    /// its macros (the client's among them) still go.
    var sendsConnectEvent: Bool
    var helos: [[UInt8]]
    var transactions: [(sender: [UInt8], sasl: [UInt8]?, smtputf8: Bool, recipients: [[UInt8]])]

    init(random: inout SplitMix64, index: Int) {
        clientName = Self.field(&random)
        clientAddress = Int.random(in: 0..<8, using: &random) == 0 ? "192.0.2.25" : "203.0.113.\(Int.random(in: 1...254, using: &random))"
        connectMacros = [(Array("j".utf8), Self.field(&random)), (Array("{daemon_addr}".utf8), Self.field(&random)),
                         (Array("{daemon_name}".utf8), Self.field(&random)), (Array("v".utf8), Self.field(&random))]
        // The client macros a milter that skips the connect event reads: sometimes what the MTA
        // would send for this client, sometimes anything.
        let plausible = Bool.random(using: &random)
        connectMacros += [
            (Array("{client_name}".utf8), plausible ? Array("unknown".utf8) : Self.field(&random)),
            (Array("{client_addr}".utf8), plausible ? Array(clientAddress.utf8)
                : [Array("IPv6:2001:db8::25".utf8), Array("ipv6:".utf8) + Self.field(&random), Self.field(&random)]
                    .randomElement(using: &random)!),
            (Array("{client_port}".utf8), plausible ? Array("54321".utf8) : Self.field(&random)),
        ]
        sendsConnectEvent = Bool.random(using: &random)
        helos = (0..<Int.random(in: 0...2, using: &random)).map { _ in Self.field(&random) }
        transactions = (0..<Int.random(in: 1...2, using: &random)).map { _ in
            (sender: Self.field(&random), sasl: Bool.random(using: &random) ? nil : Self.field(&random),
             smtputf8: Bool.random(using: &random),
             recipients: (0..<Int.random(in: 1...3, using: &random)).map { _ in Self.field(&random) })
        }
    }

    /// Empty, a plausible name, ours, `%` runs, CR/LF, 8-bit (valid and invalid UTF-8), 4 KB.
    static func field(_ random: inout SplitMix64) -> [UInt8] {
        func bytes(_ count: Int, _ range: ClosedRange<UInt8>) -> [UInt8] {
            (0..<count).map { _ in UInt8.random(in: range, using: &random) }
        }
        switch Int.random(in: 0..<12, using: &random) {
        case 0: return []
        case 1: return Array("mail\(Int.random(in: 0...999, using: &random)).example.net".utf8)
        case 2: return Array(["mx.example.com", "[192.0.2.25]", "192.0.2.25", "localhost", "foo", "<postmaster>"]
                                .randomElement(using: &random)!.utf8)
        case 3: return bytes(Int.random(in: 1...40, using: &random), 0x20...0x7E)
        case 4: return bytes(Int.random(in: 1...60, using: &random), 1...255)
        case 5: return Array(String(repeating: "%", count: Int.random(in: 1...600, using: &random)).utf8)
                    + Array("%s%n%d%%".utf8)
        case 6: return Array("a.example\r\n550 5.7.1 injected\r\n".utf8) + bytes(4, 0x0A...0x0D)
        case 7: return Array("b\u{FC}cher.example".utf8) + [0xE9, 0xFF, 0xC3, 0x28, 0x80]
        case 8: return bytes(4096, 1...255)
        case 9: return bytes(4096, 0x20...0x7E)
        case 10: return Array("<".utf8) + bytes(Int.random(in: 0...30, using: &random), 0x21...0x7E) + Array(">".utf8)
        default: return Array("ünïcødé-\u{1F600}.example.org".utf8)
        }
    }

    var description: String {
        func show(_ bytes: [UInt8]) -> String {
            let text = bytes.prefix(60).map { (0x20...0x7E).contains($0) ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
            return bytes.count > 60 ? text + "… (\(bytes.count) bytes)" : text
        }
        return "  connect \(show(clientName))[\(clientAddress)]\(sendsConnectEvent ? "" : " (macros only)")\n" + helos.map { "  HELO \(show($0))\n" }.joined()
            + transactions.map { t in "  MAIL \(show(t.sender))\n" + t.recipients.map { "  RCPT \(show($0))\n" }.joined() }.joined()
    }

    /// Plays the session as Postfix orders it (a repeated HELO is followed by ABORT, a second
    /// transaction by ABORT) and returns the milter's answer to each event that gets one.
    func play(socket path: String) throws -> [RawAnswer] {
        let client = try RawMilterClient(path: path)
        defer { client.quit() }
        var answers: [RawAnswer] = []
        /// Records the answer; true when the MTA would go on with the next command.
        func record(_ answer: RawAnswer?) -> Bool {
            guard let answer else { return true }
            answers.append(answer)
            return answer.kind == .continue || (answer.event == "rcpt" && answer.kind != .accept && answer.kind != .discard)
        }
        try client.negotiate()
        let connect = [UInt8]() + clientName + [0, UInt8(ascii: "4"), 0xD4, 0x31] + Array(clientAddress.utf8) + [0]
        if sendsConnectEvent || !client.steps.contains(.noConnect) {
            guard record(try client.event(code: "C", payload: connect, macros: connectMacros, noReply: .noReplyConnect, name: "connect"))
            else { return answers }
        } else {
            try client.macros(code: "C", connectMacros)
        }
        for (index, helo) in helos.enumerated() {
            guard record(try client.event(code: "H", payload: helo + [0], macros: [], noReply: .noReplyHelo, name: "HELO"))
            else { return answers }
            if index > 0 { try client.send("A", []) }
        }
        for (number, transaction) in transactions.enumerated() {
            if number > 0 { try client.send("A", []) }
            var macros: [([UInt8], [UInt8])] = [(Array("{mail_addr}".utf8), transaction.sender)]
            if let sasl = transaction.sasl {
                macros += [(Array("{auth_type}".utf8), Array("PLAIN".utf8)), (Array("{auth_authen}".utf8), sasl)]
            }
            let mail = transaction.sender + [0] + (transaction.smtputf8 ? Array("SMTPUTF8".utf8) + [0] : [])
            // A refused MAIL gets no RCPT (Postfix); the next transaction may follow.
            guard record(try client.event(code: "M", payload: mail, macros: macros, noReply: .noReplyMail, name: "MAIL"))
            else { continue }
            for (index, recipient) in transaction.recipients.enumerated() {
                let rcptMacros: [([UInt8], [UInt8])] = [(Array("{rcpt_addr}".utf8), recipient)]
                    + (index > 0 ? [(Array("i".utf8), Array("4Fq1XY2abcz".utf8))] : [])
                // After ACCEPT or DISCARD the MTA asks nothing more about this message.
                guard record(try client.event(code: "R", payload: recipient + [0], macros: rcptMacros, noReply: .noReplyRecipient, name: "RCPT"))
                else { break }
            }
        }
        return answers
    }
}

/// A milter answer and what is wrong with it, if anything.
struct RawAnswer {
    enum Kind: Equatable {
        case `continue`, accept, discard, reject, tempfail
        case reply([UInt8])
        case other(UInt8)
    }
    let event: String
    let kind: Kind

    /// Why the answer is not one the MTA relays as a valid SMTP reply, or one of our own failures.
    var problem: String? {
        switch kind {
        case .continue, .accept, .discard: return nil
        case .tempfail: return nil
        case .reject: return "a plain reject (5xx) without heloguard's own text"
        case .other(let code): return "unexpected answer letter \(UnicodeScalar(code))"
        case .reply(let bytes): return Self.replyProblem(bytes)
        }
    }

    /// libmilter's SMFIR_REPLYCODE text: lines joined by CR LF, each `ddd-` or `ddd ` (last),
    /// the same code on every line, an enhanced code of the same class, 7-bit printable, each
    /// line within libmilter's 980 bytes of text, `%` doubled, no 5xx of our making.
    static func replyProblem(_ bytes: [UInt8]) -> String? {
        guard bytes.allSatisfy({ (0x20...0x7E).contains($0) || $0 == 0x0D || $0 == 0x0A }) else {
            return "bytes outside 7-bit printable: \(bytes.filter { !(0x20...0x7E).contains($0) }.prefix(8))"
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        guard (1...32).contains(lines.count) else { return "\(lines.count) lines" }
        let code = String(lines[0].prefix(3))
        guard code.count == 3, code.allSatisfy(\.isNumber), code.hasPrefix("4") || code.hasPrefix("5") else { return "bad code in \(text.prefix(80))" }
        for (index, line) in lines.enumerated() {
            let separator = index == lines.count - 1 ? " " : "-"
            guard line.hasPrefix(code + separator) else { return "line \(index) does not start with \(code)\(separator): \(line.prefix(80))" }
            guard !line.contains("\r"), !line.contains("\n") else { return "CR or LF inside a line" }
            guard line.utf8.count <= 4 + 10 + 980 else { return "line of \(line.utf8.count) bytes" }
            guard PostfixRelay.isWellFormed(line) else { return "enhanced code class differs: \(line.prefix(80))" }
            var run = 0
            for character in line + "." {
                if character == "%" { run += 1; continue }
                if run % 2 == 1 { return "a single % (the MTA would treat it as a format): \(line.prefix(80))" }
                run = 0
            }
        }
        // The text as the client reads it, lines joined without their code and enhanced code.
        let joined = lines.map { line -> Substring in
            let rest = line.dropFirst(4)
            let first = rest.prefix { $0 != " " }
            return first.contains(".") && first.first?.isNumber == true ? rest.dropFirst(first.count + 1) : rest
        }.joined()
        if joined.contains("internal error") { return "heloguard's own failure: \(text.prefix(120))" }
        if code.hasPrefix("5"), !joined.contains("rejected") {
            return "a 5xx that is not a policy refusal: \(text.prefix(120))"
        }
        return nil
    }
}

/// The MTA side of the milter protocol at the byte level: fields are sent exactly as given,
/// with no UTF-8 repair (MTAClient takes Swift strings, which cannot carry invalid UTF-8).
final class RawMilterClient {
    private let connection: MilterConnection
    private(set) var steps = MilterSteps()

    init(path: String) throws {
        connection = try MilterConnection(connectingTo: try MilterSocket(parsing: "unix:" + path), timeout: .seconds(15))
    }

    func send(_ code: Character, _ payload: [UInt8]) throws {
        try connection.write(MilterPacket(code: code.asciiValue!, payload: payload))
    }

    func negotiate() throws {
        var payload: [UInt8] = []
        for value in [UInt32(6), UInt32(MilterActions.postfixOffer.rawValue), UInt32(MilterSteps.postfixOffer.rawValue)] {
            payload += withUnsafeBytes(of: value.bigEndian, Array.init)
        }
        try send("O", payload)
        let reply = try connection.read(waitingFor: "the negotiation")
        guard reply.code == UInt8(ascii: "O"), reply.payload.count >= 12 else { throw HarnessError("bad negotiation reply \(reply)") }
        steps = MilterSteps(rawValue: reply.payload[8..<12].reduce(0) { $0 << 8 | UInt($1) })
    }

    /// Sends the event's macros, then the event; returns the answer unless the milter
    /// negotiated not to answer this event.
    /// The macro packet ('D') that goes before the event `code`.
    func macros(code: Character, _ macros: [([UInt8], [UInt8])]) throws {
        var macroPayload: [UInt8] = [code.asciiValue!]
        for (macroName, value) in macros { macroPayload += macroName + [0] + value + [0] }
        try send("D", macroPayload)
    }

    func event(code: Character, payload: [UInt8], macros: [([UInt8], [UInt8])], noReply: MilterSteps, name: String) throws -> RawAnswer? {
        try self.macros(code: code, macros)
        try send(code, payload)
        if steps.contains(noReply) { return nil }
        let packet = try connection.read(waitingFor: "the answer to \(name)")
        let kind: RawAnswer.Kind = switch packet.code {
        case UInt8(ascii: "c"): .continue
        case UInt8(ascii: "a"): .accept
        case UInt8(ascii: "d"): .discard
        case UInt8(ascii: "r"): .reject
        case UInt8(ascii: "t"): .tempfail
        case UInt8(ascii: "y"): .reply(Array(packet.payload.prefix { $0 != 0 }))
        default: .other(packet.code)
        }
        return RawAnswer(event: name.lowercased(), kind: kind)
    }

    func quit() {
        try? send("Q", [])
        connection.close()
    }
}
