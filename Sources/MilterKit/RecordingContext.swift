/// A ``MilterContext`` without libmilter: macros come from a dictionary the caller fills per
/// stage, and every request the handler makes is recorded in order. Session tests use it, and
/// so does `heloguard test`, which drives the milter's own session code without an MTA.
public final class RecordingContext: MilterContext {
    /// What a handler asked the MTA to do.
    public enum Request: Sendable, Hashable, CustomStringConvertible {
        case reply(MilterReply)
        case addHeader(name: String, value: String)
        case insertHeader(index: Int, name: String, value: String)
        case addRecipient(String)
        case deleteRecipient(String)
        case quarantine(String)

        public var description: String {
            switch self {
            case .reply(let reply): return "reply \(reply)"
            case .addHeader(let name, let value): return "addheader \(name): \(value)"
            case .insertHeader(let index, let name, let value): return "insheader \(index) \(name): \(value)"
            case .addRecipient(let address): return "addrcpt \(address)"
            case .deleteRecipient(let address): return "delrcpt \(address)"
            case .quarantine(let reason): return "quarantine \(reason)"
            }
        }
    }

    public var macros: [String: String]
    public private(set) var requests: [Request] = []
    /// When false, every request is refused, as libmilter refuses calls at the wrong stage.
    public var acceptsRequests: Bool

    public init(macros: [String: String] = [:], acceptsRequests: Bool = true) {
        self.macros = macros
        self.acceptsRequests = acceptsRequests
    }

    public func macro(_ name: String) -> String? { macros[name] }

    public func setReply(_ reply: MilterReply) -> Bool { record(.reply(reply)) }
    public func addHeader(name: String, value: String) -> Bool { record(.addHeader(name: name, value: value)) }
    public func insertHeader(at index: Int, name: String, value: String) -> Bool {
        record(.insertHeader(index: index, name: name, value: value))
    }
    public func addRecipient(_ address: String) -> Bool { record(.addRecipient(address)) }
    public func deleteRecipient(_ address: String) -> Bool { record(.deleteRecipient(address)) }
    public func quarantine(reason: String) -> Bool { record(.quarantine(reason)) }

    /// Forgets the recorded requests (between stages of one session).
    public func clear() { requests.removeAll() }

    private func record(_ request: Request) -> Bool {
        guard acceptsRequests else { return false }
        requests.append(request)
        return true
    }
}
