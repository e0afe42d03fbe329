import HeloGuard
import HeloPolicy
import MilterKit
import MilterTesting
import Synchronization

/// Collects log lines in memory.
final class RecordingLog: MailLog {
    private let storage = Mutex<[String]>([])

    func log(_ priority: LogPriority, _ message: String) {
        storage.withLock { $0.append(message) }
    }

    var lines: [String] { storage.withLock { $0 } }
}

/// A session on a configuration given as main.cf text, with a recording context and log.
struct SessionHarness {
    let session: HeloGuardSession
    let context = RecordingContext()
    let log = RecordingLog()

    init(_ configText: String, resolver: any HeloResolver = UnavailableResolver()) throws {
        let loaded = try ConfigurationLoader.load(text: configText, file: "test.conf", interfaces: [])
        session = HeloGuardSession(configuration: RuntimeConfiguration(path: "test.conf", loaded: loaded, generation: 1, resolver: resolver),
                                   log: log)
    }

    static let client = MilterClient(hostname: "[203.0.113.7]", address: "203.0.113.7", port: 40000, family: .inet4)

    @discardableResult
    func connect(_ client: MilterClient = SessionHarness.client, macros: [String: String] = [:]) -> MilterResponse {
        context.macros.merge(macros) { $1 }
        return session.connect(client: client, context: context)
    }

    @discardableResult
    func helo(_ name: String) -> MilterResponse { session.helo(name, context: context) }

    @discardableResult
    func mail(_ arguments: String..., macros: [String: String] = [:]) -> MilterResponse {
        context.macros.merge(macros) { $1 }
        return session.mail(arguments, context: context)
    }

    func rcpt(_ address: String, queueID: String? = nil) -> MilterResponse {
        context.macros["i"] = queueID
        return session.recipient([address], context: context)
    }

    func abort() { session.abort(context: context) }

    /// The SMTP reply line a response stands for ("continue" and so on for the others).
    static func text(_ response: MilterResponse) -> String {
        switch response {
        case .continue: return "continue"
        case .accept: return "accept"
        case .discard: return "discard"
        case .reject(let reply): return reply.map(\.description) ?? "reject"
        case .tempfail(let reply): return reply.map(\.description) ?? "tempfail"
        }
    }
}
