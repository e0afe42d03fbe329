#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PostfixSyntax

extension Evaluation {
    /// `reject_rhsbl_helo rbl.domain[=pattern]`: refuse when the HELO domain is listed in a
    /// right-hand-side block list (Postfix's `reject_rbl_domain()`, `find_dnsxl_domain()`).
    ///
    /// The domain is the text after the last `@` (a literal there: skipped), else the whole
    /// HELO. Skipped without a query: an empty domain, one whose last label is all digits
    /// (bare IPv4, `foo.123`), and one that is not a valid host name after A-label conversion
    /// (literals, trailing dots, bad characters). Then `<domain>.<rbl.domain>` is asked for A
    /// records; not found is DUNNO; any other failure logs `<query>: RBL lookup error: <why>`
    /// and is DUNNO too. With a pattern, some A record must match it. A listed name is asked
    /// for TXT records, whose first strings are joined with ` / ` up to 500 bytes, and the
    /// refusal is built from the reply template (``rblReply(_:what:txt:)``).
    func rejectRHSBLHelo(_ list: RHSBLDomain) throws(EvaluationAbort) -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        var domain = helo
        if let at = domain.lastIndex(of: "@") {
            domain = String(domain[domain.index(after: at)...])
            if domain.hasPrefix("[") { return .dunno }
        }
        guard !domain.isEmpty else { return .dunno }
        // Postfix tests the last label before the A-label conversion.
        let bytes = Array(domain.utf8)
        let lastLabel = bytes.lastIndex(of: UInt8(ascii: ".")).map { bytes[($0 + 1)...] } ?? bytes[...]
        if !lastLabel.isEmpty && lastLabel.allSatisfy(CLocale.isDigit) { return .dunno }
        if !domain.allSatisfy(\.isASCII), let ascii = IDNA.toASCII(domain) { domain = ascii }
        guard !domain.isEmpty, HostnameSyntax.isValidHostname(domain) else { return .dunno }

        let query = "\(domain).\(list.domain)"
        let addresses: [String]
        switch dnsLookup(query, .a) {
        case .records(let found):
            addresses = found
        case .notFound, .nullMX:
            return .dunno
        case let failure:
            events.append(PolicyLogEvent(.warning,
                "\(query): RBL lookup error: \(Evaluation.lookupFailureText(failure, name: query, type: .a))"))
            return .dunno
        }
        if case .success(let pattern)? = list.pattern {
            guard addresses.contains(where: pattern.matches) else { return .dunno }
        }
        var txt: String? = nil
        if case .records(let texts) = dnsLookup(query, .txt) {
            txt = Self.joinedTXT(texts)
        }
        return try rblReply(list, what: helo, txt: txt)
    }

    /// Postfix's TXT summary (`rbl_pagein()`): records in DNS order, each cut to the room
    /// left under 500 bytes, separated by ` / ` while more than 3 bytes of room are left.
    /// (Postfix cuts bytes; a cut inside a UTF-8 sequence shows as U+FFFD here.)
    static func joinedTXT(_ records: [String]) -> String {
        let limit = 500
        var buffer: [UInt8] = []
        var room = limit
        var index = 0
        while index < records.count && room > 0 {
            let data = Array(records[index].utf8).prefix { $0 != 0 }
            buffer += data.prefix(room)
            room = limit - buffer.count
            if index + 1 < records.count && room > 3 {
                buffer += Array(" / ".utf8)
                room -= 3
            }
            index += 1
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Postfix's `rbl_reject_reply()`: the template comes from `rbl_reply_maps` (looked up
    /// with the whole argument `domain=pattern`, then with the bare domain — the second
    /// lookup is Postfix 3.10 and later; 3.7 tries only the whole argument) or else from
    /// `default_rbl_reply`. A table that fails gives `451 4.3.5 Server configuration error`.
    ///
    /// Expansion (``ReplyTemplate``): `$rbl_code` is `maps_rbl_reject_code`, `$rbl_domain` the
    /// domain without the pattern, `$rbl_reason`/`$rbl_txt` the TXT text or empty, `$rbl_what`
    /// the HELO, `$rbl_class` `Helo command`, plus Postfix's session names (see
    /// ``rblTemplateValue(_:list:what:txt:)``). A template with a syntax error or a plainly
    /// used unknown name logs `rbl_reject_reply: bad rbl reply template for domain <arg>:
    /// <template>` and the default is used.
    ///
    /// The result must start with `4xx` or `5xx` and a space, else the warning
    /// `rbl response code configuration error: <text>` and `450 4.7.1 Service unavailable`.
    /// An enhanced status code after the reply code is used (an address status `X.1.Y`
    /// becomes `X.0.0`), else 4.7.1; the class digit always follows the reply code.
    func rblReply(_ list: RHSBLDomain, what: String, txt: String?) throws(EvaluationAbort) -> CheckStatus {
        var template = try rblReplyTemplate(list)
        var expanded: String
        while true {
            let chosen = template ?? config.rbl.defaultTemplate
            let expansion = ReplyTemplate.expand(chosen, filter: config.rbl.expansionFilter) { [self] name in
                rblTemplateValue(name, list: list, what: what, txt: txt)
            }
            for warning in expansion.warnings { events.append(PolicyLogEvent(.warning, warning)) }
            expanded = expansion.text
            if expansion.succeeded { break }
            guard template != nil else {
                // Checked when the configuration is loaded; Postfix stops here.
                throw serverError("rbl_reject_reply: bad default rbl reply template: \(config.rbl.defaultTemplate)")
            }
            events.append(PolicyLogEvent(.warning,
                "rbl_reject_reply: bad rbl reply template for domain \(list.argument): \(chosen)"))
            template = nil
        }

        let bytes = Array(expanded.utf8)
        func isDigit(_ index: Int) -> Bool { index < bytes.count && CLocale.isDigit(bytes[index]) }
        guard bytes.count > 3, bytes[0] == UInt8(ascii: "4") || bytes[0] == UInt8(ascii: "5"),
              isDigit(1), isDigit(2), bytes[3] == UInt8(ascii: " ") else {
            events.append(PolicyLogEvent(.warning, "rbl response code configuration error: \(expanded)"))
            return refuse(.policy, code: 450, dsn: "4.7.1", text: "Service unavailable")
        }
        let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)) ?? 450
        let (dsn, text) = AccessAction.splitDSN(String(decoding: bytes[4...], as: UTF8.self), default: "4.7.1")
        return refuse(.policy, code: code, dsn: AccessAction.fixDSN(dsn, for: .helo, events: &events),
                      text: text.isEmpty ? "Service unavailable" : text)
    }

    /// The `rbl_reply_maps` template for this block list, or nil for the default.
    private func rblReplyTemplate(_ list: RHSBLDomain) throws(EvaluationAbort) -> String? {
        guard !config.rbl.replyMaps.isEmpty else { return nil }
        var keys = [list.argument]
        if list.domain != list.argument { keys.append(list.domain) }
        for key in keys {
            for table in config.rbl.replyMaps {
                switch table.table.lookup(key) {
                case .found(let value, let line):
                    let place = line.map { " line \($0)" } ?? ""
                    recordNote("  \(table.spec)", "key \"\(key)\" matched\(place): \(value)")
                    return value
                case .notFound:
                    continue
                case .failed(let reason):
                    throw serverError("\(table.spec): table lookup of \"\(key)\" failed: \(reason)")
                }
            }
        }
        return nil
    }

    /// The value of one template name (Postfix's `rbl_expand_lookup()` and
    /// `smtpd_expand_lookup()`); nil for a name Postfix does not know.
    ///
    /// In a milter some names can only be approximated: `$client` is `name[address]`
    /// without a port, `$client_port` is `unknown` unless the session knows it,
    /// `$reverse_client_name` is the PTR name when the session has it, else the verified name.
    func rblTemplateValue(_ name: String, list: RHSBLDomain, what: String, txt: String?) -> String? {
        switch name {
        case "rbl_code": return String(config.codes.mapsRBLReject)
        case "rbl_domain": return list.domain
        case "rbl_reason", "rbl_txt": return txt ?? ""
        case "rbl_what": return what
        case "rbl_class": return ReplyClass.helo.rawValue
        case "server_name": return config.myHostname
        case "client": return facts.clientNameAndAddress
        case "client_port": return facts.clientPort ?? "unknown"
        case "client_address": return facts.clientAddress
        case "client_name": return facts.clientName
        case "reverse_client_name": return facts.reverseClientName ?? facts.clientName
        case "helo_name": return heloName ?? ""
        case "localtime": return Self.localTime()
        default: break
        }
        for (prefix, address) in [("sender", facts.sender), ("recipient", recipient)] where name.hasPrefix(prefix) {
            return Self.addressPart(address, String(name.dropFirst(prefix.count)))
        }
        return nil
    }

    /// `$sender`, `$sender_name`, `$sender_domain` and the recipient forms (Postfix's
    /// `smtpd_expand_addr()`): empty before the address is known; the null address shows as
    /// `<>` except in the domain form.
    private static func addressPart(_ address: String?, _ suffix: String) -> String? {
        guard ["", "_name", "_domain"].contains(suffix) else { return nil }
        guard let address else { return "" }
        let at = address.lastIndex(of: "@")
        switch suffix {
        case "":
            return address.isEmpty ? "<>" : address
        case "_name":
            if address.isEmpty { return "<>" }
            return at.map { String(address[..<$0]) } ?? address
        default:
            return at.map { String(address[address.index(after: $0)...]) } ?? ""
        }
    }

    /// `$localtime`: the local time as `Mon DD HH:MM:SS` (`%b %d %H:%M:%S`).
    private static func localTime() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let length = strftime(&buffer, buffer.count, "%b %d %H:%M:%S", &parts)
        return String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
