import Glibc
import MilterKit
import MilterTesting

/// The milter end of a socket pair whose other end belongs to a ``MTAClient``. A test queues
/// the milter's replies before it calls the client (the socket buffers them), then reads what
/// the client sent: no threads, no waiting.
final class ScriptedMilter {
    let client: MTAClient
    private var descriptor: Int32
    private var buffer: [UInt8] = []

    init(timeout: Duration = .seconds(2), options: MTAClientOptions = MTAClientOptions()) throws {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
            throw MTAClientError.system(call: "socketpair", errno: errno)
        }
        var options = options
        options.timeout = timeout
        client = MTAClient(fileDescriptor: pair[0], options: options)
        descriptor = pair[1]
    }

    /// The same over TCP: the client connects to `inet:port@127.0.0.1` (or `inet6:port@::1`)
    /// where this milter listens on an ephemeral port.
    init(overTCP ipv6: Bool, timeout: Duration = .seconds(2)) throws {
        let listener = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw MTAClientError.system(call: "socket", errno: errno) }
        defer { close(listener) }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let port: UInt16 = try withUnsafeMutablePointer(to: &storage) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                if ipv6 {
                    var loopback = sockaddr_in6()
                    loopback.sin6_family = sa_family_t(AF_INET6)
                    loopback.sin6_addr = in6addr_loopback
                    address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee = loopback }
                } else {
                    var loopback = sockaddr_in()
                    loopback.sin_family = sa_family_t(AF_INET)
                    loopback.sin_addr.s_addr = inet_addr("127.0.0.1")
                    address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee = loopback }
                }
                let size = socklen_t(ipv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
                guard bind(listener, address, size) == 0, listen(listener, 1) == 0,
                      getsockname(listener, address, &length) == 0 else {
                    throw MTAClientError.system(call: "bind/listen", errno: errno)
                }
                let networkPort = ipv6 ? address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                                       : address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
                return UInt16(bigEndian: networkPort)
            }
        }
        var options = MTAClientOptions()
        options.timeout = timeout
        client = try MTAClient(connectingTo: ipv6 ? "inet6:\(port)@::1" : "inet:\(port)@127.0.0.1", options: options)
        descriptor = accept(listener, nil, nil)
        guard descriptor >= 0 else { throw MTAClientError.system(call: "accept", errno: errno) }
    }

    deinit {
        client.close()
        hangUp()
    }

    /// Queues replies for the client to read.
    func reply(_ replies: MilterAnswer...) {
        for reply in replies { write(reply.packet.encoded()) }
    }

    /// Queues raw bytes for the client to read.
    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Closes the milter's end.
    func hangUp() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    /// Everything the client has sent since the last call, decoded.
    func received() throws -> [MilterCommand] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count <= 0 { break }
            buffer.append(contentsOf: chunk[..<count])
        }
        var commands: [MilterCommand] = []
        while let (packet, length) = try MilterPacket.decode(buffer[...]) {
            buffer.removeFirst(length)
            commands.append(try MilterCommand(decoding: packet))
        }
        return commands
    }

    /// Plays a negotiation: queues `answer`, lets the client negotiate, and discards the
    /// client's SMFIC_OPTNEG.
    func negotiate(_ answer: MilterAgreement) throws {
        reply(.negotiation(answer))
        try client.negotiate()
        _ = try received()
    }
}
