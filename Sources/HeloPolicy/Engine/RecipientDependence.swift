/// Whether the HELO restrictions of a configuration can give two recipients of one mail
/// transaction different answers. When they cannot, the answer worked out at MAIL FROM stands
/// for every recipient, and a milter may accept the whole message there (libmilter's
/// `SMFIS_ACCEPT` at MAIL, which Postfix and Sendmail scope to one message) instead of being
/// asked again at each RCPT TO, at DATA and at the end of the message.
///
/// Worked out once per loaded configuration, from the lists alone:
///
/// - With `smtpd_delay_reject = no` the list runs at HELO and every recipient gets the same
///   answer (a refusal, a `defer_if_permit` left pending at HELO, or nothing): independent.
/// - Otherwise the restrictions that can be reached are those of `smtpd_helo_restrictions`,
///   those of every restriction class named there, and, as soon as an access table can be
///   consulted (`check_helo_access`, `check_client_access`, `check_sender_access`,
///   `check_helo_{a,mx,ns}_access`, a bare `type:table`), every class of
///   `smtpd_restriction_classes`, since a table entry may name any of them.
/// - Two of those make the answer recipient-dependent: `check_recipient_access` (it reads the
///   recipient) and `sleep` (Postfix pauses once per recipient, at RCPT TO).
///
/// A table entry can name `sleep N` itself (it cannot name `check_recipient_access`: that needs
/// a table, and tables are refused inside table results); ``HeloPolicyEngine/decideForEveryRecipient(facts:heloDeferral:)``
/// catches that case when it happens.
///
/// Everything else reads only what is known by MAIL FROM: the client, the HELO name, the
/// sender, the SASL login, DNS answers (kept for the session) and the penalty box.
public struct RecipientDependence: Sendable, Hashable {
    /// The reachable restrictions that make the answer depend on the recipient, as written in
    /// the configuration (with the class they sit in); empty when none can be reached.
    public let restrictions: [String]

    /// True when the answer at MAIL FROM can stand for every recipient.
    public var isIndependent: Bool { restrictions.isEmpty }

    public init(_ config: PolicyConfig) {
        guard config.delayReject else {
            restrictions = []
            return
        }
        var found: [String] = []
        var visited: Set<String> = []
        var pending: [(list: [Restriction], owner: String?)] = [(config.heloRestrictions, nil)]
        var tablesReachable = false
        while !pending.isEmpty || tablesReachable && visited.count < config.restrictionClasses.count {
            guard let (list, owner) = pending.popLast() else {
                // An access table may name any class: all of them are reachable.
                for (name, list) in config.restrictionClasses.sorted(by: { $0.key < $1.key })
                where visited.insert(name).inserted {
                    pending.append((list, name))
                }
                continue
            }
            for restriction in list {
                switch restriction {
                case .checkRecipientAccess, .sleep:
                    found.append(owner.map { "\(restriction) (in class \($0))" } ?? restriction.description)
                case .restrictionClass(let name):
                    if let classList = config.restrictionClasses[name], visited.insert(name).inserted {
                        pending.append((classList, name))
                    }
                case .checkClientAccess, .checkHeloAccess, .checkSenderAccess, .checkHeloServerAccess:
                    tablesReachable = true
                default:
                    break
                }
            }
        }
        restrictions = found
    }
}

extension RecipientDecision {
    /// True for an acceptance with nothing attached: no message action (HOLD, PREPEND,
    /// REDIRECT, BCC, FILTER), no DISCARD, no log line (WARN, INFO, `reject_warning`, DNS or
    /// configuration warnings) and no penalty. Only such a decision may be answered once for a
    /// whole message: everything else needs the recipient's own event (its log line) or the end
    /// of the message (its action).
    public var isPlainAcceptance: Bool {
        verdict == .accept && actions.isEmpty && events.isEmpty && penalty == nil
    }
}
