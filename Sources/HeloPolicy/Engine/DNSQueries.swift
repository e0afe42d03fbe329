/// The two ways Postfix asks DNS on behalf of the HELO restrictions, rebuilt over
/// ``HeloResolver``: its own `dns_lookup()` (one record type, with a check of the name before
/// any query) and libc's `getaddrinfo()` (all addresses of a host).
extension Evaluation {
    /// Postfix's `dns_lookup()`: a name that is a numeric address or not a valid host name
    /// (wildcards allowed, `.` allowed) is "not found" without a query, as Postfix refuses to
    /// hand such names to the resolver. A name longer than 253 characters cannot be encoded
    /// in a query: the C resolver fails it (`NO_RECOVERY`), which Postfix reports as a
    /// non-recoverable failure, again without a query.
    func dnsLookup(_ name: String, _ type: DNSRecordType) -> DNSAnswer {
        if HostnameSyntax.isValidHostAddress(name)
            || (name != "." && !HostnameSyntax.isValidHostname(name, allowWildcard: true)) {
            recordNote("  DNS \(type.rawValue) \(name)", "not asked: not a valid host or domain name")
            return .notFound
        } else if name.utf8.count > 253 {
            recordNote("  DNS \(type.rawValue) \(name)", "not asked: name too long for a query")
            return .failed("name too long for a DNS query")
        }
        let answer = resolver.lookup(name, type: type)
        recordNote("  DNS \(type.rawValue) \(name)", Evaluation.describe(answer))
        return answer
    }

    /// What `getaddrinfo()` gives for a host name: its addresses, or the error text glibc's
    /// `gai_strerror()` would show.
    enum AddressResolution {
        case addresses([String])
        case failure(String)
    }

    /// The addresses of a host, as Postfix's `hostname_to_sockaddr()` (libc `getaddrinfo()`)
    /// finds them. Differences, by design: heloguard asks DNS for A, then AAAA, and keeps that
    /// order, where glibc sorts by RFC 6724 (often IPv6 first) and also reads /etc/hosts and the
    /// resolv.conf search list. Addresses come back in canonical text form (`inet_ntop`), as
    /// Postfix prints them. When neither type gives an address, the worst failure decides the
    /// error text (glibc's wording).
    func resolveAddresses(_ name: String) -> AddressResolution {
        guard !name.isEmpty else { return .failure("Name or service not known") }
        var addresses: [String] = []
        var temporary = false
        var permanent = false
        for type in [DNSRecordType.a, .aaaa] {
            let answer = resolver.lookup(name, type: type)
            recordNote("  DNS \(type.rawValue) \(name)", Evaluation.describe(answer))
            switch answer {
            case .records(let found):
                addresses += found.map { IPAddress($0)?.description ?? $0 }
            case .temporaryFailure:
                temporary = true
            case .failed, .malformed:
                permanent = true
            case .notFound, .nullMX:
                break
            }
        }
        if !addresses.isEmpty { return .addresses(addresses) }
        if temporary { return .failure("Temporary failure in name resolution") }
        if permanent { return .failure("Non-recoverable failure in name resolution") }
        return .failure("Name or service not known")
    }

    /// The text Postfix's `dns_strerror()` gives for the resolver status (`h_errno`) behind an
    /// answer, as it appears in "Unable to look up ..." warnings. A malformed reply leaves
    /// `h_errno` cleared (the query itself succeeded), which Postfix prints as
    /// `Unknown error 0` (src/dns/dns_lookup.c, dns_strerror.c). heloguard cannot tell
    /// NXDOMAIN from NODATA and says `Host not found` for both.
    static func resolverErrorText(_ answer: DNSAnswer) -> String {
        switch answer {
        case .records: return "Success"
        case .notFound: return "Host not found"
        case .nullMX: return "Host found but no data record of requested type"
        case .temporaryFailure: return "Host not found, try again"
        case .failed: return "Non-recoverable error"
        case .malformed: return "Unknown error 0"
        }
    }

    /// The `why` text of Postfix's `dns_lookup()` for a failed query, as RBL lookup warnings
    /// show it.
    static func lookupFailureText(_ answer: DNSAnswer, name: String, type: DNSRecordType) -> String {
        switch answer {
        case .malformed:
            return "Name service error for name=\(name) type=\(type.rawValue): Malformed or unexpected name server reply"
        default:
            return "Host or domain name not found. Name service error for name=\(name) type=\(type.rawValue): \(resolverErrorText(answer))"
        }
    }

    /// A DNS answer in words, for the evaluation trace.
    static func describe(_ answer: DNSAnswer) -> String {
        switch answer {
        case .records(let records): return records.joined(separator: ", ")
        case .notFound: return "not found"
        case .nullMX: return "null MX"
        case .temporaryFailure(let why): return "temporary failure (\(why))"
        case .malformed(let why): return "malformed reply (\(why))"
        case .failed(let why): return "failed (\(why))"
        }
    }
}
