import Foundation
import Glibc
import MilterTesting
import Testing

/// Macro packets with a name but no value (an odd number of strings) from a broken or hostile
/// MTA. libmilter's own smfi_getsymval reads past the end of such a list and crashed heloguard in
/// its connect callback; heloguard must answer such a session and keep serving.
@Suite("Macro packets with a name but no value")
struct MalformedMacroTests {
    static let config = """
        smtpd_helo_restrictions = reject_impersonating_helo, reject_non_fqdn_helo_hostname

        """

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        /// Macro packets ('D') sent right before CONNECT.
        let connectMacros: [[UInt8]]
        /// Macro packet sent right before MAIL, if any.
        let mailMacros: [UInt8]?
        var testDescription: String { name }
    }

    /// `D` payload: the stage letter, then each string NUL-terminated.
    static func macros(_ stage: Character, _ strings: [String]) -> [UInt8] {
        var bytes = [stage.asciiValue!]
        for string in strings { bytes += Array(string.utf8) + [0] }
        return bytes
    }

    static let cases: [Case] = [
        // What a Python test client sent when it wrote "{daemon_addr}\0192.0.2.1\0": `\01` is an
        // octal escape, so the value ran into the name and the list had three strings.
        Case(name: "value glued to its name (three strings)",
             connectMacros: [macros("C", ["j", "mx.example.com", "{daemon_addr}\u{1}92.0.2.1"])], mailMacros: nil),
        Case(name: "a lone name", connectMacros: [macros("C", ["{daemon_addr}"])], mailMacros: nil),
        // The first packet's buffer is freed when the second replaces it and is then reused for the
        // third packet's (odd) list: the word after that list's end is the first packet's text, so
        // a walk past the end reads a wild pointer every time instead of by chance.
        Case(name: "odd list placed on reused memory (crashes reliably without the guard)",
             connectMacros: [
                macros("C", ["A", String(repeating: "B", count: 28) + String(repeating: "A", count: 6)]),
                macros("C", ["k", "v"]),
                macros("C", ["j", "mx.example.com", "{stray-name-without-a-value-" + String(repeating: "x", count: 30) + "}"]),
             ],
             mailMacros: nil),
        Case(name: "odd list at MAIL", connectMacros: [macros("C", ["j", "mx.example.com"])],
             mailMacros: macros("M", ["{auth_type}", "PLAIN", "{mail_addr}"])),
    ]

    @Test("heloguard answers the session and the next one", arguments: cases)
    func survives(_ testCase: Case) throws {
        try HeloguardMilter.run(config: Self.config) { milter in
            let replies = try RawSession.play(on: milter.socketPath, connectMacros: testCase.connectMacros,
                                              helo: "mail.sender.example", mailMacros: testCase.mailMacros)
            #expect(replies.last == "a", "replies \(replies); log:\n\(milter.log)")
            // The process still serves a well-formed session.
            let again = try RawSession.play(on: milter.socketPath, connectMacros: [Self.macros("C", ["j", "mx.example.com"])],
                                            helo: "mail.sender.example", mailMacros: nil)
            #expect(again.last == "a", "replies \(again); log:\n\(milter.log)")
        }
    }

    @Test("A macro after a stray name at a later stage is still read")
    func valuesStillRead() throws {
        // {daemon_addr} is only known from the MTA: HELO [192.0.2.1] impersonates us only if it was read.
        try HeloguardMilter.run(config: Self.config) { milter in
            let list = Self.macros("C", ["j", "mx.example.com", "{daemon_addr}", "192.0.2.1", "{stray}"])
            let replies = try RawSession.play(on: milter.socketPath, connectMacros: [list], helo: "[192.0.2.1]",
                                              mailMacros: nil, recipient: "<b@example.com>")
            #expect(replies.contains { $0.hasPrefix("y550") }, "replies \(replies); log:\n\(milter.log)")
        }
    }
}

/// A milter session written byte by byte (MTAClient only sends well-formed packets): negotiation
/// offering everything, then macros, CONNECT, HELO, MAIL and optionally RCPT in one write, the
/// way a peer that does not wait for replies sends them. Returns the replies after negotiation,
/// each as its letter followed by its payload's text.
enum RawSession {
    static func play(on path: String, connectMacros: [[UInt8]], helo: String, mailMacros: [UInt8]?,
                     recipient: String? = nil) throws -> [String] {
        let socket = try connect(path)
        defer { close(socket) }
        var offer: [UInt8] = []
        for value: UInt32 in [6, 0x1ff, 0x1f_ffff] { offer += withUnsafeBytes(of: value.bigEndian, Array.init) }
        try send(socket, MilterPacket(code: UInt8(ascii: "O"), payload: offer).encoded())
        var pending: [UInt8] = []
        let agreement = try read(socket, &pending)
        guard agreement.code == UInt8(ascii: "O"), agreement.payload.count >= 12 else {
            throw HarnessError("negotiation answered with \(agreement)")
        }
        let steps = agreement.payload[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        var bytes: [UInt8] = []
        func add(_ code: Character, _ payload: [UInt8]) {
            bytes += MilterPacket(code: code.asciiValue!, payload: payload).encoded()
        }
        for list in connectMacros { add("D", list) }
        add("C", Array("[203.0.113.7]".utf8) + [0, UInt8(ascii: "4"), 0x0f, 0xa0] + Array("203.0.113.7".utf8) + [0])
        add("H", Array(helo.utf8) + [0])
        if let mailMacros { add("D", mailMacros) }
        add("M", Array("<a@example.org>".utf8) + [0])
        // Replies come for the steps not negotiated reply-less (SMFIP_NR_CONN/HELO/MAIL/RCPT).
        var expected = [0x1000, 0x2000, 0x4000].filter { steps & UInt32($0) == 0 }.count
        if let recipient {
            add("R", Array(recipient.utf8) + [0])
            if steps & 0x8000 == 0 { expected += 1 }
        }
        try send(socket, bytes)
        var replies: [String] = []
        while replies.count < expected {
            let reply = try read(socket, &pending)
            replies.append(String(UnicodeScalar(reply.code)) + String(decoding: reply.payload.filter { $0 != 0 }, as: UTF8.self))
            // After an accept or a refusal at MAIL, libmilter ignores the rest of the transaction.
            if reply.code != UInt8(ascii: "c") { break }
        }
        return replies
    }

    private static func connect(_ path: String) throws -> Int32 {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket: \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let name = Array(path.utf8.prefix(buffer.count - 1))
            buffer.copyBytes(from: name)
            buffer[name.count] = 0
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            close(descriptor)
            throw HarnessError("cannot connect to \(path): errno \(errno)")
        }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return descriptor
    }

    private static func send(_ socket: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw HarnessError("send failed: errno \(errno)") }
            offset += written
        }
    }

    /// One packet; an error when the milter closes the connection or says nothing for 10 s
    /// (a crashed heloguard does either).
    private static func read(_ socket: Int32, _ buffer: inout [UInt8]) throws -> MilterPacket {
        while true {
            if let (packet, length) = try MilterPacket.decode(buffer[...]) {
                buffer.removeFirst(length)
                return packet
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { throw HarnessError("the milter sent no reply (recv \(count), errno \(errno))") }
            buffer += chunk[0..<count]
        }
    }
}
