import FuzzSupport
import HeloPolicy

/// mynetworks-style lists (addresses, networks, `[v6]/len`, `!negation`, host names, inline:
/// tables). Input: list value NUL client address NUL client name. File names (`/path`) and
/// tables other than inline:/static: are kept out: the fuzzer would otherwise read /dev/zero.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMyNetworks(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let value = input.text()
    let addressText = input.text()
    let clientName = input.text()
    let pieces = value.split { " \t\r\n,{}!".contains($0) }
    if pieces.contains(where: { $0.hasPrefix("/") }) { return 0 }

    let location = SourceLocation(file: "/fuzz/heloguard.conf", line: 3)
    let opener: NetworkList.TableOpener = { spec, at throws(ConfigError) in
        guard spec.hasPrefix("inline:") || spec.hasPrefix("static:") else {
            throw ConfigError(at, "fuzz: table type not opened")
        }
        return try TableLoader.open(spec, at: at).table
    }
    let (list, diagnostics) = NetworkList.parse(value, location: location, parentMatchesSubdomains: false, openTable: opener)
    for diagnostic in diagnostics {
        require(diagnostic.location == location, "diagnostic not at the parameter's location: \(diagnostic)")
    }

    var addresses = ["192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1"].compactMap(IPAddress.init)
    if let address = IPAddress(addressText) {
        // Address text round trip: the printed form parses to the same address.
        require(IPAddress(address.description) == address, "address does not print back: \(shown(addressText)) -> \(address)")
        addresses.insert(address, at: 0)
    }
    for address in addresses {
        _ = list.matches(clientName: clientName.isEmpty ? nil : clientName, clientAddress: address)
    }

    // A lone address is its own network: a list of just that address matches it.
    for piece in pieces.prefix(4) {
        let text = String(piece)
        guard let address = IPAddress(text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text)
        else { continue }
        // An IPv6 address must be bracketed; a v4-mapped one is matched as its IPv4 address.
        if address.family == .v6 && (!text.hasPrefix("[") || address.unmappedIPv4 != nil) { continue }
        let (single, _) = NetworkList.parse(text, location: location, parentMatchesSubdomains: false, openTable: opener)
        require(single.matches(clientName: nil, clientAddress: address) == .matched,
                "list \(shown(text)) does not match its own address \(address)")
    }
    return 0
}
