import Foundation
import Testing
@testable import HeloPolicy

/// A configuration written to a temporary directory with its tables, loaded the way
/// `heloguard test` loads one, ready to play sessions.
struct PolicyFixture {
    let directory: String
    let engine: HeloPolicyEngine
    let diagnostics: [ConfigDiagnostic]

    /// `@DIR@` in the configuration and tables becomes the temporary directory. DNS questions
    /// go to `resolver` (by default one that always fails temporarily).
    init(_ config: String, files: [String: String] = [:], interfaces: [InterfaceAddress] = [],
         resolver: any HeloResolver = UnavailableResolver()) throws {
        directory = NSTemporaryDirectory() + "heloguard-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.replacingOccurrences(of: "@DIR@", with: directory)
                .write(toFile: directory + "/" + name, atomically: true, encoding: .utf8)
        }
        let text = config.replacingOccurrences(of: "@DIR@", with: directory)
        let loaded = try ConfigurationLoader.load(text: text, file: directory + "/heloguard.conf", interfaces: interfaces)
        engine = HeloPolicyEngine(config: loaded.policy, resolver: resolver)
        diagnostics = loaded.diagnostics
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The reply each recipient gets (`250 2.1.5 Ok` when accepted).
    func replies(_ script: SessionScript) -> [String] {
        engine.play(script).recipients.map { $0.decision.verdict.reply?.line ?? "250 2.1.5 Ok" }
    }

    /// The reply one recipient gets for one HELO.
    func reply(helo: String?, rcpt: String = "b@mx.example.test", client: String = "127.0.0.1",
               sender: String = "<a@example.org>", sasl: String? = nil) -> String {
        replies(SessionScript(clientAddress: client, helos: helo.map { [$0] } ?? [], saslUsername: sasl,
                              sender: sender, recipients: [rcpt]))[0]
    }

    /// The whole decision for one recipient after one HELO (reply, events, trace).
    func decision(helo: String, rcpt: String = "b@mx.example.test", sender: String = "<a@example.org>") -> RecipientDecision {
        engine.play(SessionScript(helos: [helo], sender: sender, recipients: [rcpt])).recipients[0].decision
    }
}
