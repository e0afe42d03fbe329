internal import CMilter
#if canImport(Glibc)
import Glibc
#endif

// The functions libmilter calls. They are top-level functions of a library target on purpose:
// a closure written in an executable's main.swift would inherit main-actor isolation and trap
// when a libmilter worker thread calls it. Each one finds the connection's handler through
// smfi_getpriv, turns C arguments into Swift values, and maps the handler's answer to sfsistat.

/// What one libmilter connection carries between callbacks: its handler and the events whose
/// reply was negotiated away (those callbacks must answer "no reply").
final class MilterConnection {
    let handler: any MilterHandler
    /// The steps the MTA agreed to at negotiation (the no-reply ones decide which callbacks
    /// answer "no reply").
    var agreedSteps: MilterSteps = []
    /// The handler has been told about the client (a connect event, or its stand-in made from
    /// the connect macros when the MTA skips the event).
    var connected = false

    init(handler: any MilterHandler) {
        self.handler = handler
    }
}

/// Set once by ``MilterRunner`` before libmilter starts its threads, read-only afterwards.
enum MilterRegistration {
    nonisolated(unsafe) static var factory: (any MilterHandlerFactory)?
    /// Over TCP the MTA's small writes without a read in between wait on Nagle's algorithm and
    /// delayed ACKs (~40 ms each), so no step is made reply-less and DATA stays on.
    nonisolated(unsafe) static var overNetwork = false
}

private func connection(_ context: OpaquePointer?) -> MilterConnection? {
    guard let context, let raw = CMilter_getpriv(context) else { return nil }
    return Unmanaged<MilterConnection>.fromOpaque(raw).takeUnretainedValue()
}

/// The connection's state, made on first use (negotiation normally; connect if an MTA skipped it).
private func connectionCreatingIfNeeded(_ context: OpaquePointer) -> MilterConnection? {
    if let existing = connection(context) { return existing }
    // Called in place: binding the factory first would copy the existential at every connection.
    guard let handler = MilterRegistration.factory?.makeHandler() else { return nil }
    let created = MilterConnection(handler: handler)
    guard CMilter_setpriv(context, Unmanaged.passRetained(created).toOpaque()) == 0 else {
        Unmanaged.passUnretained(created).release()
        return nil
    }
    return created
}

private func status(_ response: MilterResponse, _ event: MilterEvent?, _ connection: MilterConnection, _ context: OpaquePointer) -> Int32 {
    if let event, connection.agreedSteps.contains(event.noReplyStep) {
        // The MTA will not read a reply; a refusal here would be a programming error of the handler.
        return Int32(CMilter_NOREPLY)
    }
    switch response {
    case .continue: return Int32(CMilter_CONTINUE)
    case .accept: return Int32(CMilter_ACCEPT)
    case .discard: return Int32(CMilter_DISCARD)
    case .reject(let reply), .tempfail(let reply):
        var code = response.isPermanentRefusal ? Int32(CMilter_REJECT) : Int32(CMilter_TEMPFAIL)
        if let reply, !LibmilterContext(pointer: context).setReply(reply) {
            // libmilter refused the text: fall back to the MTA's plain temporary refusal rather
            // than risk a permanent one caused by our own failure.
            code = Int32(CMilter_TEMPFAIL)
        }
        return code
    }
}

extension MilterResponse {
    var isPermanentRefusal: Bool {
        if case .reject = self { return true }
        return false
    }
}

func milterNegotiate(_ context: OpaquePointer?, _ actionsOffered: UInt, _ stepsOffered: UInt,
                     _ actionsWanted: UnsafeMutablePointer<UInt>?, _ stepsWanted: UnsafeMutablePointer<UInt>?) -> Int32 {
    guard let context, let actionsWanted, let stepsWanted,
          let connection = connectionCreatingIfNeeded(context)
    else { return Int32(CMilter_ALL_OPTS) }
    var wish = connection.handler.negotiation()
    if MilterRegistration.overNetwork {
        wish.steps.subtract(MilterNegotiation.allNoReplySteps)
        wish.steps.remove(.noData)
    }
    let offeredSteps = MilterSteps(rawValue: stepsOffered)
    let offeredActions = MilterActions(rawValue: actionsOffered)
    var steps = wish.steps.intersection(offeredSteps)
    let actions = wish.actions.intersection(offeredActions)
    // Without our own macro lists the MTA's defaults may lack the client macros that stand in
    // for a skipped connect event: then take the event.
    if !actions.contains(.setSymbolList) { steps.remove(.noConnect) }
    actionsWanted.pointee = actions.rawValue
    stepsWanted.pointee = steps.rawValue
    connection.agreedSteps = steps
    if actions.contains(.setSymbolList) {
        for list in wish.macroLists {
            _ = list.cString.withUnsafeBufferPointer { CMilter_setsymlist(context, list.stage.rawValue, $0.baseAddress) }
        }
    }
    return Int32(CMilter_CONTINUE)
}

func milterConnect(_ context: OpaquePointer?, _ hostname: UnsafePointer<CChar>?, _ address: UnsafeRawPointer?) -> Int32 {
    guard let context, let connection = connectionCreatingIfNeeded(context) else { return Int32(CMilter_TEMPFAIL) }
    var port: Int32 = 0
    // On the stack: the longest address text (IPv6 with a scope) is well under 64 bytes.
    let (family, addressText) = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
        text.initialize(repeating: 0)
        let family = CMilter_decodeaddress(address, text.baseAddress, text.count, &port)
        return (family, String(cString: text.baseAddress!))
    }
    let client = MilterClient(
        hostname: hostname.map { String(cString: $0) } ?? "",
        address: addressText,
        port: Int(port),
        family: family == 4 ? .inet4 : family == 6 ? .inet6 : family == Int32(UInt8(ascii: "L")) ? .local : .unknown)
    connection.connected = true
    let response = connection.handler.connect(client: client, context: LibmilterContext(pointer: context))
    return status(response, .connect, connection, context)
}

/// The connection of `context`, its handler told about the client first when the MTA skipped the
/// connect event (`SMFIP_NOCONNECT` agreed): from the connect macros, which the MTA sends anyway,
/// at the first event after it. That stand-in has no reply of its own; the event's reply counts.
private func connectedConnection(_ context: OpaquePointer) -> MilterConnection? {
    guard let connection = connection(context) else { return nil }
    if !connection.connected, connection.agreedSteps.contains(.noConnect) {
        connection.connected = true
        let macros = LibmilterContext(pointer: context)
        let client = MilterClient(connectMacros: macros.macro("{client_name}"), address: macros.macro("{client_addr}"),
                                  port: macros.macro("{client_port}"))
        _ = connection.handler.connect(client: client, context: macros)
    }
    return connection
}

func milterHelo(_ context: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    guard let context, let connection = connectedConnection(context) else { return Int32(CMilter_TEMPFAIL) }
    let response = connection.handler.helo(name.map { String(cString: $0) } ?? "", context: LibmilterContext(pointer: context))
    return status(response, .helo, connection, context)
}

private func arguments(_ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> [String] {
    guard let argv else { return [] }
    var result: [String] = []
    var index = 0
    while let item = argv[index] {
        result.append(String(cString: item))
        index += 1
    }
    return result
}

func milterMail(_ context: OpaquePointer?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let context, let connection = connectedConnection(context) else { return Int32(CMilter_TEMPFAIL) }
    let response = connection.handler.mail(arguments(argv), context: LibmilterContext(pointer: context))
    return status(response, .mail, connection, context)
}

func milterRecipient(_ context: OpaquePointer?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard let context, let connection = connectedConnection(context) else { return Int32(CMilter_TEMPFAIL) }
    let response = connection.handler.recipient(arguments(argv), context: LibmilterContext(pointer: context))
    return status(response, .recipient, connection, context)
}

func milterData(_ context: OpaquePointer?) -> Int32 {
    guard let context, let connection = connectedConnection(context) else { return Int32(CMilter_TEMPFAIL) }
    let response = connection.handler.data(context: LibmilterContext(pointer: context))
    return status(response, .data, connection, context)
}

func milterEndOfMessage(_ context: OpaquePointer?) -> Int32 {
    guard let context, let connection = connectedConnection(context) else { return Int32(CMilter_TEMPFAIL) }
    let response = connection.handler.endOfMessage(context: LibmilterContext(pointer: context))
    return status(response, nil, connection, context)
}

func milterAbort(_ context: OpaquePointer?) -> Int32 {
    if let context, let connection = connection(context) {
        connection.handler.abort(context: LibmilterContext(pointer: context))
    }
    return Int32(CMilter_CONTINUE)
}

func milterClose(_ context: OpaquePointer?) -> Int32 {
    // A close can come without a connect (the MTA gave up during negotiation): nothing to do then.
    guard let context, let raw = CMilter_getpriv(context) else { return Int32(CMilter_CONTINUE) }
    let connection = Unmanaged<MilterConnection>.fromOpaque(raw).takeRetainedValue()
    _ = CMilter_setpriv(context, nil)
    connection.handler.close(context: LibmilterContext(pointer: context))
    return Int32(CMilter_CONTINUE)
}
