// Numbers and letters of the Sendmail milter wire protocol, version 6, as the MTA side uses
// them. Every value is fixed by the protocol (Sendmail's libmilter defines it in mfdef.h and
// mfapi.h; Postfix's milter8 client uses the same numbers).

/// The protocol version this client speaks and offers by default.
public let milterProtocolVersion: UInt32 = 6

/// What the MTA allows the milter to do (the "actions" word of SMFIC_OPTNEG, SMFIF_* bits).
public struct MilterActions: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// SMFIF_ADDHDRS: add headers.
    public static let addHeaders = MilterActions(rawValue: 0x001)
    /// SMFIF_CHGBODY: replace the body.
    public static let changeBody = MilterActions(rawValue: 0x002)
    /// SMFIF_ADDRCPT: add recipients.
    public static let addRecipients = MilterActions(rawValue: 0x004)
    /// SMFIF_DELRCPT: delete recipients.
    public static let deleteRecipients = MilterActions(rawValue: 0x008)
    /// SMFIF_CHGHDRS: change or delete headers (also needed for inserting one).
    public static let changeHeaders = MilterActions(rawValue: 0x010)
    /// SMFIF_QUARANTINE: put the message on hold.
    public static let quarantine = MilterActions(rawValue: 0x020)
    /// SMFIF_CHGFROM: change the envelope sender.
    public static let changeSender = MilterActions(rawValue: 0x040)
    /// SMFIF_ADDRCPT_PAR: add recipients with ESMTP parameters.
    public static let addRecipientsWithParameters = MilterActions(rawValue: 0x080)
    /// SMFIF_SETSYMLIST: choose the macros sent at each stage.
    public static let setMacroLists = MilterActions(rawValue: 0x100)

    /// Everything version 6 defines (0x1ff): what Postfix offers.
    public static let all = MilterActions(rawValue: 0x1ff)

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// Which events the milter wants and which replies it will send (the "protocol" word of
/// SMFIC_OPTNEG, SMFIP_* bits). The MTA offers a set; the milter answers with the subset it wants.
public struct MilterProtocolFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// SMFIP_NOCONNECT: do not send the connect event.
    public static let noConnect = MilterProtocolFlags(rawValue: 0x0000_0001)
    /// SMFIP_NOHELO: do not send HELO/EHLO.
    public static let noHelo = MilterProtocolFlags(rawValue: 0x0000_0002)
    /// SMFIP_NOMAIL: do not send MAIL FROM.
    public static let noMail = MilterProtocolFlags(rawValue: 0x0000_0004)
    /// SMFIP_NORCPT: do not send RCPT TO.
    public static let noRecipient = MilterProtocolFlags(rawValue: 0x0000_0008)
    /// SMFIP_NOBODY: do not send body chunks.
    public static let noBody = MilterProtocolFlags(rawValue: 0x0000_0010)
    /// SMFIP_NOHDRS: do not send headers.
    public static let noHeaders = MilterProtocolFlags(rawValue: 0x0000_0020)
    /// SMFIP_NOEOH: do not send end of headers.
    public static let noEndOfHeaders = MilterProtocolFlags(rawValue: 0x0000_0040)
    /// SMFIP_NR_HDR: no reply to headers.
    public static let noReplyToHeaders = MilterProtocolFlags(rawValue: 0x0000_0080)
    /// SMFIP_NOUNKNOWN: do not send unknown SMTP commands.
    public static let noUnknown = MilterProtocolFlags(rawValue: 0x0000_0100)
    /// SMFIP_NODATA: do not send DATA.
    public static let noData = MilterProtocolFlags(rawValue: 0x0000_0200)
    /// SMFIP_SKIP: the MTA understands SMFIR_SKIP.
    public static let skip = MilterProtocolFlags(rawValue: 0x0000_0400)
    /// SMFIP_RCPT_REJ: also send recipients the MTA itself rejected.
    public static let rejectedRecipients = MilterProtocolFlags(rawValue: 0x0000_0800)
    /// SMFIP_NR_CONN: no reply to connect.
    public static let noReplyToConnect = MilterProtocolFlags(rawValue: 0x0000_1000)
    /// SMFIP_NR_HELO: no reply to HELO.
    public static let noReplyToHelo = MilterProtocolFlags(rawValue: 0x0000_2000)
    /// SMFIP_NR_MAIL: no reply to MAIL.
    public static let noReplyToMail = MilterProtocolFlags(rawValue: 0x0000_4000)
    /// SMFIP_NR_RCPT: no reply to RCPT.
    public static let noReplyToRecipient = MilterProtocolFlags(rawValue: 0x0000_8000)
    /// SMFIP_NR_DATA: no reply to DATA.
    public static let noReplyToData = MilterProtocolFlags(rawValue: 0x0001_0000)
    /// SMFIP_NR_UNKN: no reply to unknown commands.
    public static let noReplyToUnknown = MilterProtocolFlags(rawValue: 0x0002_0000)
    /// SMFIP_NR_EOH: no reply to end of headers.
    public static let noReplyToEndOfHeaders = MilterProtocolFlags(rawValue: 0x0004_0000)
    /// SMFIP_NR_BODY: no reply to body chunks.
    public static let noReplyToBody = MilterProtocolFlags(rawValue: 0x0008_0000)
    /// SMFIP_HDR_LEADSPC: header values keep their leading space.
    public static let headerLeadingSpace = MilterProtocolFlags(rawValue: 0x0010_0000)

    /// Every bit version 6 defines (0x1fffff): what Postfix offers.
    public static let all = MilterProtocolFlags(rawValue: 0x001f_ffff)

    public var description: String { "0x" + String(rawValue, radix: 16) }
}

/// The stages a milter can name in its macro lists (SMFIM_*), numbered as in the SMFIC_OPTNEG reply.
public enum MilterMacroStage: UInt32, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case connect = 0
    case helo = 1
    case mail = 2
    case recipient = 3
    case data = 4
    case endOfMessage = 5
    case endOfHeaders = 6

    public var description: String {
        switch self {
        case .connect: "connect"
        case .helo: "helo"
        case .mail: "mail"
        case .recipient: "rcpt"
        case .data: "data"
        case .endOfMessage: "eom"
        case .endOfHeaders: "eoh"
        }
    }
}

/// Command letters the MTA sends (SMFIC_*).
public enum MilterCommandCode {
    public static let abort = UInt8(ascii: "A")
    public static let body = UInt8(ascii: "B")
    public static let connect = UInt8(ascii: "C")
    public static let macro = UInt8(ascii: "D")
    public static let endOfBody = UInt8(ascii: "E")
    public static let helo = UInt8(ascii: "H")
    public static let quitNewConnection = UInt8(ascii: "K")
    public static let header = UInt8(ascii: "L")
    public static let mail = UInt8(ascii: "M")
    public static let endOfHeaders = UInt8(ascii: "N")
    public static let optionNegotiation = UInt8(ascii: "O")
    public static let quit = UInt8(ascii: "Q")
    public static let recipient = UInt8(ascii: "R")
    public static let data = UInt8(ascii: "T")
    public static let unknown = UInt8(ascii: "U")
}

/// Reply letters the milter sends (SMFIR_*).
public enum MilterReplyCode {
    public static let addRecipient = UInt8(ascii: "+")
    public static let deleteRecipient = UInt8(ascii: "-")
    public static let addRecipientWithParameters = UInt8(ascii: "2")
    public static let shutdown = UInt8(ascii: "4")
    public static let accept = UInt8(ascii: "a")
    public static let replaceBody = UInt8(ascii: "b")
    public static let `continue` = UInt8(ascii: "c")
    public static let discard = UInt8(ascii: "d")
    public static let changeSender = UInt8(ascii: "e")
    public static let connectionFailure = UInt8(ascii: "f")
    public static let addHeader = UInt8(ascii: "h")
    public static let insertHeader = UInt8(ascii: "i")
    public static let setMacroList = UInt8(ascii: "l")
    public static let changeHeader = UInt8(ascii: "m")
    public static let progress = UInt8(ascii: "p")
    public static let quarantine = UInt8(ascii: "q")
    public static let reject = UInt8(ascii: "r")
    public static let skip = UInt8(ascii: "s")
    public static let tempfail = UInt8(ascii: "t")
    public static let replyCode = UInt8(ascii: "y")
}

/// The client's address family letter in SMFIC_CONNECT (SMFIA_*).
public enum MilterAddressFamily: UInt8, Sendable, Hashable {
    /// SMFIA_UNKNOWN: no address follows.
    case unknown = 0x55 // "U"
    /// SMFIA_UNIX: a local socket; the address is a path.
    case unix = 0x4c // "L"
    /// SMFIA_INET: IPv4.
    case inet = 0x34 // "4"
    /// SMFIA_INET6: IPv6.
    case inet6 = 0x36 // "6"
}
