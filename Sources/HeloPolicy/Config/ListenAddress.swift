/// `metrics_listen`: where the metrics endpoint listens, `host:port` with the host an IPv4
/// address or a bracketed IPv6 address (`127.0.0.1:9465`, `[::1]:9465`). Empty means off.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address without brackets.
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `text`; nil with the reason when it is not a usable address.
    public static func parse(_ text: String) -> Result<ListenAddress, ListenAddressProblem> {
        let value = text.trimmingCharacters(in: " \t")
        let host: Substring
        let portText: Substring
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]"), value[value.index(after: close)...].hasPrefix(":") else {
                return .failure(ListenAddressProblem("\"\(value)\": write an IPv6 address as [address]:port"))
            }
            host = value[value.index(after: value.startIndex)..<close]
            portText = value[value.index(close, offsetBy: 2)...]
            guard host.contains(":"), IPAddress(String(host)) != nil else {
                return .failure(ListenAddressProblem("\"\(value)\": \"\(host)\" is not an IPv6 address"))
            }
        } else {
            guard let colon = value.lastIndex(of: ":") else {
                return .failure(ListenAddressProblem("\"\(value)\": use host:port, e.g. 127.0.0.1:9465"))
            }
            host = value[..<colon]
            portText = value[value.index(after: colon)...]
            guard !host.contains(":"), IPAddress(String(host)) != nil else {
                return .failure(ListenAddressProblem("\"\(value)\": \"\(host)\" is not an IPv4 address (IPv6: [address]:port)"))
            }
        }
        guard portText.allSatisfy(\.isASCII), let port = Int(portText), (1...65535).contains(port) else {
            return .failure(ListenAddressProblem("\"\(value)\": the port must be a number from 1 to 65535"))
        }
        return .success(ListenAddress(host: String(host), port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why a `metrics_listen` value is not usable.
public struct ListenAddressProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
