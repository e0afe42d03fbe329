import HeloPolicy

/// One answer as libunbound delivered it, copied out of its C structure: the response code,
/// the record data of the asked type in the order the server sent it (names uncompressed),
/// and the name the data belongs to when CNAMEs were followed.
struct UnboundAnswer: Sendable, Hashable {
    var rcode: Int
    var records: [[UInt8]]
    /// libunbound's text form, with the trailing dot; nil when no CNAME was followed.
    var canonicalName: String?

    init(rcode: Int, records: [[UInt8]] = [], canonicalName: String? = nil) {
        self.rcode = rcode
        self.records = records
        self.canonicalName = canonicalName
    }
}

/// What came back for one question: an answer, or a libunbound error code with its text.
enum UnboundOutcome: Sendable, Hashable {
    case answer(UnboundAnswer)
    case error(code: Int32, text: String)
}

extension DNSRecordType {
    /// The RR type number on the wire.
    var code: Int32 {
        switch self {
        case .a: return 1
        case .ns: return 2
        case .mx: return 15
        case .txt: return 16
        case .aaaa: return 28
        }
    }
}

/// Turns libunbound's answers into ``DNSAnswer``s the way Postfix's `dns_lookup()` sorts the
/// replies it gets from the C library resolver:
///
/// - NXDOMAIN, and NOERROR without records of the asked type (NODATA) → not found.
/// - SERVFAIL → temporary failure; any other response code → "failed" (Postfix's `NO_RECOVERY`).
/// - A record whose data cannot be decoded (an address of the wrong length, a name that runs
///   past its data) is skipped; if nothing usable is left the answer is a temporary failure,
///   because that is what Postfix makes of it (`DNS_RETRY`).
/// - A host name (MX exchange, NS host, CNAME target) that is not a valid host name is skipped;
///   if nothing usable is left the answer is "malformed" (Postfix's `DNS_INVAL`). A CNAME target
///   of that kind makes the whole answer malformed.
/// - Any MX record with the root as exchange makes the answer a null MX, whatever its
///   preference and whatever other MX records come with it (Postfix checks just the name).
enum AnswerDecoder {
    /// The answer for `type` questions about `name`. `servfail` says what a SERVFAIL stands
    /// for (libunbound reports every failure of its servers as SERVFAIL; see ``ServfailReasons``).
    static func answer(
        for type: DNSRecordType, name: String, from raw: UnboundAnswer,
        servfail: () -> DNSAnswer
    ) -> DNSAnswer {
        switch raw.rcode {
        case 0:
            break
        case 3:
            return .notFound
        case 2:
            return servfail()
        default:
            return .failed("the DNS server answered \(rcodeName(raw.rcode)) for \(name) \(type.rawValue)")
        }
        if let canonical = raw.canonicalName {
            let target = canonical.hasSuffix(".") && canonical != "." ? String(canonical.dropLast()) : canonical
            if !isAcceptableHostName(target) {
                return .malformed("malformed domain name in a CNAME for \(name): \(target)")
            }
        }
        var values: [String] = []
        var problem: RecordProblem?
        for data in raw.records {
            switch decode(data, as: type) {
            case let .value(text):
                values.append(text)
            case .nullMX:
                return .nullMX
            case let .problem(found):
                // A decoding problem, once seen, outranks a malformed name (as in Postfix).
                if problem?.isUndecodable != true { problem = found }
            }
        }
        if !values.isEmpty { return .records(values) }
        switch problem {
        case nil:
            return .notFound
        case let .undecodable(reason)?:
            return .temporaryFailure("\(reason) for \(name)")
        case let .badName(reason)?:
            return .malformed("\(reason) for \(name)")
        }
    }

    enum RecordProblem: Hashable {
        /// The record's data does not have the shape of its type.
        case undecodable(String)
        /// A host name in the record is not a valid host name.
        case badName(String)

        var isUndecodable: Bool {
            if case .undecodable = self { return true }
            return false
        }
    }

    enum RecordValue: Hashable {
        case value(String)
        case nullMX
        case problem(RecordProblem)
    }

    /// One record's data as text.
    static func decode(_ data: [UInt8], as type: DNSRecordType) -> RecordValue {
        switch type {
        case .a:
            guard data.count == 4 else {
                return .problem(.undecodable("bad address length \(data.count) in an A record"))
            }
            return .value(data.map(String.init).joined(separator: "."))
        case .aaaa:
            guard data.count == 16, let address = IPAddress(bytes: data) else {
                return .problem(.undecodable("bad address length \(data.count) in an AAAA record"))
            }
            return .value(address.description)
        case .mx:
            guard data.count >= 2, let exchange = hostName(in: data, at: 2) else {
                return .problem(.undecodable("undecodable MX record"))
            }
            if exchange.isEmpty { return .nullMX }
            guard isAcceptableHostName(exchange) else {
                return .problem(.badName("malformed domain name in an MX record: \(exchange)"))
            }
            return .value(exchange)
        case .ns:
            guard let host = hostName(in: data, at: 0) else {
                return .problem(.undecodable("undecodable NS record"))
            }
            guard isAcceptableHostName(host) else {
                return .problem(.badName("malformed domain name in an NS record: \(host)"))
            }
            return .value(host)
        case .txt:
            return .value(firstString(of: data))
        }
    }

    /// The first character-string of TXT data, cut to the bytes that are there, each byte that
    /// is not printable ASCII replaced by a space. Postfix 3.7 keeps only this first string of
    /// a record (and never refuses TXT data).
    static func firstString(of data: [UInt8]) -> String {
        guard let length = data.first else { return "" }
        let text = data.dropFirst().prefix(Int(length))
        return String(decoding: text.map { (0x20...0x7E).contains($0) ? $0 : 0x20 }, as: UTF8.self)
    }

    /// The uncompressed wire-format name at `offset`, as text without the trailing dot (the
    /// root is the empty string). Bytes that would be ambiguous in text are escaped as
    /// `\.`, `\\` or `\DDD`, as the C library's `dn_expand()` does. Nil if the name does not fit
    /// in `data` or contains a compression pointer.
    static func hostName(in data: [UInt8], at offset: Int) -> String? {
        var labels: [String] = []
        var index = offset
        while true {
            guard index < data.count else { return nil }
            let length = Int(data[index])
            index += 1
            if length == 0 { break }
            guard length <= 63, index + length <= data.count else { return nil }
            labels.append(escapedLabel(data[index..<(index + length)]))
            index += length
        }
        return labels.joined(separator: ".")
    }

    private static func escapedLabel(_ bytes: ArraySlice<UInt8>) -> String {
        var text = ""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "."), UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: ";"),
                 UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "@"), UInt8(ascii: "$"):
                text += "\\" + String(UnicodeScalar(byte))
            case 0x21...0x7E:
                text.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let digits = String(byte)
                text += "\\" + String(repeating: "0", count: 3 - digits.count) + digits
            }
        }
        return text
    }

    /// Postfix's test for names found in a reply: a valid host name (a leading `*.` allowed),
    /// or a numeric address, which Postfix lets through with a warning.
    static func isAcceptableHostName(_ name: String) -> Bool {
        HostnameSyntax.isValidHostname(name, allowWildcard: true) || HostnameSyntax.isValidHostAddress(name)
    }

    /// The mnemonic of a DNS response code.
    static func rcodeName(_ rcode: Int) -> String {
        let names = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                     "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"]
        return names.indices.contains(rcode) ? names[rcode] : "RCODE\(rcode)"
    }
}

/// Which names this resolver refuses to put into a query, because they cannot be encoded on the
/// wire (empty labels, a label over 63 bytes, more than 253 bytes) or because they hold a NUL.
/// Postfix's `dns_lookup()` answers "not found" for names it will not ask about, and so does
/// ``UnboundResolver``.
enum QueryName {
    /// Why `name` cannot be asked about, or nil if it can.
    static func refusal(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        if bytes.isEmpty { return "the name is empty" }
        if bytes.contains(0) { return "the name contains a NUL byte" }
        if name == "." { return nil }
        let body = bytes.last == UInt8(ascii: ".") ? bytes.dropLast() : bytes[...]
        if body.count > 253 { return "the name is longer than 253 bytes" }
        for label in body.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            if label.isEmpty { return "the name has an empty label" }
            if label.count > 63 { return "the name has a label longer than 63 bytes" }
        }
        return nil
    }

    /// The key libunbound's log uses for a question: `<name with trailing dot> <TYPE> IN`,
    /// lowercased.
    static func logKey(_ name: String, type: DNSRecordType) -> String {
        let absolute = name.hasSuffix(".") ? name : name + "."
        return "\(absolute) \(type.rawValue) IN".lowercased()
    }
}
