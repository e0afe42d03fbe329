import HeloPolicy

/// How `heloguard test` prints a session outcome: plain lines, JSON, or an explanation. The
/// CLI's own output format; the rule core only supplies the decisions.
enum OutcomeRendering {
    /// The reply an accepted recipient gets from Postfix.
    static let acceptedReply = "250 2.1.5 Ok"

    /// One line per recipient: `RCPT <recipient>: <reply>`; with delayed rejection off, a
    /// `HELO <name>: <reply>` line for each refused HELO comes first.
    static func plain(_ outcome: SessionOutcome) -> String {
        var lines: [String] = []
        for helo in outcome.helos {
            if let refusal = helo.refusal { lines.append("HELO \(helo.argument): \(refusal.line)") }
        }
        for result in outcome.recipients {
            lines.append("RCPT \(result.recipient): \(result.decision.verdict.reply?.line ?? acceptedReply)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `{"recipients":[{"recipient":…,"action":…,"reply":…,"restriction":…}]}` on one line.
    static func json(_ outcome: SessionOutcome) -> String {
        let items = outcome.recipients.map { result -> String in
            let decision = result.decision
            let reply = decision.verdict.reply.map { jsonString($0.line) } ?? "null"
            let restriction = decision.decidingRestriction.map(jsonString) ?? "null"
            return "{\"recipient\":\(jsonString(result.recipient)),\"action\":\(jsonString(decision.actionName)),\"reply\":\(reply),\"restriction\":\(restriction)}"
        }
        return "{\"recipients\":[\(items.joined(separator: ","))]}\n"
    }

    /// For each recipient: every restriction evaluated with its result, table hits with table,
    /// key and line, message actions and log events.
    static func explain(_ outcome: SessionOutcome) -> String {
        var lines: [String] = []
        for helo in outcome.helos {
            lines.append("HELO \(helo.argument): \(helo.refusal?.line ?? "250 accepted")")
        }
        for result in outcome.recipients {
            let decision = result.decision
            lines.append("RCPT \(result.recipient): \(decision.verdict.reply?.line ?? acceptedReply) [\(decision.actionName)]")
            for step in decision.trace { lines.append("  " + step.description) }
            let actions = decision.actions
            if let hold = actions.hold { lines.append("  action: HOLD (\(hold))") }
            for header in actions.prependHeaders { lines.append("  action: PREPEND \(header)") }
            if let redirect = actions.redirect { lines.append("  action: REDIRECT \(redirect)") }
            for bcc in actions.bcc { lines.append("  action: BCC \(bcc)") }
            if let filter = actions.filter { lines.append("  action: FILTER \(filter) (not possible for a milter: logged only)") }
            for event in decision.events { lines.append("  log: \(event)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A JSON string literal with every character outside printable ASCII escaped.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u" + hex4(scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(value >> 12 & 0xF)], digits[Int(value >> 8 & 0xF)],
                       digits[Int(value >> 4 & 0xF)], digits[Int(value & 0xF)]])
    }
}
