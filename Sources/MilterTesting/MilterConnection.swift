import Glibc

/// Why a milter exchange failed.
public enum MilterClientError: Error, Equatable, CustomStringConvertible {
    /// The socket specification is not `unix:/path`, `local:/path`, `inet:port@host` or `inet6:port@host`.
    case invalidSocketSpec(String)
    /// A system call failed.
    case system(call: String, errno: Int32)
    /// Nothing (or not enough) arrived before the deadline.
    case timedOut(waitingFor: String, after: Duration)
    /// The milter closed the connection.
    case connectionClosed(waitingFor: String)
    /// The bytes received are not a valid packet or reply.
    case malformedPacket(String)
    /// The milter broke the protocol (a reply the MTA does not allow at this point).
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .invalidSocketSpec(let spec):
            "invalid milter socket \"\(spec)\": expected unix:/path, local:/path, inet:port@host or inet6:port@host"
        case .system(let call, let code): "\(call): \(String(cString: strerror(code)))"
        case .timedOut(let what, let after): "timed out after \(after) waiting for \(what)"
        case .connectionClosed(let what): "the milter closed the connection while waiting for \(what)"
        case .malformedPacket(let detail): "malformed packet: \(detail)"
        case .protocolViolation(let detail): "protocol violation: \(detail)"
        }
    }
}

/// Where a milter listens, in Sendmail's notation (which heloguard also accepts).
public enum MilterSocketAddress: Equatable, Sendable, CustomStringConvertible {
    /// `unix:/path` or `local:/path`.
    case unix(path: String)
    /// `inet:port@host` (IPv4 or a name) or `inet6:port@host` (IPv6).
    case inet(host: String, port: UInt16, ipv6: Bool)

    /// Parses `unix:/path`, `local:/path`, `inet:port@host`, `inet6:port@host`.
    public init(_ spec: String) throws(MilterClientError) {
        guard let colon = spec.firstIndex(of: ":") else { throw .invalidSocketSpec(spec) }
        let kind = spec[..<colon].lowercased()
        let rest = String(spec[spec.index(after: colon)...])
        switch kind {
        case "unix", "local":
            guard !rest.isEmpty else { throw .invalidSocketSpec(spec) }
            self = .unix(path: rest)
        case "inet", "inet6":
            guard let at = rest.firstIndex(of: "@"), let port = UInt16(rest[..<at]), port > 0 else {
                throw .invalidSocketSpec(spec)
            }
            var host = String(rest[rest.index(after: at)...])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw .invalidSocketSpec(spec) }
            self = .inet(host: host, port: port, ipv6: kind == "inet6")
        default:
            throw .invalidSocketSpec(spec)
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .inet(let host, let port, let ipv6): "\(ipv6 ? "inet6" : "inet"):\(port)@\(host)"
        }
    }
}

/// A connected stream socket with a deadline on every read and write. Blocking I/O; one
/// user at a time.
final class MilterConnection {
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    let timeout: Duration

    /// Takes ownership of a connected socket.
    init(descriptor: Int32, timeout: Duration) {
        self.descriptor = descriptor
        self.timeout = timeout
        setSendTimeout()
    }

    /// Connects to `address`, failing after `timeout`.
    init(connectingTo address: MilterSocketAddress, timeout: Duration) throws(MilterClientError) {
        self.timeout = timeout
        descriptor = -1
        switch address {
        case .unix(let path):
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            let pathBytes = Array(path.utf8)
            let capacity = MemoryLayout.size(ofValue: socketAddress.sun_path)
            guard pathBytes.count < capacity else { throw .invalidSocketSpec("unix:\(path) (path longer than \(capacity - 1) bytes)") }
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in
                raw.copyBytes(from: pathBytes)
                raw[pathBytes.count] = 0
            }
            try open(family: AF_UNIX)
            let result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result != 0 { throw closing(.system(call: "connect \(address)", errno: errno)) }
        case .inet(let host, let port, let ipv6):
            var hints = addrinfo()
            hints.ai_family = ipv6 ? AF_INET6 : AF_INET
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo(host, String(port), &hints, &list)
            guard status == 0, let first = list else {
                throw .system(call: "getaddrinfo \(host): \(String(cString: gai_strerror(status)))", errno: 0)
            }
            defer { freeaddrinfo(list) }
            try open(family: first.pointee.ai_family)
            if Glibc.connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
                throw closing(.system(call: "connect \(address)", errno: errno))
            }
        }
    }

    deinit { close() }

    private func open(family: Int32) throws(MilterClientError) {
        descriptor = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw .system(call: "socket", errno: errno) }
        // Linux applies the send timeout to connect() too, so a connect cannot hang either.
        setSendTimeout()
    }

    private func setSendTimeout() {
        let (seconds, attoseconds) = timeout.components
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private func closing(_ error: MilterClientError) -> MilterClientError {
        close()
        return error
    }

    var isOpen: Bool { descriptor >= 0 }

    func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    func write(_ packet: MilterPacket) throws(MilterClientError) {
        let bytes = packet.encoded()
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(waitingFor: "the milter to take \(packet)", after: timeout) }
                throw .system(call: "send", errno: errno)
            }
            sent += count
        }
    }

    /// Reads one packet, failing if it has not fully arrived within the timeout.
    func read(waitingFor what: String) throws(MilterClientError) -> MilterPacket {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let (packet, length) = try MilterPacket.decode(buffer[...]) {
                buffer.removeFirst(length)
                return packet
            }
            try fill(until: deadline, waitingFor: what)
        }
    }

    /// Whether the milter has sent bytes nobody asked for yet (buffered or waiting in the socket).
    func hasUnreadData() -> Bool {
        if !buffer.isEmpty { return true }
        var probe = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&probe, 1, 0) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    private func fill(until deadline: ContinuousClock.Instant, waitingFor what: String) throws(MilterClientError) {
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { throw .timedOut(waitingFor: what, after: timeout) }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, milliseconds)
            if ready < 0 {
                if errno == EINTR { continue }
                throw .system(call: "poll", errno: errno)
            }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw .system(call: "recv", errno: errno)
            }
            if count == 0 { throw .connectionClosed(waitingFor: what) }
            buffer.append(contentsOf: chunk[..<count])
            return
        }
    }
}
