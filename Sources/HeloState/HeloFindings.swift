import Foundation

/// The domains of one big mail provider. A HELO name inside any of them claims to be the
/// provider; the claim holds when the client's reverse name is inside any of them too.
public struct ProviderGroup: Sendable, Hashable {
    public var name: String
    public var domains: [String]

    public init(name: String, domains: [String]) {
        self.name = name
        self.domains = domains.map(ProviderDomain.normalized)
    }

    /// True when `hostname` is one of the group's domains or under one.
    public func contains(_ hostname: String) -> Bool {
        ProviderDomain.contains(hostname, in: domains)
    }

    /// The providers `heloguard stats` knows without being told: the names spammers like to
    /// borrow because few administrators dare to refuse them.
    public static let builtIn: [ProviderGroup] = [
        ProviderGroup(name: "Google", domains: ["google.com", "gmail.com", "googlemail.com"]),
        ProviderGroup(name: "Microsoft", domains: ["outlook.com", "hotmail.com", "live.com", "msn.com", "microsoft.com",
                                                   "office365.com", "protection.outlook.com"]),
        ProviderGroup(name: "Yahoo", domains: ["yahoo.com", "yahoodns.net", "yahoo.net", "aol.com"]),
        ProviderGroup(name: "Apple", domains: ["icloud.com", "me.com", "apple.com", "mac.com"]),
        ProviderGroup(name: "Amazon", domains: ["amazon.com", "amazonses.com", "amazonaws.com"]),
        ProviderGroup(name: "Yandex", domains: ["yandex.ru", "yandex.net", "yandex.com", "ya.ru"]),
        ProviderGroup(name: "Mail.ru", domains: ["mail.ru", "list.ru", "bk.ru", "inbox.ru"]),
        ProviderGroup(name: "QQ", domains: ["qq.com", "tencent.com"]),
        ProviderGroup(name: "NetEase", domains: ["163.com", "126.com", "yeah.net", "netease.com"]),
    ]
}

/// What a report looks at and how strict it is.
public struct HeloReportOptions: Sendable, Hashable {
    /// The period starts here (records at or after it count); nil: the whole log.
    public var since: Date?
    /// At most this many findings per section (per restriction for refused names).
    public var limit: Int
    /// A HELO name is "shared" when at least this many distinct client addresses gave it.
    public var minClients: Int
    /// A client "rotates" when it gave at least this many distinct HELO names.
    public var minNames: Int
    public var providers: [ProviderGroup]

    public static let defaultLimit = 10
    public static let defaultMinClients = 3
    public static let defaultMinNames = 3

    public init(since: Date? = nil, limit: Int = defaultLimit, minClients: Int = defaultMinClients,
                minNames: Int = defaultMinNames, providers: [ProviderGroup] = ProviderGroup.builtIn) {
        self.since = since
        self.limit = limit
        self.minClients = minClients
        self.minNames = minNames
        self.providers = providers
    }
}

/// A `check_helo_access` table line for one finding, or the reason there is none.
///
/// Rules: a line is plain (`REJECT`) when the log shows refusals for it or a forgery; a finding
/// whose connections were all accepted gets its line commented out (`# `) with a caution to
/// review first, so pasting a whole list refuses nothing unexamined; a name a provider's own
/// servers gave (reverse name inside the provider) never gets a line.
public struct TableSuggestion: Sendable, Hashable {
    /// The table type the line is written for.
    public enum TableType: String, Sendable, Hashable {
        /// A fixed-string table (`hash:`, `texthash:`, `lmdb:` … source): `name<TAB>action`.
        case hash
        /// A `pcre:` table: `/^name$/<TAB>action`; used when a name cannot be a fixed-string key.
        case pcre
    }

    /// The line to paste; nil when no static line is safe.
    public var line: String?
    /// The table type ``line`` is for; nil without a line.
    public var table: TableType?
    /// What to check before using the line, or why there is none.
    public var caution: String?

    public init(line: String?, table: TableType?, caution: String?) {
        self.line = line
        self.table = table
        self.caution = caution
    }

    static func none(_ reason: String) -> TableSuggestion {
        TableSuggestion(line: nil, table: nil, caution: reason)
    }

    /// The same line commented out, with `reason` as its caution.
    func forReview(_ reason: String) -> TableSuggestion {
        guard let line else { return self }
        return TableSuggestion(line: "# " + line, table: table, caution: reason)
    }
}

/// Builds `check_helo_access` lines that can be pasted as they are, whatever bytes a client sent
/// as its HELO name.
public enum AccessTableLine {
    /// True when `name` can be a fixed-string table key as it is: printable ASCII without white
    /// space, quotes or backslashes (postmap gives those a meaning), not starting with `#` (a
    /// comment line) and not ending in `:` (postmap's alias-file warning).
    public static func isPlainKey(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, let last = bytes.last,
              first != UInt8(ascii: "#"), last != UInt8(ascii: ":") else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
    }

    /// A line refusing exactly `name`: a fixed-string key (lower case) when it can be one, else
    /// an anchored pcre pattern.
    public static func refusing(_ name: String, action: String) -> TableSuggestion {
        if isPlainKey(name) {
            return TableSuggestion(line: asciiLowercased(name) + "\t" + action, table: .hash, caution: nil)
        }
        return TableSuggestion(line: "/^" + pcreLiteral(name) + "$/\t" + action, table: .pcre, caution: nil)
    }

    /// One pcre line refusing exactly the given names.
    public static func refusingAny(_ names: [String], action: String) -> TableSuggestion {
        let alternatives = names.map(pcreLiteral).joined(separator: "|")
        return TableSuggestion(line: "/^(" + alternatives + ")$/\t" + action, table: .pcre, caution: nil)
    }

    /// `name` as a PCRE pattern that matches only itself, in lower case: letters, digits, `-` and
    /// `_` as they are; other printable ASCII behind a backslash (`\.`, `\/`); white space,
    /// control bytes and non-ASCII bytes as `\xHH`, so the line stays one line and the
    /// delimiter stays unambiguous.
    public static func pcreLiteral(_ name: String) -> String {
        var pattern = ""
        for byte in asciiLowercased(name).utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"):
                pattern.append(Character(UnicodeScalar(byte)))
            case 0x21..<0x7F:
                pattern.append("\\")
                pattern.append(Character(UnicodeScalar(byte)))
            default:
                pattern += "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return pattern
    }

    /// Lower case for ASCII letters only; other bytes stay as they are.
    static func asciiLowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }
}

/// A HELO name given by many unrelated clients (`ylmf-pc`, `localhost`, a borrowed name).
public struct SharedNameFinding: Sendable, Hashable {
    public var usage: SharedHeloRow
    /// No connection that gave the name was refused.
    public var allAccepted: Bool { usage.rejected == 0 }
    public var suggestion: TableSuggestion
}

/// A client address that went through many HELO names (randomised HELOs of a spam bot).
public struct RotatingClientFinding: Sendable, Hashable {
    public var usage: RotatingClientRow
    /// The names the suggested line refuses: the client's own (no other client gave them), not
    /// vouched for by a provider, at most ``HeloReport/maxNamesPerLine``.
    public var namesInLine: [String]
    public var allAccepted: Bool { usage.rejected == 0 }
    public var suggestion: TableSuggestion
}

/// A refused HELO name under one restriction.
public struct RejectedHeloFinding: Sendable, Hashable {
    public var usage: RejectedHeloRow
    public var suggestion: TableSuggestion
}

/// The most refused HELO names of one deciding restriction.
public struct RestrictionRejections: Sendable, Hashable {
    public var restriction: String
    /// Refusals of the names listed.
    public var rejections: Int
    public var names: [RejectedHeloFinding]
}

/// A HELO name inside a provider's domains given by clients whose reverse name is elsewhere.
public struct ProviderClaimFinding: Sendable, Hashable {
    public var helo: String
    /// The provider group(s) the name claims, e.g. `Google`.
    public var provider: String
    /// Distinct clients (with a reverse name outside the provider) and their connections, in the period.
    public var clients: Int
    public var connections: Int
    /// The busiest of those clients (at most three): address, reverse name, connections.
    public var examples: [ProviderNameRow]
    /// A reverse name inside the provider that gave this same HELO name (anywhere in the stored
    /// log); nil when the provider itself was never seen using it.
    public var providerReverseName: String?
    public var suggestion: TableSuggestion
}

/// The findings of `heloguard stats`: judged from a store's raw ``HeloLogStatistics`` rows by
/// thresholds and the provider groups, each with a suggested table line.
public struct HeloReport: Sendable, Hashable {
    /// A rotating client's line lists at most this many names.
    public static let maxNamesPerLine = 20

    public var options: HeloReportOptions
    public var summary: HeloLogSummary
    public var sharedNames: [SharedNameFinding]
    public var rotatingClients: [RotatingClientFinding]
    /// Restrictions with the most refusals first.
    public var rejectedHelos: [RestrictionRejections]
    /// The same for the refusals `dry_run = yes` logged and did not give.
    public var wouldRejectHelos: [RestrictionRejections]
    public var providerClaims: [ProviderClaimFinding]
    /// Connections in the period that gave a provider's name from a client without a reverse
    /// name: they can neither confirm nor refute the claim, so they are not judged.
    public var claimsWithoutReverseName: Int

    /// Asks `store` (in one consistent read where it can) and judges the answers.
    public static func build(from store: any HeloLogStatistics, options: HeloReportOptions) throws -> HeloReport {
        try store.readingConsistently {
            HeloReport(
                options: options,
                summary: try store.heloLogSummary(since: options.since),
                shared: try store.sharedHeloNames(since: options.since, minClients: options.minClients, limit: options.limit),
                rotating: try store.rotatingClients(since: options.since, minNames: options.minNames, limit: options.limit),
                rejected: try store.rejectedHelos(since: options.since, limitPerRestriction: options.limit),
                sightings: try store.providerNameSightings(since: options.since,
                                                           domains: options.providers.flatMap(\.domains)),
                wouldReject: try store.rejectedHelos(since: options.since, limitPerRestriction: options.limit,
                                                     verdict: HeloLogVerdict.wouldReject))
        }
    }

    /// Judges raw rows; pure.
    public init(options: HeloReportOptions, summary: HeloLogSummary, shared: [SharedHeloRow],
                rotating: [RotatingClientRow], rejected: [RejectedHeloRow], sightings: [ProviderNameRow],
                wouldReject: [RejectedHeloRow] = []) {
        self.options = options
        self.summary = summary
        let claims = Self.judgeClaims(sightings, providers: options.providers, limit: options.limit)
        providerClaims = claims.findings
        claimsWithoutReverseName = claims.withoutReverseName
        let vouched = claims.vouched
        sharedNames = shared.map { Self.judge($0, vouched: vouched) }
        rotatingClients = rotating.map { Self.judge($0, vouched: vouched) }
        rejectedHelos = Self.grouped(rejected, vouched: vouched)
        wouldRejectHelos = Self.grouped(wouldReject, vouched: vouched)
    }

    /// Refused names per restriction, the restriction with the most refusals first.
    private static func grouped(_ rows: [RejectedHeloRow], vouched: [String: Voucher]) -> [RestrictionRejections] {
        Dictionary(grouping: rows, by: \.restriction)
            .map { restriction, rows in
                let names = rows.map { judge($0, vouched: vouched) }
                return RestrictionRejections(restriction: restriction, rejections: rows.reduce(0) { $0 + $1.rejections },
                                             names: names)
            }
            .sorted { ($1.rejections, $0.restriction) < ($0.rejections, $1.restriction) }
    }

    // MARK: Judging

    /// Why a name a provider's own servers gave gets no line.
    private static func providerUses(_ voucher: Voucher) -> String {
        "\(voucher.provider)'s own servers give this name too (reverse name \(voucher.reverseName)): "
            + "no static line is safe"
    }

    private static func allAcceptedCaution(_ connections: Int) -> String {
        "all \(connections) connection(s) were accepted: review before blocking"
    }

    private static func judge(_ row: SharedHeloRow, vouched: [String: Voucher]) -> SharedNameFinding {
        var suggestion: TableSuggestion
        if let voucher = vouched[ProviderDomain.normalized(row.helo)] {
            suggestion = .none(providerUses(voucher))
        } else {
            suggestion = AccessTableLine.refusing(
                row.helo, action: "REJECT shared HELO name: \(row.clients) clients, \(row.connections) connections")
            if row.rejected == 0 { suggestion = suggestion.forReview(allAcceptedCaution(row.connections)) }
        }
        return SharedNameFinding(usage: row, suggestion: suggestion)
    }

    private static func judge(_ row: RotatingClientRow, vouched: [String: Voucher]) -> RotatingClientFinding {
        let own = row.exclusiveNames.filter { vouched[ProviderDomain.normalized($0)] == nil }
        let inLine = Array(own.prefix(maxNamesPerLine))
        guard !inLine.isEmpty else {
            return RotatingClientFinding(usage: row, namesInLine: [], suggestion: .none(
                "no HELO name was given by this client alone: a HELO line would refuse other clients too"))
        }
        var suggestion = AccessTableLine.refusingAny(
            inLine, action: "REJECT HELO name rotation by \(row.client): \(row.names) names")
        if own.count > inLine.count {
            suggestion.caution = "the line covers \(inLine.count) of its \(own.count) names no other client gave"
        }
        if row.rejected == 0 { suggestion = suggestion.forReview(allAcceptedCaution(row.connections)) }
        return RotatingClientFinding(usage: row, namesInLine: inLine, suggestion: suggestion)
    }

    /// Restrictions that judge the HELO name by DNS: a static line saves the lookup.
    private static let dnsRestrictions: Set<String> = [
        "reject_unknown_helo_hostname", "check_helo_a_access", "check_helo_mx_access", "check_helo_ns_access",
        "reject_rhsbl_helo",
    ]
    /// Restrictions that judge the HELO name's syntax: already as cheap as a table.
    private static let syntaxRestrictions: Set<String> = ["reject_invalid_helo_hostname", "reject_non_fqdn_helo_hostname"]

    private static func judge(_ row: RejectedHeloRow, vouched: [String: Voucher]) -> RejectedHeloFinding {
        let word = String(row.restriction.split(separator: " ", maxSplits: 1).first ?? "")
        let suggestion: TableSuggestion
        if let voucher = vouched[ProviderDomain.normalized(row.helo)] {
            suggestion = .none(providerUses(voucher))
        } else if dnsRestrictions.contains(word) {
            suggestion = AccessTableLine.refusing(row.helo, action: "REJECT refused \(row.rejections) times by \(word)")
        } else if syntaxRestrictions.contains(word) {
            suggestion = .none("\(word) refuses it without a lookup already: a table line adds nothing")
        } else if word == "check_helo_access" {
            suggestion = .none("already refused by a HELO access table")
        } else if word == "reject_impersonating_helo" {
            suggestion = .none("reject_impersonating_helo refuses it without a lookup and boxes the client; "
                               + "a table line before it would skip the penalty box")
        } else {
            suggestion = .none("refused by \(word), not for the HELO name alone: a HELO line would not fit")
        }
        return RejectedHeloFinding(usage: row, suggestion: suggestion)
    }

    /// A provider's own use of a name: which provider, and one of its reverse names that gave it.
    struct Voucher: Hashable {
        var provider: String
        var reverseName: String
    }

    private static func judgeClaims(_ sightings: [ProviderNameRow], providers: [ProviderGroup], limit: Int)
        -> (findings: [ProviderClaimFinding], vouched: [String: Voucher], withoutReverseName: Int) {
        // First the names the providers gave themselves (anywhere in the stored log), so that
        // every spelling of a name knows it before any claim on it is judged.
        var vouched: [String: Voucher] = [:]
        for row in sightings {
            let groups = providers.filter { $0.contains(row.helo) }
            guard let reverseName = row.clientName, row.storedConnections > 0,
                  let group = groups.first(where: { $0.contains(reverseName) }) else { continue }
            let key = ProviderDomain.normalized(row.helo)
            if vouched[key].map({ reverseName < $0.reverseName }) ?? true {
                vouched[key] = Voucher(provider: group.name, reverseName: reverseName)
            }
        }
        var withoutReverseName = 0
        var findings: [ProviderClaimFinding] = []
        for (helo, rows) in Dictionary(grouping: sightings, by: \.helo) {
            let groups = providers.filter { $0.contains(helo) }
            guard !groups.isEmpty else { continue }
            let provider = groups.map(\.name).joined(separator: "/")
            var claims: [ProviderNameRow] = []
            for row in rows where row.connections > 0 {
                if let reverseName = row.clientName {
                    if !groups.contains(where: { $0.contains(reverseName) }) { claims.append(row) }
                } else {
                    withoutReverseName += row.connections
                }
            }
            guard !claims.isEmpty else { continue }
            let clients = Set(claims.map(\.client)).count
            let connections = claims.reduce(0) { $0 + $1.connections }
            let examples = claims.sorted { ($1.connections, $0.client) < ($0.connections, $1.client) }.prefix(3)
            let voucher = vouched[ProviderDomain.normalized(helo)]
            let suggestion = voucher.map { TableSuggestion.none(providerUses($0)) }
                ?? AccessTableLine.refusing(
                    helo, action: "REJECT forged \(provider) HELO name: \(clients) clients outside \(provider)")
            findings.append(ProviderClaimFinding(helo: helo, provider: provider, clients: clients, connections: connections,
                                                 examples: Array(examples), providerReverseName: voucher?.reverseName,
                                                 suggestion: suggestion))
        }
        findings.sort { ($1.clients, $1.connections, $0.helo) < ($0.clients, $0.connections, $1.helo) }
        return (Array(findings.prefix(max(0, limit))), vouched, withoutReverseName)
    }
}
