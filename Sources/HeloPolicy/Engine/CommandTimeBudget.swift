/// How long heloguard may take to answer one SMTP command.
///
/// The MTA waits for a milter's answer at most `milter_command_timeout` (Postfix: 30 s by
/// default), then applies its default action to the whole session. Within one evaluation two
/// things take time: `sleep` restrictions and DNS lookups, which the session resolver bounds to
/// about one `dns_timeout` per evaluation (after one lookup ran into the deadline it asks no
/// more). So the rule is: every `sleep` of a list (classes expanded) plus `dns_timeout` must
/// fit in ``seconds``, which leaves a margin below Postfix's 30 s for the MTA and the rest of
/// the work. A configuration that could exceed it is refused at load (file:line); a `sleep` in
/// an access-table result that would exceed it is cut short at run time and logged.
public enum CommandTimeBudget {
    /// Postfix's default `milter_command_timeout`, in seconds.
    public static let milterCommandTimeout = 30
    /// The most one evaluation may spend sleeping and waiting for DNS, in seconds.
    public static let seconds = 25

    /// The seconds the sleeps of `list` can add up to in one evaluation, each class counted
    /// every time it is named (class cycles are refused elsewhere; `depth` stops them here too).
    static func sleepSeconds(in list: [Restriction], classes: [String: [Restriction]], depth: Int = 0) -> Int {
        guard depth < 20 else { return 0 }
        return list.reduce(0) { total, restriction in
            switch restriction {
            case .sleep(let seconds): return total + seconds
            case .restrictionClass(let name):
                return total + sleepSeconds(in: classes[name] ?? [], classes: classes, depth: depth + 1)
            default: return total
            }
        }
    }

    /// The problems of a configuration: `dns_timeout` alone over the budget, or the HELO list's
    /// sleeps and `dns_timeout` together.
    static func diagnostics(heloRestrictions: [Restriction], classes: [String: [Restriction]], dnsTimeoutSeconds: Int,
                            listLocation: SourceLocation?, dnsTimeoutLocation: SourceLocation?) -> [ConfigDiagnostic] {
        let why = "so that heloguard answers each SMTP command within \(seconds) s, before Postfix's milter_command_timeout (\(milterCommandTimeout) s) gives up on it"
        if dnsTimeoutSeconds > seconds {
            return [.error(dnsTimeoutLocation, "dns_timeout = \(dnsTimeoutSeconds)s: at most \(seconds)s, \(why)")]
        }
        let sleeps = sleepSeconds(in: heloRestrictions, classes: classes)
        guard sleeps + dnsTimeoutSeconds > seconds else { return [] }
        return [.error(listLocation, "smtpd_helo_restrictions can sleep \(sleeps) s in one evaluation, and with dns_timeout "
                       + "(\(dnsTimeoutSeconds) s) that is more than \(seconds) s: shorten the sleeps or dns_timeout, \(why)")]
    }

    /// The seconds a `sleep` may still take in an evaluation that has slept `slept` seconds.
    static func allowedSleep(_ requested: Int, slept: Int, dnsTimeoutMilliseconds: Int) -> Int {
        let dns = (dnsTimeoutMilliseconds + 999) / 1000
        return max(0, min(requested, seconds - dns - slept))
    }
}
