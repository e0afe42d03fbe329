import HeloPolicy
#if canImport(Glibc)
import Glibc
#endif

/// Runs Postfix's `postconf` to read a Postfix configuration directory. heloguard never parses
/// main.cf or master.cf itself for this: `postconf` knows every default, every `$name`
/// expansion and the compatibility level, exactly as the Postfix daemons see them.
///
/// The program is started with posix_spawn (not Foundation's Process, which starts a
/// monitoring thread: this runs before the service detaches with fork), its standard input
/// from /dev/null, all signals unblocked, and killed when it outlives ``timeoutSeconds``.
public struct Postconf: PostfixConfigurationReader {
    /// The `postconf` program: the first of /usr/sbin/postconf and /usr/bin/postconf that exists.
    public let program: String
    public let timeoutSeconds: Int

    public init(program: String? = nil, timeoutSeconds: Int = 20) {
        self.program = program ?? ["/usr/sbin/postconf", "/usr/bin/postconf", "/sbin/postconf"]
            .first { access($0, X_OK) == 0 } ?? "/usr/sbin/postconf"
        self.timeoutSeconds = timeoutSeconds
    }

    /// `postconf -c DIR -x name...`: the values, `$name` references expanded.
    public func values(of names: [String], configDirectory: String) throws(PostfixReadError) -> [String: String] {
        let output = try run(["-c", configDirectory, "-x"] + names)
        return Self.parseAssignments(output)
    }

    /// `postconf -c DIR -F`: every master.cf field, keyed `service/type/field`.
    public func masterFields(configDirectory: String) throws(PostfixReadError) -> [String: String] {
        Self.parseAssignments(try run(["-c", configDirectory, "-F"]))
    }

    /// `postconf -c DIR -P -x`: every `-o name=value` of master.cf, keyed `service/type/name`,
    /// expanded.
    public func masterOverrides(configDirectory: String) throws(PostfixReadError) -> [String: String] {
        Self.parseAssignments(try run(["-c", configDirectory, "-P", "-x"]))
    }

    /// `name = value` lines; a line without ` = ` is skipped.
    static func parseAssignments(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let range = line.range(of: " =") else { continue }
            let name = String(line[..<range.lowerBound])
            var value = line[range.upperBound...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
            result[name] = String(value)
        }
        return result
    }

    /// Runs postconf with `arguments`; its standard output, or an error with its standard error.
    func run(_ arguments: [String]) throws(PostfixReadError) -> String {
        let command = ([program] + arguments).joined(separator: " ")
        let result: ChildOutput
        do throws(ChildOutput.Failure) {
            result = try ChildOutput.run([program] + arguments, timeoutSeconds: timeoutSeconds)
        } catch {
            throw PostfixReadError("\(command): \(error.reason)")
        }
        guard result.status == 0 else {
            // Its warnings come before the fatal error that says why.
            let lines = result.standardError.split(separator: "\n")
            let why = (lines.first { $0.contains("fatal:") } ?? lines.last).map(String.init) ?? "exit status \(result.status)"
            throw PostfixReadError("\(command): \(why)")
        }
        return result.standardOutput
    }
}

/// The outcome of a short-lived child process: exit status and both outputs.
struct ChildOutput {
    struct Failure: Error {
        let reason: String
    }

    let status: Int32
    let standardOutput: String
    let standardError: String

    /// Runs `argv` (a full path first) and collects its output, killing it after
    /// `timeoutSeconds`.
    static func run(_ argv: [String], timeoutSeconds: Int) throws(Failure) -> ChildOutput {
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { throw Failure(reason: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&errPipe) == 0 else {
            close(outPipe[0]); close(outPipe[1])
            throw Failure(reason: "pipe: \(String(cString: strerror(errno)))")
        }
        // Not inherited by other children; dup2 below gives postconf its own copies.
        for descriptor in outPipe + errPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        var pointers = argv.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, pointers, environ)
        close(outPipe[1])
        close(errPipe[1])
        defer { close(outPipe[0]); close(errPipe[0]) }
        guard spawned == 0 else { throw Failure(reason: String(cString: strerror(spawned))) }

        let deadline = monotonicMilliseconds() + Int64(timeoutSeconds) * 1000
        var output: [UInt8] = []
        var errors: [UInt8] = []
        var open = [outPipe[0], errPipe[0]]
        while !open.isEmpty {
            let left = deadline - monotonicMilliseconds()
            if left <= 0 {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                _ = waitpid(pid, &status, 0)
                throw Failure(reason: "no answer within \(timeoutSeconds) s")
            }
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polled, nfds_t(polled.count), Int32(min(left, 1000)))
            if ready < 0 && errno != EINTR { break }
            for entry in polled where entry.revents != 0 {
                var chunk = [UInt8](repeating: 0, count: 65536)
                let got = chunk.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if got > 0 {
                    if entry.fd == outPipe[0] { output += chunk[0..<got] } else { errors += chunk[0..<got] }
                } else if got == 0 || errno != EINTR {
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return ChildOutput(status: code, standardOutput: String(decoding: output, as: UTF8.self),
                           standardError: String(decoding: errors, as: UTF8.self))
    }

    private static func monotonicMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}
