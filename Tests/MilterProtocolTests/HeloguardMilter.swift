import Foundation
import MilterTesting

/// The built `heloguard` binary (beside the test executable, or $HELOGUARD_BINARY) run as a
/// milter: `heloguard run --foreground --config DIR/heloguard.conf --socket unix:DIR/milter.sock`.
enum HeloguardMilter {
    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["HELOGUARD_BINARY"] { return explicit }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("heloguard").path
    }

    /// Writes `config` (and `files`, e.g. tables) into a fresh directory, where `@DIR@` stands for
    /// that directory, starts heloguard on it, runs `body`, and stops heloguard with SIGTERM,
    /// expecting exit status 0.
    static func run<T>(config: String, files: [String: String] = [:], environment: [String: String] = [:],
                       awaitListening: Bool = true, prepare: (MilterProcess) throws -> Void = { _ in },
                       body: (MilterProcess) throws -> T) throws -> T {
        try MilterProcess.run(binary, arguments: arguments, environment: environment, awaitListening: awaitListening,
                              prepare: { milter in
                                  try write(config: config, files: files, into: milter)
                                  try prepare(milter)
                              },
                              body: body)
    }

    /// Starts heloguard like ``run(config:files:prepare:body:)`` and leaves stopping it to the caller.
    static func start(config: String, files: [String: String] = [:], prepare: (MilterProcess) throws -> Void = { _ in }) throws -> MilterProcess {
        try MilterProcess.start(binary, arguments: arguments, prepare: { milter in
            try write(config: config, files: files, into: milter)
            try prepare(milter)
        })
    }

    /// Starts heloguard like ``run(config:files:prepare:body:)`` but expects it to refuse to
    /// start; `inspect` gets its exit status.
    static func runToExit(config: String, files: [String: String] = [:], prepare: (MilterProcess) throws -> Void,
                          inspect: (MilterProcess, Int32) throws -> Void) throws {
        try MilterProcess.runToExit(binary, arguments: arguments, prepare: { milter in
            try write(config: config, files: files, into: milter)
            try prepare(milter)
        }, inspect: inspect)
    }

    private static func write(config: String, files: [String: String], into milter: MilterProcess) throws {
        // The penalty box's file goes into the test's directory, never under /var/lib.
        let state = config.contains("state_directory") ? "" : "\nstate_directory = @DIR@/state\n"
        try milter.write("heloguard.conf", config + state)
        for (name, text) in files { try milter.write(name, text) }
    }

    private static let arguments = ["run", "--foreground", "--config", "@DIR@/heloguard.conf", "--socket", "@SOCKET@"]

    /// Runs `heloguard ARGUMENTS` to its end; its standard output, or an error with its
    /// standard error when it exits non-zero.
    @discardableResult
    static func command(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("heloguard \(arguments) failed: \(errorText)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// What `heloguard test` (the milter's session code, no MTA) says each recipient gets.
    static func ruleCoreReplies(configPath: String, client: String, helos: [String], saslUser: String? = nil,
                                recipients: [String], extra: [String] = []) throws -> [String] {
        let data = Data(try command(["test", "--config", configPath, "--client", client, "--json"]
            + helos.map { "--helo=" + $0 } + (saslUser.map { ["--sasl-user", $0] } ?? [])
            + recipients.map { "--rcpt=" + $0 } + extra).utf8)
        struct Outcome: Decodable {
            struct Recipient: Decodable { let action: String; let reply: String? }
            let recipients: [Recipient]
        }
        let outcome = try JSONDecoder().decode(Outcome.self, from: data)
        return outcome.recipients.map { $0.reply ?? PostfixRelay.Command.recipient.positiveReply }
    }
}

/// One SMTP session as Postfix presents it to a milter.
struct SMTPSession: Sendable {
    var client = "203.0.113.7"
    /// The client's verified name; nil for Postfix's `unknown`, sent as `[address]`.
    var clientName: String?
    /// Connect-stage macros: the MTA's own name and address.
    var serverMacros = ["j": "mx.example.com", "{daemon_name}": "mx.example.com", "{daemon_addr}": "192.0.2.1", "v": "Postfix 3.7.11"]
    /// Each HELO/EHLO argument, in order; none means the client never said HELO.
    var helos: [String] = []
    /// SASL mechanism and login, sent as `{auth_type}`/`{auth_authen}` at MAIL.
    var sasl: (type: String, user: String)?
    var sender = "<a@example.org>"
    var recipients = ["<b@example.com>"]

    /// Plays connect, the HELOs (each repeated one followed by ABORT, as Postfix does), MAIL and
    /// each RCPT; returns what the SMTP client would see for MAIL and each RCPT, as
    /// `MAIL: reply` and `RCPT <rcpt>: reply` (Postfix sends no RCPT after a refused MAIL, and
    /// none to the milter after it accepted the message at MAIL: Postfix then answers alone).
    func play(on client: MTAClient) throws -> [String] {
        try client.connect(hostname: clientName ?? "[\(self.client)]", address: .ip(self.client, port: 54321), macros: serverMacros)
        for (index, helo) in helos.enumerated() {
            try client.helo(helo)
            if index > 0 { try client.abort() }
        }
        var mailMacros = ["{mail_addr}": sender.trimmingCharacters(in: CharacterSet(charactersIn: "<>")), "{mail_mailer}": "smtp"]
        if let sasl {
            mailMacros["{auth_type}"] = sasl.type
            mailMacros["{auth_authen}"] = sasl.user
        }
        let mailDecision = try client.mail(sender, macros: mailMacros)
        let mail = PostfixRelay.reply(to: mailDecision, for: .mail)
        var lines = ["MAIL: " + mail]
        guard mail.hasPrefix("2") else { return lines }
        if mailDecision == .accept {
            return lines + recipients.map { "RCPT \($0): " + PostfixRelay.Command.recipient.positiveReply }
        }
        for (index, recipient) in recipients.enumerated() {
            // Postfix has a queue id only after the first accepted recipient.
            let macros = ["{rcpt_addr}": recipient.trimmingCharacters(in: CharacterSet(charactersIn: "<>")), "{rcpt_mailer}": "smtp"].merging(index == 0 ? [:] : ["i": "4Fq1XY2abcz"]) { $1 }
            lines.append("RCPT \(recipient): " + PostfixRelay.reply(to: try client.recipient(recipient, macros: macros), for: .recipient))
        }
        return lines
    }
}
