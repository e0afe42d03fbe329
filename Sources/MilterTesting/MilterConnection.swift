import Glibc
import MilterKit

/// Why a milter exchange failed.
public enum MTAClientError: Error, Equatable, CustomStringConvertible {
    /// The socket specification is not `unix:/path`, `local:/path`, `inet:port@host` or
    /// `inet6:port@host` (the text says why).
    case invalidSocketSpec(String)
    /// A system call failed (`errno` 0 when the call gave its own message, as getaddrinfo does).
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
        case .invalidSocketSpec(let problem): problem
        case .system(let call, let code): code == 0 ? call : "\(call): \(String(cString: strerror(code)))"
        case .timedOut(let what, let after): "timed out after \(after) waiting for \(what)"
        case .connectionClosed(let what): "the milter closed the connection while waiting for \(what)"
        case .malformedPacket(let detail): "malformed packet: \(detail)"
        case .protocolViolation(let detail): "protocol violation: \(detail)"
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
    init(connectingTo address: MilterSocket, timeout: Duration) throws(MTAClientError) {
        self.timeout = timeout
        descriptor = -1
        switch address.endpoint {
        case .local(let path):
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
        case .inet(let port, let host), .inet6(let port, let host):
            let ipv6 = if case .inet6 = address.endpoint { true } else { false }
            // A milter that listens on every address (no host) is reached over loopback.
            let host = host.map { $0.hasPrefix("[") && $0.hasSuffix("]") ? String($0.dropFirst().dropLast()) : $0 }
                ?? (ipv6 ? "::1" : "127.0.0.1")
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

    private func open(family: Int32) throws(MTAClientError) {
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

    private func closing(_ error: MTAClientError) -> MTAClientError {
        close()
        return error
    }

    func close() {
        if descriptor >= 0 { _ = Glibc.close(descriptor) }
        descriptor = -1
    }

    func write(_ packet: MilterPacket) throws(MTAClientError) {
        let bytes = packet.encoded()
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(waitingFor: "the milter to take \(packet)", after: timeout) }
                if errno == EPIPE || errno == ECONNRESET { throw .connectionClosed(waitingFor: "the milter to take \(packet)") }
                throw .system(call: "send", errno: errno)
            }
            sent += count
        }
    }

    /// Reads one packet, failing if it has not fully arrived within the timeout.
    func read(waitingFor what: String) throws(MTAClientError) -> MilterPacket {
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

    private func fill(until deadline: ContinuousClock.Instant, waitingFor what: String) throws(MTAClientError) {
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
