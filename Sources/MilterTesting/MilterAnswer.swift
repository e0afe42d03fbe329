import MilterKit

/// The milter's answer to SMFIC_OPTNEG.
public struct MilterAgreement: Equatable, Sendable {
    /// The protocol version the milter speaks.
    public var version: UInt32
    /// The actions the milter may request (a subset of what the MTA offered).
    public var actions: MilterActions
    /// The events the milter does not want (SMFIP_NO*), the replies it will not send
    /// (SMFIP_NR_*), and other protocol options.
    public var steps: MilterSteps
    /// Macro lists the milter asked for (`smfi_setsymlist`), per stage, exactly as sent:
    /// names separated by spaces, e.g. `j {daemon_addr}`. They replace the MTA's own lists.
    public var macroLists: [MilterStage: String]

    public init(version: UInt32 = milterProtocolVersion, actions: MilterActions = [],
                steps: MilterSteps = [], macroLists: [MilterStage: String] = [:]) {
        self.version = version
        self.actions = actions
        self.steps = steps
        self.macroLists = macroLists
    }

    /// The macro names the milter asked for at `stage`, split as Postfix splits them
    /// (on spaces, commas, tabs and line breaks); nil when it sent no list for that stage.
    public func macroNames(at stage: MilterStage) -> [String]? {
        macroLists[stage].map(splitMacroList)
    }
}

/// Splits a macro list (`j {daemon_addr}`, `i, {rcpt_addr}`) into names.
func splitMacroList(_ list: String) -> [String] {
    list.split(whereSeparator: { " ,\t\r\n".contains($0) }).map(String.init)
}

/// A milter's decision about an event: the reply that ends an exchange.
public enum MilterDecision: Equatable, Sendable, CustomStringConvertible {
    /// SMFIR_CONTINUE: go on.
    case `continue`
    /// SMFIR_ACCEPT: accept; no more events for this message (or, at connect/HELO, this session).
    case accept
    /// SMFIR_REJECT: reject without own text (Postfix: `550 5.7.1 Command rejected`).
    case reject
    /// SMFIR_TEMPFAIL: temporary failure without own text
    /// (Postfix: `451 4.7.1 Service unavailable - try again later`).
    case tempfail
    /// SMFIR_DISCARD: accept, then silently drop the message.
    case discard
    /// SMFIR_REPLYCODE: reject or tempfail with the milter's own reply, exactly as sent:
    /// `550 5.7.1 text`, or several lines joined by CR LF (`550-5.7.1 a\r\n550 5.7.1 b`).
    /// `%` is still doubled as on the wire.
    case replyCode(String)
    /// SMFIR_SKIP: send no more events of this kind (body chunks) for this message.
    case skip
    /// SMFIR_SHUTDOWN: end the SMTP session with 421.
    case shutdown
    /// SMFIR_CONN_FAIL: make the connection fail.
    case connectionFailure

    public var description: String {
        switch self {
        case .continue: "continue"
        case .accept: "accept"
        case .reject: "reject"
        case .tempfail: "tempfail"
        case .discard: "discard"
        case .replyCode(let text): "replyCode(\(text.debugDescription))"
        case .skip: "skip"
        case .shutdown: "shutdown"
        case .connectionFailure: "connectionFailure"
        }
    }
}

/// A request the milter makes before its final decision, in the order it made them: the
/// message modifications libmilter allows at end of message, a quarantine, or a progress note.
public enum MilterRequest: Equatable, Sendable {
    /// SMFIR_ADDHEADER: append a header field.
    case addHeader(name: String, value: String)
    /// SMFIR_INSHEADER: insert a header field at `index` (0 = the top).
    case insertHeader(index: UInt32, name: String, value: String)
    /// SMFIR_CHGHEADER: change the `index`-th (1-based) field called `name`; an empty value deletes it.
    case changeHeader(index: UInt32, name: String, value: String)
    /// SMFIR_ADDRCPT: add a recipient.
    case addRecipient(String)
    /// SMFIR_ADDRCPT_PAR: add a recipient with ESMTP parameters (nil when none were sent).
    case addRecipientWithParameters(String, parameters: String?)
    /// SMFIR_DELRCPT: remove a recipient.
    case deleteRecipient(String)
    /// SMFIR_CHGFROM: replace the envelope sender, optionally with ESMTP parameters.
    case changeSender(String, parameters: String?)
    /// SMFIR_REPLBODY: a chunk of the replacement body.
    case replaceBody([UInt8])
    /// SMFIR_QUARANTINE: put the message on hold, with a reason.
    case quarantine(reason: String)
    /// SMFIR_PROGRESS: "still working"; resets the MTA's timeout.
    case progress

    /// Whether the MTA accepts this request only after end of message (everything but
    /// quarantine and progress, which Postfix also takes at earlier events).
    public var isMessageModification: Bool {
        switch self {
        case .quarantine, .progress: false
        default: true
        }
    }
}

/// One packet from the milter, decoded.
public enum MilterAnswer: Equatable, Sendable {
    /// The answer to SMFIC_OPTNEG.
    case negotiation(MilterAgreement)
    /// A decision that ends the exchange for the current event.
    case decision(MilterDecision)
    /// A request that comes before the decision.
    case request(MilterRequest)

    /// The packet as a milter sends it (for tests that play the milter).
    public var packet: MilterPacket {
        var payload: [UInt8] = []
        let code: UInt8
        switch self {
        case .negotiation(let agreement):
            code = MilterCommandCode.optionNegotiation
            payload.appendBigEndian(agreement.version)
            payload.appendBigEndian(UInt32(truncatingIfNeeded: agreement.actions.rawValue))
            payload.appendBigEndian(UInt32(truncatingIfNeeded: agreement.steps.rawValue))
            for (stage, list) in agreement.macroLists.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                payload.appendBigEndian(UInt32(stage.rawValue))
                payload.appendCString(list)
            }
        case .decision(let decision):
            switch decision {
            case .continue: code = MilterReplyCode.continue
            case .accept: code = MilterReplyCode.accept
            case .reject: code = MilterReplyCode.reject
            case .tempfail: code = MilterReplyCode.tempfail
            case .discard: code = MilterReplyCode.discard
            case .skip: code = MilterReplyCode.skip
            case .shutdown: code = MilterReplyCode.shutdown
            case .connectionFailure: code = MilterReplyCode.connectionFailure
            case .replyCode(let text):
                code = MilterReplyCode.replyCode
                payload.appendCString(text)
            }
        case .request(let request):
            switch request {
            case .addHeader(let name, let value):
                code = MilterReplyCode.addHeader
                payload.appendCString(name)
                payload.appendCString(value)
            case .insertHeader(let index, let name, let value), .changeHeader(let index, let name, let value):
                if case .insertHeader = request { code = MilterReplyCode.insertHeader } else { code = MilterReplyCode.changeHeader }
                payload.appendBigEndian(index)
                payload.appendCString(name)
                payload.appendCString(value)
            case .addRecipient(let recipient):
                code = MilterReplyCode.addRecipient
                payload.appendCString(recipient)
            case .deleteRecipient(let recipient):
                code = MilterReplyCode.deleteRecipient
                payload.appendCString(recipient)
            case .addRecipientWithParameters(let address, let parameters), .changeSender(let address, let parameters):
                if case .changeSender = request { code = MilterReplyCode.changeSender } else { code = MilterReplyCode.addRecipientWithParameters }
                payload.appendCString(address)
                if let parameters { payload.appendCString(parameters) }
            case .replaceBody(let chunk):
                code = MilterReplyCode.replaceBody
                payload = chunk
            case .quarantine(let reason):
                code = MilterReplyCode.quarantine
                payload.appendCString(reason)
            case .progress:
                code = MilterReplyCode.progress
            }
        }
        return MilterPacket(code: code, payload: payload)
    }

    /// Decodes a packet from the milter. Unknown letters, missing or surplus payload bytes
    /// are errors (Postfix treats them as a communication error too).
    public init(decoding packet: MilterPacket) throws(MTAClientError) {
        var reader = MilterPayloadReader(packet, what: "reply \(packet)")
        switch packet.code {
        case MilterCommandCode.optionNegotiation:
            var agreement = MilterAgreement(version: try reader.uint32(),
                                                actions: MilterActions(rawValue: UInt(try reader.uint32())),
                                                steps: MilterSteps(rawValue: UInt(try reader.uint32())))
            while !reader.isAtEnd {
                let stageNumber = try reader.uint32()
                let list = try reader.cString()
                // Postfix ignores (with a warning) a stage number it does not know.
                if let stage = MilterStage(rawValue: Int32(bitPattern: stageNumber)) { agreement.macroLists[stage] = list }
            }
            self = .negotiation(agreement)
        case MilterReplyCode.continue: self = .decision(.continue)
        case MilterReplyCode.accept: self = .decision(.accept)
        case MilterReplyCode.reject: self = .decision(.reject)
        case MilterReplyCode.tempfail: self = .decision(.tempfail)
        case MilterReplyCode.discard: self = .decision(.discard)
        case MilterReplyCode.skip: self = .decision(.skip)
        case MilterReplyCode.shutdown: self = .decision(.shutdown)
        case MilterReplyCode.connectionFailure: self = .decision(.connectionFailure)
        case MilterReplyCode.replyCode: self = .decision(.replyCode(try reader.cString()))
        case MilterReplyCode.addHeader: self = .request(.addHeader(name: try reader.cString(), value: try reader.cString()))
        case MilterReplyCode.insertHeader:
            self = .request(.insertHeader(index: try reader.uint32(), name: try reader.cString(), value: try reader.cString()))
        case MilterReplyCode.changeHeader:
            self = .request(.changeHeader(index: try reader.uint32(), name: try reader.cString(), value: try reader.cString()))
        case MilterReplyCode.addRecipient: self = .request(.addRecipient(try reader.cString()))
        case MilterReplyCode.deleteRecipient: self = .request(.deleteRecipient(try reader.cString()))
        case MilterReplyCode.addRecipientWithParameters:
            let recipient = try reader.cString()
            self = .request(.addRecipientWithParameters(recipient, parameters: reader.isAtEnd ? nil : try reader.cString()))
        case MilterReplyCode.changeSender:
            let sender = try reader.cString()
            self = .request(.changeSender(sender, parameters: reader.isAtEnd ? nil : try reader.cString()))
        case MilterReplyCode.replaceBody: self = .request(.replaceBody(reader.rest()))
        case MilterReplyCode.quarantine: self = .request(.quarantine(reason: try reader.cString()))
        case MilterReplyCode.progress: self = .request(.progress)
        default: throw .malformedPacket("unknown reply \(packet)")
        }
        try reader.finish()
    }
}
