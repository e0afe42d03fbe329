import Glibc
import MilterTesting

/// The milter end of a socket pair whose other end belongs to a ``MilterClient``. A test queues
/// the milter's replies before it calls the client (the socket buffers them), then reads what
/// the client sent: no threads, no waiting.
final class ScriptedMilter {
    let client: MilterClient
    private var descriptor: Int32
    private var buffer: [UInt8] = []

    init(timeout: Duration = .seconds(2), options: MilterClientOptions = MilterClientOptions()) throws {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
            throw MilterClientError.system(call: "socketpair", errno: errno)
        }
        var options = options
        options.timeout = timeout
        client = MilterClient(fileDescriptor: pair[0], options: options)
        descriptor = pair[1]
    }

    deinit {
        client.close()
        hangUp()
    }

    /// Queues replies for the client to read.
    func reply(_ replies: MilterReply...) {
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
    func negotiate(_ answer: MilterNegotiation) throws {
        reply(.negotiation(answer))
        try client.negotiate()
        _ = try received()
    }
}
