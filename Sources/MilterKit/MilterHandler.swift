/// One SMTP connection's filter. libmilter calls it from its worker threads, one callback at a
/// time per connection (never two at once), but not always from the same thread, so an
/// implementation keeps its state in its own properties and nowhere thread-bound.
public protocol MilterHandler: AnyObject {
    /// What to ask the MTA for when the connection starts (the first callback of a connection).
    func negotiation() -> MilterNegotiation
    func connect(client: MilterClient, context: any MilterContext) -> MilterResponse
    func helo(_ name: String, context: any MilterContext) -> MilterResponse
    /// MAIL FROM: the sender (angle brackets kept) then the ESMTP parameters.
    func mail(_ arguments: [String], context: any MilterContext) -> MilterResponse
    /// RCPT TO: the recipient (angle brackets kept) then the ESMTP parameters.
    func recipient(_ arguments: [String], context: any MilterContext) -> MilterResponse
    func data(context: any MilterContext) -> MilterResponse
    func endOfMessage(context: any MilterContext) -> MilterResponse
    /// The transaction ended without a message (RSET, repeated HELO, STARTTLS, end of message).
    func abort(context: any MilterContext)
    /// The connection is closing; the handler is released after this.
    func close(context: any MilterContext)
}

/// Makes the handler for each new connection. Shared by all of libmilter's threads.
public protocol MilterHandlerFactory: Sendable {
    func makeHandler() -> any MilterHandler
}
