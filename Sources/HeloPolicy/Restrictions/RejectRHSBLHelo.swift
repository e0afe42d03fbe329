extension Evaluation {
    /// `reject_rhsbl_helo rbl.domain[=pattern]`: refuse when the HELO domain is listed in a
    /// right-hand-side block list. Names that cannot be listed are skipped without a query.
    func rejectRHSBLHelo(_ list: RHSBLDomain) -> CheckStatus {
        guard let helo = heloName else { return .dunno }
        var domain = helo
        if let at = domain.lastIndex(of: "@") {
            domain = String(domain[domain.index(after: at)...])
            if domain.hasPrefix("[") { return .dunno }
        }
        if !domain.allSatisfy(\.isASCII), let ascii = IDNA.toASCII(domain) { domain = ascii }
        guard !domain.isEmpty, HostnameSyntax.isValidHostname(domain) else { return .dunno }
        let lastLabel = domain.split(separator: ".").last ?? ""
        if !lastLabel.isEmpty && lastLabel.allSatisfy(\.isNumber) { return .dunno }

        let query = "\(domain).\(list.domain)"
        let addresses: [String]
        switch resolver.lookup(query, type: .a) {
        case .records(let found): addresses = found
        case .notFound, .nullMX: return .dunno
        case .temporaryFailure(let why), .malformed(let why), .failed(let why):
            events.append(PolicyLogEvent(.warning, "\(query): RBL lookup error: \(why)"))
            return .dunno
        }
        if let filter = list.filter {
            guard addresses.contains(where: { RBLFilter.matches(filter, $0) }) else { return .dunno }
        }
        var reason = ""
        if case .records(let texts) = resolver.lookup(query, type: .txt) {
            reason = String(texts.joined(separator: " / ").prefix(500))
        }
        let why = reason.isEmpty ? "" : "; \(reason)"
        let text = "Service unavailable; \(ReplyClass.helo.rawValue) [\(helo)] blocked using \(list.domain)\(why)"
        return refuse(.policy, code: config.codes.mapsRBLReject, dsn: "5.7.1", text: text)
    }
}

/// Postfix's `ip_match` patterns for RBL replies: four dot-separated fields, each a number or
/// `[...]` with `;`-separated numbers and `n..m` ranges, e.g. `127.0.0.[2..11]`.
enum RBLFilter {
    static func matches(_ pattern: String, _ address: String) -> Bool {
        let fields = splitFields(pattern)
        let octets = address.split(separator: ".").compactMap { Int($0) }
        guard fields.count == 4, octets.count == 4 else { return false }
        for (field, octet) in zip(fields, octets) where !fieldMatches(field, octet) { return false }
        return true
    }

    /// Splits at dots outside `[...]`; range dots only occur inside brackets.
    private static func splitFields(_ pattern: String) -> [Substring] {
        var fields: [Substring] = []
        var depth = 0
        var start = pattern.startIndex
        for index in pattern.indices {
            switch pattern[index] {
            case "[": depth += 1
            case "]": depth -= 1
            case "." where depth == 0:
                fields.append(pattern[start..<index])
                start = pattern.index(after: index)
            default: break
            }
        }
        fields.append(pattern[start...])
        return fields
    }

    private static func fieldMatches(_ field: Substring, _ octet: Int) -> Bool {
        if let value = Int(field) { return value == octet }
        guard field.hasPrefix("["), field.hasSuffix("]") else { return false }
        for part in field.dropFirst().dropLast().split(separator: ";") {
            let bounds = part.split(separator: ".", omittingEmptySubsequences: true)
            if bounds.count == 2, part.contains(".."), let low = Int(bounds[0]), let high = Int(bounds[1]) {
                if low <= octet && octet <= high { return true }
            } else if Int(part) == octet {
                return true
            }
        }
        return false
    }
}
