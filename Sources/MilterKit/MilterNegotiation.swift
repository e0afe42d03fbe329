/// Message changes a filter may request (libmilter's SMFIF_* action flags).
public struct MilterActions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let addHeaders = MilterActions(rawValue: 0x001)
    public static let changeBody = MilterActions(rawValue: 0x002)
    public static let addRecipients = MilterActions(rawValue: 0x004)
    public static let deleteRecipients = MilterActions(rawValue: 0x008)
    public static let changeHeaders = MilterActions(rawValue: 0x010)
    public static let quarantine = MilterActions(rawValue: 0x020)
    public static let changeSender = MilterActions(rawValue: 0x040)
    public static let addRecipientsWithParameters = MilterActions(rawValue: 0x080)
    public static let setSymbolList = MilterActions(rawValue: 0x100)
}

/// Events the MTA may leave out or need not wait for (libmilter's SMFIP_* protocol flags).
public struct MilterSteps: OptionSet, Sendable, Hashable {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }

    public static let noConnect = MilterSteps(rawValue: 0x0000_0001)
    public static let noHelo = MilterSteps(rawValue: 0x0000_0002)
    public static let noMail = MilterSteps(rawValue: 0x0000_0004)
    public static let noRecipient = MilterSteps(rawValue: 0x0000_0008)
    public static let noBody = MilterSteps(rawValue: 0x0000_0010)
    public static let noHeaders = MilterSteps(rawValue: 0x0000_0020)
    public static let noEndOfHeaders = MilterSteps(rawValue: 0x0000_0040)
    public static let noReplyHeader = MilterSteps(rawValue: 0x0000_0080)
    public static let noUnknown = MilterSteps(rawValue: 0x0000_0100)
    public static let noData = MilterSteps(rawValue: 0x0000_0200)
    public static let skip = MilterSteps(rawValue: 0x0000_0400)
    public static let rejectedRecipients = MilterSteps(rawValue: 0x0000_0800)
    public static let noReplyConnect = MilterSteps(rawValue: 0x0000_1000)
    public static let noReplyHelo = MilterSteps(rawValue: 0x0000_2000)
    public static let noReplyMail = MilterSteps(rawValue: 0x0000_4000)
    public static let noReplyRecipient = MilterSteps(rawValue: 0x0000_8000)
    public static let noReplyData = MilterSteps(rawValue: 0x0001_0000)
    public static let noReplyUnknown = MilterSteps(rawValue: 0x0002_0000)
    public static let noReplyEndOfHeaders = MilterSteps(rawValue: 0x0004_0000)
    public static let noReplyBody = MilterSteps(rawValue: 0x0008_0000)
    public static let headerLeadingSpace = MilterSteps(rawValue: 0x0010_0000)
}

/// The stages a macro list can be set for (libmilter's SMFIM_* numbers).
public enum MilterStage: Int32, Sendable, Hashable, CaseIterable {
    case connect = 0
    case helo = 1
    case mail = 2
    case recipient = 3
    case data = 4
    case endOfMessage = 5
    case endOfHeaders = 6
}

/// What a filter asks of the MTA when a connection starts: the message changes it may make,
/// the events it can do without, and the macros it wants at each stage.
public struct MilterNegotiation: Sendable, Hashable {
    public var actions: MilterActions
    public var steps: MilterSteps
    public var macros: [MilterStage: [String]] {
        didSet { macroLists = Self.lists(macros) }
    }
    /// ``macros`` as `smfi_setsymlist` takes them: one space-separated, NUL-terminated list per
    /// stage that names any, in stage order, made once here rather than at every connection.
    public private(set) var macroLists: [MacroList]

    /// One stage's macro names as a C string.
    public struct MacroList: Sendable, Hashable {
        public let stage: MilterStage
        public let cString: [CChar]
    }

    public init(actions: MilterActions, steps: MilterSteps, macros: [MilterStage: [String]] = [:]) {
        self.actions = actions
        self.steps = steps
        self.macros = macros
        self.macroLists = Self.lists(macros)
    }

    private static func lists(_ macros: [MilterStage: [String]]) -> [MacroList] {
        macros.filter { !$0.value.isEmpty }.sorted { $0.key.rawValue < $1.key.rawValue }.map {
            MacroList(stage: $0.key, cString: $0.value.joined(separator: " ").utf8CString.map { $0 })
        }
    }
}

/// The callbacks whose reply can be negotiated away.
enum MilterEvent: Sendable, Hashable {
    case connect, helo, mail, recipient, data

    /// The step that, once the MTA agreed to it, makes this callback answer "no reply".
    var noReplyStep: MilterSteps {
        switch self {
        case .connect: .noReplyConnect
        case .helo: .noReplyHelo
        case .mail: .noReplyMail
        case .recipient: .noReplyRecipient
        case .data: .noReplyData
        }
    }
}

extension MilterNegotiation {
    static let allNoReplySteps: MilterSteps = [
        .noReplyConnect, .noReplyHelo, .noReplyMail, .noReplyRecipient, .noReplyData,
        .noReplyUnknown, .noReplyEndOfHeaders, .noReplyBody, .noReplyHeader,
    ]
}
