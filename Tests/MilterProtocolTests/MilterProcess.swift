import Foundation
import Glibc
import MilterTesting
import Testing

/// A milter program started for one test, listening on a unix socket in a fresh temporary
/// directory. ``run(_:arguments:prepare:body:)`` always stops it and removes the directory,
/// also when the test fails.
final class MilterProcess {
    let directory: URL
    let process = Process()

    var socketPath: String { directory.appendingPathComponent("milter.sock").path }
    var socketSpec: String { "unix:" + socketPath }
    private var logPath: String { directory.appendingPathComponent("stderr.log").path }

    /// How long the program may take to accept connections, and to exit after SIGTERM
    /// (libmilter notices the stop request only every few seconds).
    static let startDeadline: Duration = .seconds(20)
    static let stopDeadline: Duration = .seconds(15)

    private init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("heloguard-milter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Writes a file into the directory; `@DIR@` in the text becomes the directory's path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.replacingOccurrences(of: "@DIR@", with: directory.path).write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// What the program wrote to stderr so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Starts `executable` with `arguments` (`@DIR@` and `@SOCKET@` are replaced), after
    /// `prepare` has written its files, waits until the socket accepts connections, runs
    /// `body`, then stops the program with SIGTERM and checks that it exits with status 0.
    /// `environment` is added to the program's; `awaitListening: false` runs `body` at once
    /// (it then waits for the socket itself).
    static func run<T>(_ executable: String, arguments: [String], environment: [String: String] = [:],
                       awaitListening: Bool = true, prepare: (MilterProcess) throws -> Void = { _ in },
                       body: (MilterProcess) throws -> T) throws -> T {
        let milter = try MilterProcess()
        defer { milter.cleanUp() }
        try milter.launch(executable, arguments: arguments, environment: environment, prepare: prepare)
        if awaitListening { try milter.waitUntilListening() }
        let result = try body(milter)
        let status = try milter.stop()
        #expect(status == 0, "\(executable) exited with status \(status) after SIGTERM; its log:\n\(milter.log)")
        return result
    }

    /// Starts the program like ``run(_:arguments:prepare:body:)`` but expects it to exit by
    /// itself (a refused start); `inspect` sees its exit status and directory before cleanup.
    static func runToExit(_ executable: String, arguments: [String], prepare: (MilterProcess) throws -> Void,
                          inspect: (MilterProcess, Int32) throws -> Void) throws {
        let milter = try MilterProcess()
        defer { milter.cleanUp() }
        try milter.launch(executable, arguments: arguments, prepare: prepare)
        let deadline = ContinuousClock.now.advanced(by: startDeadline)
        while milter.process.isRunning {
            guard ContinuousClock.now < deadline else {
                throw HarnessError("\(executable) still runs \(startDeadline) after start; its log:\n\(milter.log)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        try inspect(milter, milter.process.terminationStatus)
    }

    /// Starts the program and waits until it listens; the caller stops it (``stop()``) and
    /// removes the directory (``cleanUp()``).
    static func start(_ executable: String, arguments: [String], prepare: (MilterProcess) throws -> Void) throws -> MilterProcess {
        let milter = try MilterProcess()
        do {
            try milter.launch(executable, arguments: arguments, prepare: prepare)
            try milter.waitUntilListening()
        } catch {
            milter.cleanUp()
            throw error
        }
        return milter
    }

    private func launch(_ executable: String, arguments: [String], environment: [String: String] = [:],
                        prepare: (MilterProcess) throws -> Void) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments.map {
            $0.replacingOccurrences(of: "@SOCKET@", with: socketSpec).replacingOccurrences(of: "@DIR@", with: directory.path)
        }
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(
                environment.mapValues { $0.replacingOccurrences(of: "@DIR@", with: directory.path) }) { $1 }
        }
        // After the arguments: `prepare` may add to them or set the environment.
        try prepare(self)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: logPath)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
    }

    func cleanUp() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A client connected to the milter (not yet negotiated).
    func client(_ options: MTAClientOptions = MTAClientOptions()) throws -> MTAClient {
        var options = options
        options.timeout = .seconds(10)
        return try MTAClient(connectingTo: socketSpec, options: options)
    }

    private func waitUntilListening() throws {
        let deadline = ContinuousClock.now.advanced(by: Self.startDeadline)
        while true {
            guard process.isRunning else {
                throw HarnessError("the milter exited with status \(process.terminationStatus) before it listened; its log:\n\(log)")
            }
            var type = stat()
            // A regular file left at the path is not a listening socket yet.
            if lstat(socketPath, &type) == 0 && type.st_mode & S_IFMT == S_IFSOCK,
               let probe = try? MTAClient(connectingTo: socketSpec) {
                probe.close()
                return
            }
            guard ContinuousClock.now < deadline else {
                throw HarnessError("the milter did not accept connections on \(socketSpec) within \(Self.startDeadline); its log:\n\(log)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// SIGTERM, then waits for the exit; returns the exit status (SIGKILL and an error after the deadline).
    func stop() throws -> Int32 {
        // The test may have stopped it already (and read its exit status).
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now.advanced(by: Self.stopDeadline)
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill()
                throw HarnessError("the milter did not exit within \(Self.stopDeadline) of SIGTERM; its log:\n\(log)")
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    private func kill() {
        guard process.processIdentifier > 0, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
