import PostfixSyntax

/// Which tables a lookup may consult: the whole search string goes to every table, the
/// shortened forms (parent domains, address prefixes, parts of an address) only to
/// fixed-string tables — Postfix's FULL and PARTIAL lookups.
enum LookupScope {
    case full
    case partial
}

extension Evaluation {
    /// One table lookup, honouring the scope. A pattern table is skipped for partial keys.
    func find(_ table: TableReference, _ key: String, _ scope: LookupScope) -> TableLookup {
        if scope == .partial && !table.table.matchesFixedStrings { return .notFound }
        return table.table.lookup(key)
    }

    /// Runs the result of a table hit (or a table failure) and records it for `--explain`.
    func resultOfLookup(
        _ table: TableReference, key: String, datum: String, answer: TableLookup,
        replyName: String, replyClass: ReplyClass
    ) throws(EvaluationAbort) -> CheckStatus? {
        switch answer {
        case .notFound:
            return nil
        case .found(let value, let line):
            let place = line.map { " line \($0)" } ?? ""
            recordNote("  \(table.spec)", "key \"\(key)\" matched\(place): \(value)")
            return try tableResult(table, value: value, datum: datum, replyName: replyName, replyClass: replyClass)
        case .failed(let reason):
            events.append(PolicyLogEvent(.warning, "\(table.spec): table lookup of \"\(key)\" failed: \(reason)"))
            recordNote("  \(table.spec)", "lookup of \"\(key)\" failed: \(reason)")
            return try tableResult(table, value: "451 4.3.5 Server configuration error", datum: datum,
                                   replyName: replyName, replyClass: replyClass)
        }
    }

    /// Postfix's `check_domain_access()`: the whole name, then (unless the name is a bare IP
    /// address) each parent domain, with or without the leading dot as configured.
    func lookupDomain(_ table: TableReference, _ domain: String, replyName: String, replyClass: ReplyClass) throws(EvaluationAbort) -> (CheckStatus, found: Bool) {
        let bytes = Array(domain.utf8)
        var start = 0
        var scope = LookupScope.full
        var mayBeAddress = true
        while start < bytes.count {
            let key = String(decoding: bytes[start...], as: UTF8.self)
            if let status = try resultOfLookup(table, key: key, datum: domain, answer: find(table, key, scope),
                                               replyName: replyName, replyClass: replyClass) {
                return (status, true)
            }
            if mayBeAddress {
                mayBeAddress = HostnameSyntax.isValidHostAddress(domain)
                if mayBeAddress { break }
            }
            guard let dot = bytes[(start + 1)...].firstIndex(of: UInt8(ascii: ".")) else { break }
            start = config.accessMapsMatchParentDomains ? dot + 1 : dot
            scope = .partial
        }
        return (.dunno, false)
    }

    /// Postfix's `check_addr_access()`: the address, then shorter prefixes cut at the last `.`
    /// (IPv4) or `:` (IPv6).
    func lookupAddress(_ table: TableReference, _ address: String, replyName: String, replyClass: ReplyClass) throws(EvaluationAbort) -> (CheckStatus, found: Bool) {
        let delimiter: Character = address.contains(":") ? ":" : "."
        var key = Substring(address)
        var scope = LookupScope.full
        while true {
            if let status = try resultOfLookup(table, key: String(key), datum: address, answer: find(table, String(key), scope),
                                               replyName: replyName, replyClass: replyClass) {
                return (status, true)
            }
            guard let cut = key.lastIndex(of: delimiter) else { break }
            key = key[..<cut]
            scope = .partial
        }
        return (.dunno, false)
    }

    /// Postfix's `check_table_result()`: what an access-table value means.
    func tableResult(_ table: TableReference, value: String, datum: String, replyName: String, replyClass: ReplyClass) throws(EvaluationAbort) -> CheckStatus {
        let action = AccessAction(value)
        switch action.command {
        case .dunno:
            return .dunno
        case .reject:
            let (dsn, text) = AccessAction.splitDSN(action.text, default: "5.7.1")
            return refuse(.policy, code: config.codes.accessMapReject, dsn: AccessAction.fixDSN(dsn, for: replyClass, events: &events),
                          text: rejectionText(replyName, replyClass, text.isEmpty ? "Access denied" : text))
        case .defer:
            let (dsn, text) = AccessAction.splitDSN(action.text, default: "4.7.1")
            return refuse(.policy, code: config.codes.accessMapDefer, dsn: AccessAction.fixDSN(dsn, for: replyClass, events: &events),
                          text: rejectionText(replyName, replyClass, text.isEmpty ? "Access denied" : text))
        case .hangup:
            throw serverError("access table \(table.spec): HANGUP is a Postfix test feature a milter cannot perform")
        case .info:
            events.append(PolicyLogEvent(.info, action.text))
            return .dunno
        case .warn:
            events.append(PolicyLogEvent(.warn, action.text))
            return .dunno
        case .filter, .hold, .discard, .redirect, .bcc, .prepend:
            return messageAction(action, table: table, datum: datum, replyName: replyName, replyClass: replyClass)
        case .deferIfPermit:
            let (dsn, text) = AccessAction.splitDSN(action.text, default: "4.7.1")
            return rememberDeferIfPermit(.policy, code: config.codes.accessMapDefer, dsn: AccessAction.fixDSN(dsn, for: replyClass, events: &events),
                                         text: rejectionText(replyName, replyClass, text.isEmpty ? "Service unavailable" : text))
        case .deferIfReject:
            let (dsn, text) = AccessAction.splitDSN(action.text, default: "4.7.1")
            rememberDeferIfReject(.policy, code: config.codes.accessMapDefer, dsn: AccessAction.fixDSN(dsn, for: replyClass, events: &events),
                                  text: rejectionText(replyName, replyClass, text.isEmpty ? "Service unavailable" : text))
            return .dunno
        case .numericPermit, .ok:
            return .permit
        case .replyCode(let code):
            let (dsn, text) = AccessAction.splitDSN(action.text, default: code >= 500 ? "5.7.1" : "4.7.1")
            return refuse(.policy, code: code, dsn: AccessAction.fixDSN(dsn, for: replyClass, events: &events),
                          text: rejectionText(replyName, replyClass, text.isEmpty ? "Access denied" : text))
        case .restrictions:
            return try tableRestrictions(table, value: value, replyName: replyName, replyClass: replyClass)
        }
    }

    /// The actions that take effect on the message, not on the reply: FILTER, HOLD, DISCARD,
    /// REDIRECT, BCC and PREPEND (DISCARD also ends the list, as a permit).
    private func messageAction(_ action: AccessAction, table: TableReference, datum: String,
                               replyName: String, replyClass: ReplyClass) -> CheckStatus {
        switch action.command {
        case .filter:
            guard delayedActionsAllowed(table, "FILTER") else { return .dunno }
            if action.text.isEmpty {
                events.append(PolicyLogEvent(.warning, "access table \(table.spec) entry \"\(datum)\" has FILTER entry without value"))
            } else if !action.text.contains(":") {
                events.append(PolicyLogEvent(.warning, "access table \(table.spec) entry \"\(datum)\" requires transport:destination"))
            } else {
                events.append(PolicyLogEvent(.filter, "<\(replyName)>: \(replyClass.rawValue) triggers FILTER \(action.text)"))
                actions.filter = action.text
            }
            return .dunno
        case .hold:
            guard delayedActionsAllowed(table, "HOLD"), actions.hold == nil else { return .dunno }
            let reason = action.text.isEmpty ? "triggers HOLD action" : action.text
            events.append(PolicyLogEvent(.hold, "<\(replyName)>: \(replyClass.rawValue) \(reason)"))
            actions.hold = reason
            return .dunno
        case .discard:
            guard delayedActionsAllowed(table, "DISCARD") else { return .dunno }
            let reason = action.text.isEmpty ? "triggers DISCARD action" : action.text
            events.append(PolicyLogEvent(.discard, "<\(replyName)>: \(replyClass.rawValue) \(reason)"))
            discard = true
            return .permit
        case .redirect, .bcc:
            let word = action.command == .redirect ? "REDIRECT" : "BCC"
            guard delayedActionsAllowed(table, word) else { return .dunno }
            guard action.text.contains("@") else {
                events.append(PolicyLogEvent(.warning, "access table \(table.spec) entry \"\(datum)\" requires user@domain target"))
                return .dunno
            }
            if action.command == .redirect {
                events.append(PolicyLogEvent(.redirect, "<\(replyName)>: \(replyClass.rawValue) triggers REDIRECT \(action.text)"))
                actions.redirect = action.text
            } else {
                events.append(PolicyLogEvent(.bcc, "<\(replyName)>: \(replyClass.rawValue) triggers BCC \(action.text)"))
                actions.bcc.append(action.text)
            }
            return .dunno
        case .prepend:
            guard delayedActionsAllowed(table, "PREPEND") else { return .dunno }
            if action.text.isEmpty || !AccessAction.isHeader(action.text) {
                events.append(PolicyLogEvent(.warning, "access table \(table.spec) entry \"\(datum)\" requires header: text"))
            } else {
                actions.prependHeaders.append(action.text)
            }
            return .dunno
        default:
            return .dunno
        }
    }

    /// A table result that is a restriction list (or a class name): evaluated in place.
    private func tableRestrictions(_ table: TableReference, value: String, replyName: String,
                                   replyClass: ReplyClass) throws(EvaluationAbort) -> CheckStatus {
        if value.contains(":") {
            throw serverError("access table \(table.spec) has entry with lookup table: \(value); do not specify lookup tables inside SMTPD access maps; define a restriction class and specify its name instead")
        }
        if recursion > 100 {
            throw serverError("access table \(table.spec) entry \(value) causes unreasonable recursion")
        }
        let tokens = PostfixList.tokens(value)
        if tokens.isEmpty {
            events.append(PolicyLogEvent(.warning, "access table \(table.spec) entry \(value) has empty value"))
            return .permit
        }
        let list = RestrictionListParser.parseTableResult(tokens, isClass: { config.restrictionClasses[$0] != nil })
        return try runList(list, replyName: replyName, replyClass: replyClass)
    }

    /// HOLD, DISCARD, FILTER, PREPEND, REDIRECT and BCC need a mail transaction; with delayed
    /// rejection off the HELO list runs outside one and Postfix skips them with a warning.
    private func delayedActionsAllowed(_ table: TableReference, _ action: String) -> Bool {
        if config.delayReject { return true }
        events.append(PolicyLogEvent(.warning, "access table \(table.spec): with smtpd_delay_reject=no, action \(action) is always skipped in Client host or Helo command restrictions"))
        return false
    }
}
