import MilterKit

/// One macro definition (`name=value`) inside an SMFIC_MACRO packet. Names are sent as the
/// MTA spells them: `j`, `{daemon_addr}`, `{auth_authen}`.
public struct MilterMacro: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }
}

/// What the MTA sends to the milter (SMFIC_* packets), decoded.
public enum MilterCommand: Equatable, Sendable {
    /// SMFIC_OPTNEG: the MTA's protocol version, the actions it allows, the events it offers.
    case optionNegotiation(version: UInt32, actions: MilterActions, steps: MilterSteps)
    /// SMFIC_MACRO: macro values for the event with letter `commandCode` (sent right before it).
    case macros(commandCode: UInt8, [MilterMacro])
    /// SMFIC_CONNECT: client host name (`[addr]` when unknown), family, port, address.
    /// For `.unknown` no port and address are sent.
    case connect(hostname: String, family: MilterAddressFamily, port: UInt16, address: String)
    /// SMFIC_HELO: the HELO/EHLO argument.
    case helo(String)
    /// SMFIC_MAIL: the sender and the ESMTP parameters, one string each (`<a@example.org>`, `SIZE=10`).
    case mail([String])
    /// SMFIC_RCPT: the recipient and its ESMTP parameters.
    case recipient([String])
    /// SMFIC_DATA.
    case data
    /// SMFIC_HEADER: one header field.
    case header(name: String, value: String)
    /// SMFIC_EOH: end of headers.
    case endOfHeaders
    /// SMFIC_BODY: a chunk of the body (CRLF line ends).
    case body([UInt8])
    /// SMFIC_BODYEOB: end of message; the milter answers with its modifications and final decision.
    case endOfMessage
    /// SMFIC_UNKNOWN: an SMTP command the MTA does not know.
    case unknown(String)
    /// SMFIC_ABORT: the current message is abandoned (RSET, a new HELO, end of transaction).
    case abort
    /// SMFIC_QUIT: the session is over.
    case quit
    /// SMFIC_QUIT_NC: the session is over, but the connection will be reused for another.
    case quitNewConnection

    /// The packet letter.
    public var code: UInt8 {
        switch self {
        case .optionNegotiation: MilterCommandCode.optionNegotiation
        case .macros: MilterCommandCode.macro
        case .connect: MilterCommandCode.connect
        case .helo: MilterCommandCode.helo
        case .mail: MilterCommandCode.mail
        case .recipient: MilterCommandCode.recipient
        case .data: MilterCommandCode.data
        case .header: MilterCommandCode.header
        case .endOfHeaders: MilterCommandCode.endOfHeaders
        case .body: MilterCommandCode.body
        case .endOfMessage: MilterCommandCode.endOfBody
        case .unknown: MilterCommandCode.unknown
        case .abort: MilterCommandCode.abort
        case .quit: MilterCommandCode.quit
        case .quitNewConnection: MilterCommandCode.quitNewConnection
        }
    }

    /// The packet as sent.
    public var packet: MilterPacket {
        var payload: [UInt8] = []
        switch self {
        case .optionNegotiation(let version, let actions, let flags):
            payload.appendBigEndian(version)
            payload.appendBigEndian(UInt32(truncatingIfNeeded: actions.rawValue))
            payload.appendBigEndian(UInt32(truncatingIfNeeded: flags.rawValue))
        case .macros(let commandCode, let macros):
            payload.append(commandCode)
            for macro in macros {
                payload.appendCString(macro.name)
                payload.appendCString(macro.value)
            }
        case .connect(let hostname, let family, let port, let address):
            payload.appendCString(hostname)
            payload.append(family.rawValue)
            if family != .unknown {
                payload.appendBigEndian(port)
                payload.appendCString(address)
            }
        case .helo(let name), .unknown(let name):
            payload.appendCString(name)
        case .mail(let arguments), .recipient(let arguments):
            for argument in arguments { payload.appendCString(argument) }
        case .header(let name, let value):
            payload.appendCString(name)
            payload.appendCString(value)
        case .body(let chunk):
            payload = chunk
        case .data, .endOfHeaders, .endOfMessage, .abort, .quit, .quitNewConnection:
            break
        }
        return MilterPacket(code: code, payload: payload)
    }

    /// Decodes a packet the MTA sent (the milter's view; used by tests that play the milter).
    public init(decoding packet: MilterPacket) throws(MTAClientError) {
        var reader = MilterPayloadReader(packet, what: "command \(packet)")
        switch packet.code {
        case MilterCommandCode.optionNegotiation:
            self = .optionNegotiation(version: try reader.uint32(),
                                      actions: MilterActions(rawValue: UInt(try reader.uint32())),
                                      steps: MilterSteps(rawValue: UInt(try reader.uint32())))
        case MilterCommandCode.macro:
            let commandCode = try reader.byte()
            var macros: [MilterMacro] = []
            while !reader.isAtEnd { macros.append(MilterMacro(try reader.cString(), try reader.cString())) }
            self = .macros(commandCode: commandCode, macros)
        case MilterCommandCode.connect:
            let hostname = try reader.cString()
            guard let family = MilterAddressFamily(rawValue: try reader.byte()) else {
                throw .malformedPacket("connect: unknown address family")
            }
            if family == .unknown {
                self = .connect(hostname: hostname, family: family, port: 0, address: "")
            } else {
                self = .connect(hostname: hostname, family: family, port: try reader.uint16(), address: try reader.cString())
            }
        case MilterCommandCode.helo: self = .helo(try reader.cString())
        case MilterCommandCode.unknown: self = .unknown(try reader.cString())
        case MilterCommandCode.mail, MilterCommandCode.recipient:
            var arguments: [String] = []
            while !reader.isAtEnd { arguments.append(try reader.cString()) }
            self = packet.code == MilterCommandCode.mail ? .mail(arguments) : .recipient(arguments)
        case MilterCommandCode.header: self = .header(name: try reader.cString(), value: try reader.cString())
        case MilterCommandCode.body: self = .body(reader.rest())
        case MilterCommandCode.data: self = .data
        case MilterCommandCode.endOfHeaders: self = .endOfHeaders
        case MilterCommandCode.endOfBody: self = .endOfMessage
        case MilterCommandCode.abort: self = .abort
        case MilterCommandCode.quit: self = .quit
        case MilterCommandCode.quitNewConnection: self = .quitNewConnection
        default: throw .malformedPacket("unknown command \(packet)")
        }
        try reader.finish()
    }
}
