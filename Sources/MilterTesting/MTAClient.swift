import MilterKit

/// How the MTA side introduces itself in SMFIC_OPTNEG, and which macros it sends.
public struct MTAClientOptions: Sendable {
    /// The protocol version offered (Postfix: `milter_protocol`, 6).
    public var version: UInt32 = milterProtocolVersion
    /// The actions the milter may request (Postfix offers all of version 6: 0x1ff).
    public var actions: MilterActions = .postfixOffer
    /// The events and protocol options offered (Postfix offers all of version 6: 0x1fffff).
    public var steps: MilterSteps = .postfixOffer
    /// The macros sent at each stage unless the milter asks for others in its negotiation reply
    /// (Postfix: `milter_*_macros`). Only macros named here, or in the milter's own list, are sent.
    public var macroLists: [MilterStage: [String]] = MTAClientOptions.postfixMacroLists
    /// The longest wait for any reply, and for sending (no exchange can hang a test).
    public var timeout: Duration = .seconds(10)

    public init() {}

    /// Postfix 3.7's default macro lists (`postconf -d milter_connect_macros` etc.).
    public static let postfixMacroLists: [MilterStage: [String]] = [
        .connect: ["j", "{daemon_name}", "{daemon_addr}", "v", "_"],
        .helo: ["{tls_version}", "{cipher}", "{cipher_bits}", "{cert_subject}", "{cert_issuer}"],
        .mail: ["i", "{auth_type}", "{auth_authen}", "{auth_author}", "{mail_addr}", "{mail_host}", "{mail_mailer}"],
        .recipient: ["i", "{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}"],
        .data: ["i"],
        .endOfHeaders: ["i"],
        .endOfMessage: ["i"],
    ]
}

/// The SMTP client's address as SMFIC_CONNECT reports it.
public enum SMTPClientAddress: Equatable, Sendable {
    /// An IPv4 client (family `4`).
    case ipv4(String, port: UInt16)
    /// An IPv6 client (family `6`), address without brackets.
    case ipv6(String, port: UInt16)
    /// A client on a local socket (family `L`); the address is the socket path.
    case local(String)
    /// No address known (family `U`).
    case unknown

    /// An IP address, IPv6 when it contains a colon.
    public static func ip(_ address: String, port: UInt16 = 0) -> SMTPClientAddress {
        address.contains(":") ? .ipv6(address, port: port) : .ipv4(address, port: port)
    }
}

/// What became of the last event a ``MTAClient`` was asked to send.
public enum MilterEventDisposition: Equatable, Sendable {
    /// Sent, and the milter replied.
    case replied
    /// Sent without waiting: the milter negotiated no reply for it (SMFIP_NR_*).
    case sentWithoutReply
    /// Not sent: the milter turned the event off (SMFIP_NO*) or asked to skip it (SMFIR_SKIP).
    case notSent
}

/// One step of a session, in order.
public enum MilterTranscriptEntry: Equatable, Sendable {
    /// A packet the client sent.
    case sent(MilterCommand)
    /// An event the client did not send, honouring the negotiation (the macros for it were sent).
    case notSent(MilterCommand)
    /// A packet the milter sent.
    case received(MilterAnswer)
}

/// The milter's answer at end of message: its requests in order, then its decision.
public struct MilterEndOfMessage: Equatable, Sendable {
    /// Modifications, quarantine and progress notes, in the order the milter sent them.
    public var requests: [MilterRequest]
    /// The final decision about the message.
    public var decision: MilterDecision

    public init(requests: [MilterRequest], decision: MilterDecision) {
        self.requests = requests
        self.decision = decision
    }
}

/// The MTA side of the milter protocol (version 6), as Postfix speaks it: negotiates, sends
/// each SMTP event with its macros, and returns the milter's decision.
///
/// It honours the negotiation the way Postfix does: an event the milter turned off (SMFIP_NO*)
/// is not sent (its macros still are), an event the milter will not answer (SMFIP_NR_*) is sent
/// without waiting, and both count as `continue`; ``lastDisposition`` and ``transcript`` tell
/// which happened. Macros are sent only if named in the stage's macro list: the milter's own
/// (from `smfi_setsymlist`), else ``MTAClientOptions/macroLists``. Every read has a deadline
/// (``MTAClientOptions/timeout``). It does not play the rest of an MTA: it sends whatever
/// events it is asked to, in that order, even after a reject or accept.
public final class MTAClient {
    /// What the client offers and which macros it sends.
    public let options: MTAClientOptions
    /// The milter's answer to SMFIC_OPTNEG, once negotiated.
    public private(set) var negotiation: MilterAgreement?
    /// Everything sent and received so far.
    public private(set) var transcript: [MilterTranscriptEntry] = []
    /// What became of the last event.
    public private(set) var lastDisposition: MilterEventDisposition = .notSent
    /// The requests (quarantine, progress; at end of message also modifications) that came with
    /// the last event's decision.
    public private(set) var lastRequests: [MilterRequest] = []

    private let connection: MilterConnection
    /// The command letter of an event the milter asked to skip (SMFIR_SKIP); Postfix stops
    /// sending that event until a different one comes along.
    private var skippedEventCode: UInt8?

    /// Connects to a milter at `unix:/path`, `local:/path`, `inet:port@host` or `inet6:port@host`.
    public convenience init(connectingTo spec: String, options: MTAClientOptions = MTAClientOptions()) throws(MTAClientError) {
        let socket: MilterSocket
        do { socket = try MilterSocket(parsing: spec) } catch { throw .invalidSocketSpec(error.description) }
        try self.init(connectingTo: socket, options: options)
    }

    /// Connects to a milter.
    public init(connectingTo address: MilterSocket, options: MTAClientOptions = MTAClientOptions()) throws(MTAClientError) {
        self.options = options
        connection = try MilterConnection(connectingTo: address, timeout: options.timeout)
    }

    /// Talks over an already connected socket, which the client then owns and closes.
    public init(fileDescriptor: Int32, options: MTAClientOptions = MTAClientOptions()) {
        self.options = options
        connection = MilterConnection(descriptor: fileDescriptor, timeout: options.timeout)
    }

    /// Closes the connection (without SMFIC_QUIT).
    public func close() {
        connection.close()
    }

    // MARK: Negotiation

    /// Sends SMFIC_OPTNEG and reads the milter's answer. Every event method negotiates first
    /// if this has not been called. Like Postfix, refuses a milter that answers with a higher
    /// version or asks for actions that were not offered.
    @discardableResult
    public func negotiate() throws(MTAClientError) -> MilterAgreement {
        try send(.optionNegotiation(version: options.version, actions: options.actions, steps: options.steps))
        let reply = try receive(waitingFor: "the SMFIC_OPTNEG reply")
        guard case .negotiation(let answer) = reply else {
            throw .protocolViolation("expected the SMFIC_OPTNEG reply, got \(reply)")
        }
        guard answer.version <= options.version else {
            throw .protocolViolation("milter protocol version \(answer.version) is newer than the MTA's \(options.version)")
        }
        guard options.actions.isSuperset(of: answer.actions) else {
            throw .protocolViolation("milter asks for actions \(answer.actions), the MTA offered \(options.actions)")
        }
        negotiation = answer
        return answer
    }

    /// The macro names sent at `stage`: the milter's list if it sent a non-empty one, else the
    /// configured list (Postfix falls back the same way).
    public func macroNames(at stage: MilterStage) -> [String] {
        if let names = negotiation?.macroNames(at: stage), !names.isEmpty { return names }
        return options.macroLists[stage] ?? []
    }

    // MARK: Events

    /// SMFIC_CONNECT. `hostname` is the client's verified name, or `[address]` when unknown
    /// (what Postfix sends for its `unknown`). The macros `{client_name}`, `{client_addr}` and
    /// `{client_port}` get Postfix's values for that client unless `macros` has them (a milter
    /// that skips the event reads the client from them): the name, or `unknown`; the address,
    /// IPv6 as `IPv6:2001:db8::1`; the port.
    @discardableResult
    public func connect(hostname: String, address: SMTPClientAddress,
                        macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        var macros = macros
        let bracketed = hostname.hasPrefix("[") && hostname.hasSuffix("]")
        let (clientAddress, clientPort): (String?, UInt16) = switch address {
        case .ipv4(let ip, let port): (ip, port)
        case .ipv6(let ip, let port): ("IPv6:" + ip, port)
        case .local, .unknown: (nil, 0)
        }
        if macros["{client_name}"] == nil { macros["{client_name}"] = bracketed ? "unknown" : hostname }
        if macros["{client_addr}"] == nil, let clientAddress { macros["{client_addr}"] = clientAddress }
        if macros["{client_port}"] == nil { macros["{client_port}"] = String(clientPort) }
        let command: MilterCommand = switch address {
        case .ipv4(let ip, let port): .connect(hostname: hostname, family: .inet, port: port, address: ip)
        case .ipv6(let ip, let port): .connect(hostname: hostname, family: .inet6, port: port, address: ip)
        case .local(let path): .connect(hostname: hostname, family: .unix, port: 0, address: path)
        case .unknown: .connect(hostname: hostname, family: .unknown, port: 0, address: "")
        }
        return try event(command, stage: .connect, macros: macros, unless: .noConnect, noReply: .noReplyConnect)
    }

    /// SMFIC_HELO with the HELO/EHLO argument as the client sent it.
    @discardableResult
    public func helo(_ name: String, macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        try event(.helo(name), stage: .helo, macros: macros, unless: .noHelo, noReply: .noReplyHelo)
    }

    /// SMFIC_MAIL: `sender` as written after `MAIL FROM:` (`<a@example.org>`), then ESMTP parameters.
    @discardableResult
    public func mail(_ sender: String, parameters: [String] = [],
                     macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        try event(.mail([sender] + parameters), stage: .mail, macros: macros, unless: .noMail, noReply: .noReplyMail)
    }

    /// SMFIC_RCPT: `recipient` as written after `RCPT TO:` (`<b@example.com>`), then ESMTP parameters.
    @discardableResult
    public func recipient(_ recipient: String, parameters: [String] = [],
                          macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        try event(.recipient([recipient] + parameters), stage: .recipient, macros: macros,
                  unless: .noRecipient, noReply: .noReplyRecipient)
    }

    /// SMFIC_DATA.
    @discardableResult
    public func data(macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        try event(.data, stage: .data, macros: macros, unless: .noData, noReply: .noReplyData)
    }

    /// SMFIC_HEADER (Postfix sends the end-of-header macros with each header).
    @discardableResult
    public func header(_ name: String, _ value: String, macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        try event(.header(name: name, value: value), stage: .endOfHeaders, macros: macros,
                  unless: .noHeaders, noReply: .noReplyHeader)
    }

    /// SMFIC_EOH.
    @discardableResult
    public func endOfHeaders(macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        try event(.endOfHeaders, stage: .endOfHeaders, macros: macros, unless: .noEndOfHeaders, noReply: .noReplyEndOfHeaders)
    }

    /// SMFIC_BODY, in chunks of at most 65535 bytes (as Postfix and Sendmail send them; the
    /// text should use CR LF line ends). Stops at the first decision other than continue.
    @discardableResult
    public func body(_ bytes: [UInt8], macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        var decision = MilterDecision.continue
        var offset = 0
        repeat {
            let chunk = Array(bytes[offset..<min(offset + 65535, bytes.count)])
            offset += chunk.count
            decision = try event(.body(chunk), stage: .endOfMessage, macros: macros, unless: .noBody, noReply: .noReplyBody)
        } while offset < bytes.count && decision == .continue
        return decision
    }

    /// SMFIC_BODY with `text`'s UTF-8 bytes.
    @discardableResult
    public func body(_ text: String, macros: [String: String] = [:]) throws(MTAClientError) -> MilterDecision {
        try body(Array(text.utf8), macros: macros)
    }

    /// SMFIC_BODYEOB: collects the milter's requests (header and recipient changes, quarantine,
    /// progress, ...) until its final decision. Always sent and always answered.
    public func endOfMessage(macros: [String: String] = [:]) throws(MTAClientError) -> MilterEndOfMessage {
        let decision = try event(.endOfMessage, stage: .endOfMessage, macros: macros, unless: nil, noReply: nil)
        return MilterEndOfMessage(requests: lastRequests, decision: decision)
    }

    /// SMFIC_UNKNOWN: an SMTP command the MTA did not recognise (Postfix sends no macros with it).
    @discardableResult
    public func unknown(_ command: String) throws(MTAClientError) -> MilterDecision {
        try event(.unknown(command), stage: nil, macros: [:], unless: .noUnknown, noReply: .noReplyUnknown)
    }

    /// SMFIC_ABORT: the message is abandoned (RSET, a repeated HELO, end of transaction). No reply.
    public func abort() throws(MTAClientError) {
        try checkNothingUnread(before: .abort)
        try send(.abort)
        lastDisposition = .sentWithoutReply
        lastRequests = []
    }

    /// SMFIC_QUIT, then closes the connection. No reply; like Postfix, ignores a milter that
    /// already hung up.
    public func quit() {
        try? send(.quit)
        connection.close()
    }

    // MARK: Exchange

    private func event(_ command: MilterCommand, stage: MilterStage?, macros: [String: String],
                       unless offFlag: MilterSteps?, noReply replyFlag: MilterSteps?) throws(MTAClientError) -> MilterDecision {
        if negotiation == nil { try negotiate() }
        let flags = negotiation?.steps ?? []
        lastRequests = []
        if let skipped = skippedEventCode {
            if skipped == command.code {
                transcript.append(.notSent(command))
                lastDisposition = .notSent
                return .continue
            }
            skippedEventCode = nil
        }
        try checkNothingUnread(before: command)
        // Postfix sends an event's macros even when the event itself is turned off.
        if let stage {
            let names = macroNames(at: stage)
            if !names.isEmpty {
                try send(.macros(commandCode: command.code,
                                 names.compactMap { name in macros[name].map { MilterMacro(name, $0) } }))
            }
        }
        if let offFlag, flags.contains(offFlag) {
            transcript.append(.notSent(command))
            lastDisposition = .notSent
            return .continue
        }
        try send(command)
        if let replyFlag, flags.contains(replyFlag) {
            lastDisposition = .sentWithoutReply
            return .continue
        }
        while true {
            let reply = try receive(waitingFor: "the reply to \(command.name)")
            switch reply {
            case .negotiation:
                throw .protocolViolation("SMFIC_OPTNEG reply in answer to \(command.name)")
            case .request(let request):
                if request.isMessageModification && command != .endOfMessage {
                    throw .protocolViolation("modification request \(request) in answer to \(command.name); only allowed at end of message")
                }
                lastRequests.append(request)
            case .decision(let decision):
                if decision == .skip { skippedEventCode = command.code }
                lastDisposition = .replied
                return decision
            }
        }
    }

    /// A milter that answers an event it negotiated not to answer would leave its reply to be
    /// read as the answer to the next event; catch that here instead. (Only after such an
    /// event: tests that play the milter queue their replies ahead of time.)
    private func checkNothingUnread(before command: MilterCommand) throws(MTAClientError) {
        if lastDisposition == .sentWithoutReply && connection.hasUnreadData() {
            throw .protocolViolation("the milter sent data nobody asked for before \(command.name) (a reply to an event it negotiated not to answer?)")
        }
    }

    private func send(_ command: MilterCommand) throws(MTAClientError) {
        try connection.write(command.packet)
        transcript.append(.sent(command))
    }

    private func receive(waitingFor what: String) throws(MTAClientError) -> MilterAnswer {
        let reply = try MilterAnswer(decoding: connection.read(waitingFor: what))
        transcript.append(.received(reply))
        return reply
    }
}

extension MilterCommand {
    /// The protocol's name for the command, for messages.
    public var name: String {
        switch self {
        case .optionNegotiation: "SMFIC_OPTNEG"
        case .macros: "SMFIC_MACRO"
        case .connect: "SMFIC_CONNECT"
        case .helo: "SMFIC_HELO"
        case .mail: "SMFIC_MAIL"
        case .recipient: "SMFIC_RCPT"
        case .data: "SMFIC_DATA"
        case .header: "SMFIC_HEADER"
        case .endOfHeaders: "SMFIC_EOH"
        case .body: "SMFIC_BODY"
        case .endOfMessage: "SMFIC_BODYEOB"
        case .unknown: "SMFIC_UNKNOWN"
        case .abort: "SMFIC_ABORT"
        case .quit: "SMFIC_QUIT"
        case .quitNewConnection: "SMFIC_QUIT_NC"
        }
    }
}
