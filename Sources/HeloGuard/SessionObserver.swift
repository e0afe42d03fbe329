import HeloPolicy

/// Something that wants to see the decisions a ``HeloGuardSession`` makes, as the rule core
/// made them: `heloguard test` prints them, the metrics count them. Called on the session's
/// callback thread, in the session's order; an observer must not block.
public protocol SessionObserver: AnyObject {
    /// The HELO list ran at HELO time (`smtpd_delay_reject = no`) on `argument`.
    func decided(helo argument: String, _ decision: RecipientDecision)
    /// The decision for one RCPT TO (`recipient` as the MTA gave it).
    func decided(recipient: String, _ decision: RecipientDecision)
    /// MAIL FROM was refused (`smtpd_helo_required`); the MTA asks about no recipient.
    func decided(mail decision: RecipientDecision)
    /// MAIL FROM was answered with an acceptance of the whole message: no recipient can change
    /// it, so the MTA asks about none (their number is not known to the milter).
    func acceptedWholeMessage(_ decision: RecipientDecision)
}

extension SessionObserver {
    public func decided(mail decision: RecipientDecision) {}
    public func acceptedWholeMessage(_ decision: RecipientDecision) {}
}
