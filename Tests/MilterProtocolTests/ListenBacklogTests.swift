import Foundation
import MilterKit
import Testing

/// The milter socket's listen queue: the kernel's ceiling by default, `--listen-backlog N` when
/// given. Read back from the kernel with `ss` (its Send-Q column of a listening socket is the
/// backlog).
@Suite("listen backlog of the milter socket")
struct ListenBacklogTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let arguments: [String]
        /// nil: the kernel's net.core.somaxconn.
        let expected: Int32?
        var testDescription: String { name }
    }

    static let cases = [
        Case(name: "default: net.core.somaxconn", arguments: [], expected: nil),
        Case(name: "--listen-backlog 37", arguments: ["--listen-backlog", "37"], expected: 37),
    ]

    @Test(arguments: cases)
    func backlog(_ testCase: Case) throws {
        let expected = testCase.expected ?? ListenBacklog.kernelMaximum()
        let arguments = ["run", "--foreground", "--config", "@DIR@/heloguard.conf", "--socket", "@SOCKET@"] + testCase.arguments
        try MilterProcess.run(HeloguardMilter.binary, arguments: arguments, prepare: { milter in
            try milter.write("heloguard.conf", "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\nstate_directory = @DIR@/state\n")
        }) { milter in
            let fields = try Self.ss(milter.socketPath)
            // u_str LISTEN Recv-Q Send-Q Local ...
            #expect(fields.count > 3 && fields[1] == "LISTEN" && Int32(fields[3]) == expected, "ss: \(fields)")
        }
    }

    @Test("the kernel's ceiling is read from /proc; an unreadable or odd file gives 4096",
          arguments: [("4096\n", Int32(4096)), ("128", 128), ("65535 \n", 65535), ("", 4096), ("zero", 4096), ("0\n", 4096), ("-5\n", 4096)])
    func kernelMaximum(text: String, expected: Int32) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("somaxconn-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ListenBacklog.kernelMaximum(path: path) == expected)
        #expect(ListenBacklog.kernelMaximum(path: path + ".missing") == 4096)
    }

    static func ss(_ path: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
        process.arguments = ["-Hxl", "src", path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(whereSeparator: \.isWhitespace).map(String.init)
    }
}
