import Foundation
import Glibc
@testable import MilterKit
import Synchronization
import Testing

@Suite("MilterReply: what libmilter and the MTA accept")
struct MilterReplyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let line: String
        let code: String
        let enhanced: String?
        let text: String
        var testDescription: String { line }
    }

    @Test("a one-line reply splits into code, enhanced code and text", arguments: [
        Case(line: "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname", code: "504", enhanced: "5.5.2",
             text: "<foo>: Helo command rejected: need fully-qualified hostname"),
        Case(line: "450 4.7.1 <x>: Helo command rejected: Host not found", code: "450", enhanced: "4.7.1",
             text: "<x>: Helo command rejected: Host not found"),
        Case(line: "550 no enhanced code", code: "550", enhanced: nil, text: "no enhanced code"),
        Case(line: "554 5.7.1", code: "554", enhanced: "5.7.1", text: ""),
    ])
    func splits(_ c: Case) throws {
        let reply = try MilterReply(line: c.line)
        #expect(reply.code == c.code)
        #expect(reply.enhancedCode == c.enhanced)
        #expect(reply.lines == [c.text])
        #expect(reply.isPermanent == c.code.hasPrefix("5"))
    }

    @Test("replies the MTA would refuse are refused here", arguments: [
        ("250 2.0.0 ok", MilterReply.Problem.badCode("250")),
        ("5x0 bad", .badCode("5x0")),
        ("5500 bad", .badCode("5500")),
        ("550 4.7.1 mismatched", .classMismatch(code: "550", enhancedCode: "4.7.1")),
        ("451 5.7.1 mismatched", .classMismatch(code: "451", enhancedCode: "5.7.1")),
    ])
    func refuses(_ line: String, _ problem: MilterReply.Problem) {
        #expect(throws: problem) { try MilterReply(line: line) }
    }

    @Test("percent signs are doubled on the wire, CR and LF never reach it")
    func wireText() throws {
        let reply = try MilterReply(code: "550", enhancedCode: "5.7.1", lines: ["100% sure\r\nno"])
        #expect(reply.wireLines == ["100%% sure  no"])
        #expect(reply.smtpLines == ["550 5.7.1 100% sure  no"])
    }

    @Test("a text longer than libmilter's 980-byte limit is split into lines, never inside %% or a character", arguments: [
        (String(repeating: "a", count: 2000), [980, 980, 40]),
        (String(repeating: "%", count: 600), [980, 220]),
        ("x" + String(repeating: "ü", count: 600) + String(repeating: "%", count: 200), [979, 22]),
        (String(repeating: "b", count: 980), [980]),
    ])
    func longText(_ text: String, _ sizes: [Int]) throws {
        let reply = try MilterReply(code: "504", enhancedCode: "5.5.2", lines: [text])
        let wire = reply.wireLines
        #expect(wire.map(\.utf8.count) == sizes)
        #expect(wire.joined() == text.replacingOccurrences(of: "ü", with: "?").replacingOccurrences(of: "%", with: "%%"))
        #expect(wire.allSatisfy { !$0.hasSuffix("%") || $0.hasSuffix("%%") })
    }

    struct EightBitCase: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let expected: String
        var testDescription: String { name }
    }

    /// Sendmail passes the PTR name it looked up, with whatever bytes it has; HELO, sender and
    /// recipient text reach replies through templates. None of it may make a reply 8-bit.
    @Test("reply text is 7-bit printable whatever bytes it was built from", arguments: [
        EightBitCase(name: "Latin-1 client name", bytes: Array("<caf".utf8) + [0xE9] + Array(".example>".utf8), expected: "<caf?.example>"),
        EightBitCase(name: "UTF-8 HELO name", bytes: Array("<bücher.example>".utf8), expected: "<b?cher.example>"),
        EightBitCase(name: "4-byte UTF-8", bytes: Array("a😀b".utf8), expected: "a?b"),
        EightBitCase(name: "lone continuation and 0xFF", bytes: [0x61, 0x80, 0xFF, 0x62], expected: "a??b"),
        EightBitCase(name: "controls, DEL and NUL", bytes: [0x61, 0x00, 0x09, 0x7F, 0x0D, 0x0A, 0x62], expected: "a     b"),
        EightBitCase(name: "percent and 8-bit together", bytes: [0x25, 0xC3, 0xA9, 0x25], expected: "%?%"),
    ])
    func sevenBit(_ c: EightBitCase) throws {
        let text = String(decoding: c.bytes, as: UTF8.self)
        let reply = try MilterReply(line: "550 5.7.1 " + text)
        #expect(reply.lines == [c.expected])
        let everyByte = (reply.smtpLines + reply.wireLines).flatMap(\.utf8)
        #expect(everyByte.allSatisfy { (0x20...0x7E).contains($0) })
        let multi = try MilterReply(code: "451", enhancedCode: "4.3.0", lines: [text, text])
        #expect(multi.lines == [c.expected, c.expected])
    }

    @Test("multi-line replies continue with a dash")
    func multiLine() throws {
        let reply = try MilterReply(code: "550", enhancedCode: "5.7.1", lines: ["first line", "second line"])
        #expect(reply.smtpLines == ["550-5.7.1 first line", "550 5.7.1 second line"])
    }

    @Test("a refusal travels with the status its class requires")
    func refuseStatus() throws {
        #expect(MilterResponse.refuse(try MilterReply(line: "554 5.7.1 no")) == .reject(try MilterReply(line: "554 5.7.1 no")))
        #expect(MilterResponse.refuse(try MilterReply(line: "450 4.7.1 later")) == .tempfail(try MilterReply(line: "450 4.7.1 later")))
    }
}

@Suite("MilterSocket: libmilter's socket specifications")
struct MilterSocketTests {
    @Test("accepted spellings", arguments: [
        ("unix:/run/heloguard/heloguard.sock", "/run/heloguard/heloguard.sock", false),
        ("local:/tmp/x.sock", "/tmp/x.sock", false),
        ("inet:8899@127.0.0.1", nil, true),
        ("inet:8899", nil, true),
        ("inet6:8899@::1", nil, true),
    ] as [(String, String?, Bool)])
    func accepted(_ text: String, _ path: String?, _ network: Bool) throws {
        let socket = try MilterSocket(parsing: text)
        #expect(socket.path == path)
        #expect(socket.isNetwork == network)
        #expect(socket.description == text)
    }

    @Test("refused spellings say why", arguments: [
        ("/run/heloguard.sock", "expected unix:/path"),
        ("tcp:8899@127.0.0.1", "expected unix:/path"),
        ("unix:relative.sock", "must be absolute"),
        ("inet:127.0.0.1:8899", "inet:port@host, not Postfix's inet:host:port"),
        ("inet:0@127.0.0.1", "from 1 to 65535"),
        ("inet:8899@", "empty host"),
        ("unix:/" + String(repeating: "a", count: 120), "shorter than 108 bytes"),
    ])
    func refused(_ text: String, _ reason: String) {
        do {
            _ = try MilterSocket(parsing: text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(error.description)")
        }
    }
}

/// The unix socket's owner is changed through a descriptor, never by a path that may have been
/// swapped for a symlink after libmilter created the socket.
@Suite("SocketFile: mode by umask, owner without following links")
struct SocketFileTests {
    final class Directory {
        let path = NSTemporaryDirectory() + "heloguard-sock-" + UUID().uuidString
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func owner(_ path: String) -> uid_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_uid : nil
    }

    /// Creates a unix socket file at `path` under `umask` (as MilterRunner does around
    /// smfi_opensocket). The umask is the whole process's, and Swift Testing runs other suites
    /// on other threads meanwhile (pid files, state files, child processes that inherit it), so
    /// the umask is set and the socket bound in a forked child that does nothing else: only
    /// async-signal-safe calls on values prepared before the fork. The file outlives the child.
    static func makeSocket(_ path: String, umask mask: mode_t) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            let bytes = Array(path.utf8)
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let child = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress -> pid_t in
                let child = fork()
                if child == 0 {
                    umask(mask)
                    let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
                    _exit(descriptor >= 0 && bind(descriptor, socketAddress, length) == 0 ? 0 : 1)
                }
                return child
            }
        }
        #expect(child > 0, "fork failed")
        var status: Int32 = 0
        #expect(child > 0 && waitpid(child, &status, 0) == child && status == 0, "the child could not bind \(path)")
    }

    @Test("the umask gives the socket exactly the asked mode", arguments: [0o660, 0o600, 0o666] as [mode_t])
    func modeByUmask(_ mode: mode_t) throws {
        let directory = try Directory()
        let path = directory.path + "/s.sock"
        Self.makeSocket(path, umask: SocketFile.umask(for: mode))
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & 0o777 == mode)
    }

    @Test("a symlink swapped in for the socket is refused and its target keeps its owner",
          .enabled(if: geteuid() == 0, "needs root to change owners"))
    func symlinkRace() throws {
        let directory = try Directory()
        let victim = directory.path + "/victim"
        try "root's file\n".write(toFile: victim, atomically: false, encoding: .utf8)
        let path = directory.path + "/s.sock"
        #expect(symlink(victim, path) == 0)
        do {
            try SocketFile.setOwner(path: path, uid: 65534, gid: 65534)
            Issue.record("the owner was changed through a symlink")
        } catch {
            #expect(error.description.contains("is a symbolic link after the socket was created there"), "\(error)")
        }
        #expect(Self.owner(victim) == 0)
        #expect(Self.owner(path) == 0, "not even the link itself is given away")
    }

    @Test("a regular file in place of the socket is refused", .enabled(if: geteuid() == 0, "needs root"))
    func fileRefused() throws {
        let directory = try Directory()
        let path = directory.path + "/s.sock"
        try "x".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: MilterRunnerError.self) { try SocketFile.setOwner(path: path, uid: 65534, gid: 65534) }
        #expect(Self.owner(path) == 0)
    }

    @Test("our socket gets the new owner", .enabled(if: geteuid() == 0, "needs root"))
    func socketOwned() throws {
        let directory = try Directory()
        let path = directory.path + "/s.sock"
        Self.makeSocket(path, umask: SocketFile.umask(for: 0o660))
        try SocketFile.setOwner(path: path, uid: 65534, gid: 65534)
        #expect(Self.owner(path) == 65534)
    }
}

/// SIGUSR1 asks for a reload; requests that pile up while one runs merge into one.
@Suite("ReloadRequests: a burst of signals is one more reload")
struct ReloadRequestsTests {
    @Test func burstMerges() {
        let requests = ReloadRequests()
        #expect(!requests.isPending)
        for _ in 0..<1000 { requests.add() }
        #expect(requests.isPending)
        requests.next()
        #expect(!requests.isPending, "1000 requests were taken by one reload")
    }

    @Test func waitsForARequest() async {
        let requests = ReloadRequests()
        let finished = Mutex(false)
        let thread = Thread {
            requests.next()
            finished.withLock { $0 = true }
        }
        thread.start()
        try? await Task.sleep(for: .milliseconds(100))
        #expect(!finished.withLock { $0 }, "next() returned with nothing pending")
        requests.add()
        for _ in 0..<100 where !finished.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(10)) }
        #expect(finished.withLock { $0 })
    }
}
