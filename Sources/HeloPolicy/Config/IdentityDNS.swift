extension IdentitySources {
    /// With `impersonation_check_dns = yes`, what DNS adds to `entries` at load: the A and AAAA
    /// addresses of every host name, and the MX hosts of every domain with their addresses.
    /// Each lookup has the resolver's own deadline; all of them together stop after
    /// `budgetMilliseconds`. A failed lookup is a warning at `location` and adds nothing; the
    /// rest of the identity is kept. Only new entries are returned.
    static func resolved(_ entries: [IdentityEntry], resolver: any HeloResolver, budgetMilliseconds: Int,
                         location: SourceLocation?, diagnostics: inout [ConfigDiagnostic]) -> [IdentityEntry] {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(budgetMilliseconds))
        var added: [IdentityEntry] = []
        var failures: [String] = []
        var skipped = 0

        func ask(_ name: String, _ type: DNSRecordType) -> [String] {
            guard clock.now < deadline else {
                skipped += 1
                return []
            }
            switch resolver.lookup(name, type: type) {
            case .records(let records): return records
            case .notFound, .nullMX: return []
            case .temporaryFailure(let why), .failed(let why), .malformed(let why):
                failures.append("\(type.rawValue) \(name): \(why)")
                return []
            }
        }
        func addresses(of name: String, note: String) {
            for type in [DNSRecordType.a, .aaaa] {
                for record in ask(name, type) where IPAddress(record) != nil {
                    added.append(IdentityEntry(.address, IPAddress(record)!.description,
                                               source: "DNS \(type.rawValue) of \(name)\(note)"))
                }
            }
        }

        for entry in entries {
            let name = lookupName(entry.value)
            guard !name.isEmpty, HostnameSyntax.isValidHostname(name), !HostnameSyntax.isValidHostAddress(name) else { continue }
            switch entry.kind {
            case .hostname:
                addresses(of: name, note: "")
            case .domain:
                for host in ask(name, .mx) where !host.isEmpty && host != "." {
                    added.append(IdentityEntry(.hostname, host, source: "DNS MX of \(name)"))
                    addresses(of: host, note: " (MX of \(name))")
                }
            case .address:
                continue
            }
        }
        for failure in failures {
            diagnostics.append(.warning(location,
                "impersonation_check_dns: cannot look up \(failure); left out of the identity, the rest is kept"))
        }
        if skipped > 0 {
            diagnostics.append(.warning(location,
                "impersonation_check_dns: \(skipped) lookup(s) not made: all of them together may take \(budgetMilliseconds / 1000) s; those names' addresses are left out"))
        }
        return added
    }

    /// The name to ask DNS for an entry: lower case, without a trailing dot or the leading dot
    /// of a `.domain` entry.
    private static func lookupName(_ value: String) -> String {
        var name = ImpersonationCheck.normalisedName(value)
        if name.hasPrefix(".") { name.removeFirst() }
        return name
    }
}
