import PostfixSyntax

extension IdentitySources {
    /// Every Postfix parameter `impersonation_postfix_config` reads.
    static var postfixParameterNames: [String] {
        postfixHostnameParameters + postfixDomainParameters + postfixAddressParameters + ["inet_protocols"]
    }

    /// Our names and addresses according to the Postfix configuration in `directory`
    /// (`impersonation_postfix_config`), read through `reader`. Problems are warnings at
    /// `location`: what can be read is kept.
    ///
    /// - `myhostname` is a host name; `mydomain`, `mydestination`, `virtual_alias_domains`,
    ///   `virtual_mailbox_domains` and `relay_domains` are domain lists. A list item may be a
    ///   name, a `type:table` (its keys are the domains; only the types whose keys heloguard
    ///   can list: the postmap family read from the source file, `texthash`, `inline`) or a
    ///   `/file` holding more items. `localhost` and `localhost.localdomain` are left out; a
    ///   `!negated` item is ignored.
    /// - `inet_interfaces` and `proxy_interfaces` are addresses (host names in them are taken as
    ///   host names). `all` means every address of this machine's interfaces of the families in
    ///   `inet_protocols`; `loopback-only`, loopback and wildcard addresses add nothing.
    static func postfix(directory: String, reader: any PostfixConfigurationReader, interfaces: [InterfaceAddress]?,
                        location: SourceLocation?, diagnostics: inout [ConfigDiagnostic]) -> [IdentityEntry] {
        let values: [String: String]
        do throws(PostfixReadError) {
            values = try reader.values(of: postfixParameterNames, configDirectory: directory)
        } catch {
            diagnostics.append(.warning(location,
                "impersonation_postfix_config = \(directory): cannot read Postfix's configuration (\(error.message)); Postfix's names and addresses are not part of the identity"))
            return []
        }
        func warn(_ message: String) { diagnostics.append(.warning(location, "impersonation_postfix_config: \(message)")) }

        var entries: [IdentityEntry] = []
        for name in postfixHostnameParameters {
            for item in PostfixList.tokens(values[name] ?? "") where !genericNames.contains(item.lowercased()) {
                entries.append(IdentityEntry(.hostname, item, source: "postfix \(name)"))
            }
        }
        for name in postfixDomainParameters {
            entries += domains(in: values[name] ?? "", parameter: name, nestedFile: nil, warn: warn)
        }
        let families = addressFamilies(values["inet_protocols"] ?? "all")
        for name in postfixAddressParameters {
            entries += addresses(in: values[name] ?? "", parameter: name, families: families,
                                 interfaces: interfaces, warn: warn)
        }
        return entries
    }

    /// The items of a Postfix domain list. `nestedFile` is the `/file` being read, if any
    /// (a file inside a file is not followed).
    private static func domains(in value: String, parameter: String, nestedFile: String?,
                                warn: (String) -> Void) -> [IdentityEntry] {
        let source = "postfix \(parameter)" + (nestedFile.map { " \($0)" } ?? "")
        var entries: [IdentityEntry] = []
        for item in PostfixList.tokens(value) {
            if item.hasPrefix("!") {
                warn("\(parameter): negated item \"\(item)\" ignored")
            } else if item.hasPrefix("/") {
                guard nestedFile == nil else {
                    warn("\(parameter): \(nestedFile!): file \"\(item)\" inside a file is not read")
                    continue
                }
                do throws(ConfigError) {
                    let text = String(decoding: try TableLoader.readFile(item, spec: item, at: nil), as: UTF8.self)
                    let items = text.split(separator: "\n").map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0] }
                    entries += domains(in: items.joined(separator: " "), parameter: parameter, nestedFile: item, warn: warn)
                } catch {
                    warn("\(parameter): \(error.diagnostics.map(\.message).joined(separator: "; "))")
                }
            } else if item.contains(":") {
                entries += tableKeys(item, parameter: parameter, warn: warn)
            } else if !genericNames.contains(ImpersonationCheck.normalisedName(item)) {
                entries.append(IdentityEntry(.domain, item, source: source))
            }
        }
        return entries
    }

    /// The keys of a `type:table` in a domain list; a table heloguard cannot read or whose
    /// keys it cannot list draws a warning naming the parameter. (`proxy:` is Postfix's
    /// access through proxymap: the table behind it is read directly.)
    private static func tableKeys(_ spec: String, parameter: String, warn: (String) -> Void) -> [IdentityEntry] {
        let direct = spec.hasPrefix("proxy:") ? String(spec.dropFirst("proxy:".count)) : spec
        let loaded: LoadedTable
        do throws(ConfigError) {
            loaded = try TableLoader.open(direct, at: nil)
        } catch {
            warn("\(parameter): \(error.diagnostics.map(\.message).joined(separator: "; ")); list its domains in impersonation_domains")
            return []
        }
        guard let table = loaded.table as? any KeyListingTable else {
            warn("\(parameter): the keys of \(spec) cannot be listed (only fixed-string tables have a list of keys); list its domains in impersonation_domains")
            return []
        }
        return table.keys.compactMap { key in
            guard !key.key.isEmpty, !genericNames.contains(ImpersonationCheck.normalisedName(key.key)) else { return nil }
            let place = key.line.map { " line \($0)" } ?? ""
            return IdentityEntry(.domain, key.key, source: "postfix \(parameter) \(spec)\(place)")
        }
    }

    /// `inet_protocols`: `all` (or empty) for both families, else the listed ones.
    private static func addressFamilies(_ value: String) -> Set<IPAddress.Family> {
        var families: Set<IPAddress.Family> = []
        for item in PostfixList.tokens(value.lowercased()) {
            switch item {
            case "all": families = [.v4, .v6]
            case "ipv4": families.insert(.v4)
            case "ipv6": families.insert(.v6)
            default: break
            }
        }
        return families.isEmpty ? [.v4, .v6] : families
    }

    /// The items of `inet_interfaces` or `proxy_interfaces`.
    private static func addresses(in value: String, parameter: String, families: Set<IPAddress.Family>,
                                  interfaces: [InterfaceAddress]?, warn: (String) -> Void) -> [IdentityEntry] {
        var entries: [IdentityEntry] = []
        for item in PostfixList.tokens(value) {
            switch item.lowercased() {
            case "all":
                entries += (interfaces ?? NetworkList.localInterfaces()).map(\.address)
                    .filter { families.contains($0.family) && !ConfigurationLoader.isLoopback($0) }
                    .map { IdentityEntry(.address, $0.description, source: "postfix \(parameter) = all (interface of this machine)") }
            case "loopback-only":
                break
            default:
                if let address = address(in: item) {
                    guard !ConfigurationLoader.isLoopback(address), !address.bytes.allSatisfy({ $0 == 0 }) else { continue }
                    entries.append(IdentityEntry(.address, address.description, source: "postfix \(parameter)"))
                } else if HostnameSyntax.isValidHostname(item) {
                    entries.append(IdentityEntry(.hostname, item, source: "postfix \(parameter)"))
                } else {
                    warn("\(parameter): \"\(item)\" is neither an address nor a host name; ignored")
                }
            }
        }
        return entries
    }
}
