import Foundation
import Glibc
import MilterTesting
import Testing

/// The daemon's own safety: what it does as root, with its pid file, its socket, its state
/// files, signals and a relative configuration path.
@Suite("heloguard run: a hardened daemon", .serialized)
struct HardeningTests {
    static let config = "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n"
    static let refused = "RCPT <b@example.com>: \(HeloguardProtocolTests.nonFQDN)"
    static let accepted = "RCPT <b@example.com>: \(HeloguardProtocolTests.ok)"
    static let nobody: uid_t = 65534
    static var haveNobody: Bool { getpwuid(nobody) != nil }
    static var nobodyName: String { String(cString: getpwuid(nobody)!.pointee.pw_name) }

    static func reply(_ milter: MilterProcess, helo: String = "foo") throws -> String {
        let client = try milter.client()
        defer { client.quit() }
        return try HeloguardProtocolTests.session(helos: [helo]).play(on: client).last ?? ""
    }

    /// The fields of /proc/PID/status, or of one thread's status when `thread` is given.
    static func processStatus(_ pid: pid_t, thread: String? = nil) -> [String: String] {
        let path = thread.map { "/proc/\(pid)/task/\($0)/status" } ?? "/proc/\(pid)/status"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    static func owner(_ path: String) -> uid_t? {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_uid : nil
    }

    // MARK: Relative configuration path

    @Test("a relative --config is made absolute: SIGUSR1 after daemonising reloads the same file")
    func relativeConfigReloadsAfterDaemonising() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("heloguard-daemon-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try (Self.config + "state_directory = \(directory)/state\n").write(toFile: directory + "/heloguard.conf", atomically: true, encoding: .utf8)
        let socket = directory + "/milter.sock"
        // No --foreground: heloguard detaches and changes its directory to /. Started through
        // posix_spawn and reaped with waitpid (Foundation's Process does not notice the exit of
        // a parent whose child lives on).
        let command = "cd '\(directory)' && exec '\(HeloguardMilter.binary)' run --config heloguard.conf"
            + " --socket 'unix:\(socket)' --pid-file heloguard.pid </dev/null >/dev/null 2>&1"
        var launcher = pid_t()
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sh"), strdup("-c"), strdup(command), nil]
        defer { argv.forEach { free($0) } }
        #expect(posix_spawn(&launcher, "/bin/sh", nil, nil, argv, environ) == 0)
        var launcherStatus: Int32 = 0
        #expect(waitpid(launcher, &launcherStatus, 0) == launcher)
        #expect(launcherStatus == 0, "heloguard's parent exited with wait status \(launcherStatus)")
        let pidText = try Self.waitFor("the pid file") { try? String(contentsOfFile: directory + "/heloguard.pid", encoding: .utf8) }
        let pid = try #require(pid_t(pidText.trimmingCharacters(in: .newlines)))
        defer { Self.stopDaemon(pid) }
        let client = { () throws -> MTAClient in try MTAClient(connectingTo: "unix:" + socket) }
        _ = try Self.waitFor("the socket") { try? client() }.close()
        func reply(_ helo: String) throws -> String {
            let connection = try client()
            defer { connection.quit() }
            return try HeloguardProtocolTests.session(helos: [helo]).play(on: connection).last ?? ""
        }
        #expect(try reply("foo") == Self.refused)

        try (Self.config.replacingOccurrences(of: "reject_non_fqdn_helo_hostname", with: "permit")
             + "state_directory = \(directory)/state\n").write(toFile: directory + "/heloguard.conf", atomically: true, encoding: .utf8)
        kill(pid, SIGUSR1)
        let after = try Self.waitFor("the reload", timeout: .seconds(10)) { () -> String? in
            let text = try? reply("foo")
            return text == Self.accepted ? text : nil
        }
        #expect(after == Self.accepted)
    }

    static func waitFor<T>(_ what: String, timeout: Duration = .seconds(20), _ probe: () throws -> T?) throws -> T {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while ContinuousClock.now < deadline {
            if let value = try probe() { return value }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("\(what) did not appear within \(timeout)")
    }

    /// SIGTERM to a daemon (not our child), SIGKILL if it lingers.
    static func stopDaemon(_ pid: pid_t) {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now.advanced(by: .seconds(15))
        while ContinuousClock.now < deadline {
            let state = processStatus(pid)["State"]
            if state == nil || state!.hasPrefix("Z") { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(pid, SIGKILL)
    }

    // MARK: Pid file

    @Test("a symlink at the pid file path is refused; its target is untouched")
    func pidFileSymlinkRefused() throws {
        try HeloguardMilter.runToExit(config: Self.config, prepare: { milter in
            try milter.write("victim", "precious\n")
            #expect(symlink(milter.directory.path + "/victim", milter.directory.path + "/heloguard.pid") == 0)
            milter.process.arguments = (milter.process.arguments ?? []) + ["--pid-file", milter.directory.path + "/heloguard.pid"]
        }, inspect: { milter, status throws in
            #expect(status == 1)
            #expect(milter.log.contains("heloguard.pid is a symbolic link; refusing to write through it"), "log:\n\(milter.log)")
            #expect(try String(contentsOfFile: milter.directory.path + "/victim", encoding: .utf8) == "precious\n")
        })
    }

    @Test("the pid file is written and removed at exit")
    func pidFileWrittenAndRemoved() throws {
        var path = ""
        try HeloguardMilter.run(config: Self.config, prepare: { milter in
            path = milter.directory.path + "/heloguard.pid"
            milter.process.arguments = (milter.process.arguments ?? []) + ["--pid-file", path]
        }) { milter throws in
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "\(milter.process.processIdentifier)\n")
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// A stop asked for right after the start is a clean stop that heloguard itself takes:
    /// exit status 0 and "SIGTERM received; stopping" every time. When libmilter's own signal
    /// thread still ran, it sometimes took the signal (heloguard then logged no stop), and a
    /// signal that came while libmilter's loop was between two checks of its socket made the
    /// loop fail and heloguard exit 1.
    @Test("SIGTERM right after the start: a clean stop that heloguard logs, ten times over")
    func stopRightAfterStart() throws {
        for round in 1...10 {
            let milter = try HeloguardMilter.start(config: Self.config)
            defer { milter.cleanUp() }
            let status = try milter.stop()
            #expect(status == 0, "round \(round): log:\n\(milter.log)")
            #expect(milter.log.contains("SIGTERM received; stopping"), "round \(round): log:\n\(milter.log)")
        }
    }

    /// libmilter's own signal thread (it waits for SIGTERM with `sigwait`, which shows as SIGTERM
    /// unblocked while it waits) is never started: the main thread is the only one with SIGTERM
    /// unblocked, so that no stop signal can be taken without heloguard knowing.
    @Test("the main thread is the only one that takes SIGTERM; libmilter starts no signal thread")
    func onlyTheMainThreadTakesStopSignals() throws {
        try HeloguardMilter.run(config: Self.config) { milter throws in
            #expect(try Self.reply(milter) == Self.refused)
            let pid = milter.process.processIdentifier
            let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
            let termBit: UInt64 = 1 << UInt64(SIGTERM - 1)
            var takers: [String] = []
            for thread in threads {
                guard let mask = Self.processStatus(pid, thread: thread)["SigBlk"].flatMap({ UInt64($0, radix: 16) }) else { continue }
                if mask & termBit == 0 { takers.append(thread) }
            }
            #expect(threads.count > 3, "threads: \(threads)")
            #expect(takers == ["\(pid)"], "threads with SIGTERM unblocked: \(takers) of \(threads.count) (main thread \(pid))")
        }
    }

    // MARK: Root and --user

    @Test("running as root without --user logs a warning", .enabled(if: geteuid() == 0, "needs root"))
    func rootWarning() throws {
        try HeloguardMilter.run(config: Self.config) { milter throws in
            #expect(try Self.reply(milter) == Self.refused)
            #expect(milter.log.contains("warning: running as root: "), "log:\n\(milter.log)")
        }
    }

    @Test("--user: the socket is the user's (mode 660), and every uid and gid of the process is the user's",
          .enabled(if: geteuid() == 0 && haveNobody, "needs root and the nobody account"))
    func switchedUser() throws {
        try HeloguardMilter.run(config: Self.config, prepare: { milter in
            milter.process.arguments = (milter.process.arguments ?? []) + ["--user", Self.nobodyName]
        }) { milter throws in
            #expect(try Self.reply(milter) == Self.refused)
            var info = stat()
            #expect(lstat(milter.socketPath, &info) == 0)
            #expect(info.st_uid == Self.nobody && info.st_mode & 0o777 == 0o660)
            let status = Self.processStatus(milter.process.processIdentifier)
            #expect(status["Uid"]?.split(separator: "\t").allSatisfy { $0 == "\(Self.nobody)" } == true, "\(status["Uid"] ?? "")")
            #expect(status["Gid"]?.split(separator: "\t").contains("0") == false, "\(status["Gid"] ?? "")")
            #expect(!milter.log.contains("running as root"))
        }
    }

    @Test("a state database the milter's user cannot write is logged as an error, and mail flows",
          .enabled(if: geteuid() == 0 && haveNobody, "needs root and the nobody account"))
    func unwritableStateLogged() throws {
        try HeloguardMilter.run(config: Self.config, prepare: { milter in
            // As `heloguard penalty` run as root used to leave it: directory and file root's.
            let state = milter.directory.path + "/state"
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: state + "/heloguard.sqlite", contents: nil))
            milter.process.arguments = (milter.process.arguments ?? []) + ["--user", Self.nobodyName]
        }) { milter throws in
            #expect(try Self.reply(milter) == Self.refused)
            let log = try Self.waitFor("the state store error") { milter.log.contains("error: the state file") ? milter.log : nil }
            #expect(log.contains("belongs to root and \(Self.nobodyName), the account heloguard runs as, cannot write it"), "log:\n\(log)")
            #expect(log.contains("the penalty box works in memory only"))
        }
    }

    // MARK: Signals

    @Test("a burst of SIGUSR1 is merged into a few reloads on one thread; the milter keeps answering")
    func reloadBurst() throws {
        try HeloguardMilter.run(config: Self.config) { milter throws in
            let pid = milter.process.processIdentifier
            #expect(try Self.reply(milter) == Self.refused)
            let threadsBefore = Int(Self.processStatus(pid)["Threads"] ?? "") ?? 0
            var most = threadsBefore
            for _ in 0..<300 {
                kill(pid, SIGUSR1)
                most = max(most, Int(Self.processStatus(pid)["Threads"] ?? "") ?? 0)
            }
            _ = try Self.waitFor("a reload") { milter.log.contains("reload: ") ? true : nil }
            Thread.sleep(forTimeInterval: 0.5)
            let reloads = milter.log.components(separatedBy: "reload: ").count - 1
            #expect((1..<300).contains(reloads), "\(reloads) reloads for 300 signals")
            #expect(most <= threadsBefore + 2, "threads: \(threadsBefore) before, \(most) during the burst")
            #expect(try Self.reply(milter) == Self.refused)
        }
    }

    @Test("a stop that runs into its deadline exits with a non-zero status")
    func stopDeadline() throws {
        let milter = try HeloguardMilter.start(config: Self.config) { milter in
            // One second instead of twelve, so the deadline passes first.
            milter.process.environment = ProcessInfo.processInfo.environment.merging(["HELOGUARD_STOP_DEADLINE": "1"]) { $1 }
        }
        defer { milter.cleanUp() }
        #expect(try Self.reply(milter) == Self.refused)
        // Another process holds the state database's write lock, so the HELO log record of the
        // next session stays queued and the orderly shutdown waits for it (up to 5 s): the stop
        // cannot finish within the deadline.
        let database = milter.directory.path + "/state/heloguard.sqlite"
        _ = try Self.waitFor("the state database") { FileManager.default.fileExists(atPath: database) ? true : nil }
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        locker.arguments = ["-c", "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n"
                            + "c.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(30)\n", database]
        let output = Pipe()
        locker.standardOutput = output
        try locker.run()
        defer { locker.terminate(); locker.waitUntilExit() }
        #expect(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("locked"))
        #expect(try Self.reply(milter) == Self.refused)
        let status = try milter.stop()
        #expect(status == 1, "log:\n\(milter.log)")
        #expect(milter.log.contains("libmilter did not stop within 1 s; exiting with status 1"), "log:\n\(milter.log)")
    }
}
