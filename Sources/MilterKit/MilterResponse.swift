/// What a callback tells the MTA about the current command (libmilter's `sfsistat`).
public enum MilterResponse: Sendable, Hashable {
    /// Go on; ask me about the next event.
    case `continue`
    /// Accept this message (or, at connect/HELO, the whole session) without asking further.
    case accept
    /// Accept the command, then silently throw the message away.
    case discard
    /// Refuse: a 5xx custom reply, or the MTA's plain reject when nil.
    case reject(MilterReply?)
    /// Refuse for now: a 4xx custom reply, or the MTA's plain tempfail when nil.
    case tempfail(MilterReply?)

    /// Picks reject or tempfail by the reply's class, so a custom reply always travels with the
    /// status libmilter requires for it (a mismatched pair is silently replaced by the plain one).
    public static func refuse(_ reply: MilterReply) -> MilterResponse {
        reply.isPermanent ? .reject(reply) : .tempfail(reply)
    }
}
