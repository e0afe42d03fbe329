/// Reads `dns_servers` (heloguard's own parameter): the DNS servers every query goes to,
/// separated by commas or white space. Each entry is
///
/// - an IPv4 address, optionally with a port: `192.0.2.53`, `127.0.0.1:5353`;
/// - a bare IPv6 address (no port possible, the colons are the address's): `::1`, `2001:db8::53`;
/// - an address in brackets, optionally with a port: `[::1]`, `[::1]:5353`, `[127.0.0.1]:53`.
///
/// The port defaults to 53. An empty list means "use the system's resolv.conf".
public enum DNSServerList {
    public static func parse(_ text: String) -> (servers: [DNSServerAddress], problems: [String]) {
        var servers: [DNSServerAddress] = []
        var problems: [String] = []
        let separators: Set<Character> = [",", " ", "\t", "\r", "\n"]
        for entry in text.split(whereSeparator: { separators.contains($0) }).map(String.init) {
            switch parseEntry(entry) {
            case .success(let server): servers.append(server)
            case .failure(let problem): problems.append("bad entry \"\(entry)\": \(problem.text)")
            }
        }
        return (servers, problems)
    }

    struct Problem: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    static func parseEntry(_ entry: String) -> Result<DNSServerAddress, Problem> {
        var addressText: Substring
        var portText: Substring? = nil
        if entry.hasPrefix("[") {
            guard let close = entry.firstIndex(of: "]") else { return .failure(Problem("missing \"]\"")) }
            addressText = entry[entry.index(after: entry.startIndex)..<close]
            let rest = entry[entry.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":" else { return .failure(Problem("expected \":port\" after \"]\"")) }
                portText = rest.dropFirst()
            }
        } else {
            let colons = entry.filter { $0 == ":" }.count
            if colons == 1, let colon = entry.firstIndex(of: ":") {
                addressText = entry[..<colon]
                portText = entry[entry.index(after: colon)...]
                if addressText.contains(where: { !$0.isASCII || !($0.isNumber || $0 == ".") }) {
                    return .failure(Problem("an IPv6 address with a port must be written in brackets, e.g. [::1]:5353"))
                }
            } else {
                addressText = Substring(entry)
            }
        }
        guard !addressText.contains("%"), let address = IPAddress(String(addressText)) else {
            return .failure(Problem("not an IPv4 or IPv6 address"))
        }
        var port = 53
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let number = Int(portText), (1...65535).contains(number) else {
                return .failure(Problem("the port must be a number from 1 to 65535"))
            }
            port = number
        }
        return .success(DNSServerAddress(address: address, port: port))
    }
}
