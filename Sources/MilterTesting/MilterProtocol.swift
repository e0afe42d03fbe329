// Numbers and letters of the Sendmail milter wire protocol, version 6, as the MTA side uses
// them. Every value is fixed by the protocol (Sendmail's libmilter defines it in mfdef.h and
// mfapi.h; Postfix's milter8 client uses the same numbers). The action and protocol bits and
// the macro stages are MilterKit's (MilterActions, MilterSteps, MilterStage).
import MilterKit

/// The protocol version this client speaks and offers by default.
public let milterProtocolVersion: UInt32 = 6

extension MilterActions {
    /// Every action version 6 defines (0x1ff): what Postfix offers.
    public static let postfixOffer = MilterActions(rawValue: 0x1ff)
}

extension MilterSteps {
    /// Every event and protocol bit version 6 defines (0x1fffff): what Postfix offers.
    public static let postfixOffer = MilterSteps(rawValue: 0x1f_ffff)
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
