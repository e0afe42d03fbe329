import Foundation
import HeloPolicy

/// A tiny UDP DNS server on 127.0.0.1 whose every answer comes from a rule: any response code,
/// records in any order, broken data, answers after a delay, or no answer at all. It runs on
/// one thread; delayed answers wait in a queue, so slow answers do not hold up other questions.
final class ScriptedDNSServer: @unchecked Sendable {
    enum Reply: Sendable {
        /// A response with these records in the answer section, sent after the delay.
        case answer(rcode: UInt8 = DNSWire.RCode.noError, records: [DNSWire.Record] = [], delayMilliseconds: Int = 0)
        /// No response at all.
        case silence
        /// These bytes, whatever they are.
        case raw(@Sendable (DNSWire.Question) -> [UInt8])
    }

    typealias Rules = @Sendable (DNSWire.Question) -> Reply

    let port: UInt16
    private let descriptor: Int32
    private let rules: Rules
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    init(rules: @escaping Rules) throws {
        self.rules = rules
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestServerError.system("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(descriptor)
            throw TestServerError.system("bind", errno)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        self.descriptor = descriptor
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    deinit {
        stop()
    }

    /// The address to give a resolver.
    var address: DNSServerAddress {
        DNSServerAddress(address: IPAddress("127.0.0.1")!, port: Int(port))
    }

    /// How many questions for `name` (lowercased, no trailing dot) of `type` arrived.
    func queries(_ name: String, type: UInt16) -> Int {
        lock.withLock { counts["\(name) \(type)"] ?? 0 }
    }

    /// Stops the thread and closes the socket (once).
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        finished.wait()
        close(descriptor)
    }

    private struct Scheduled {
        var due: Date
        var bytes: [UInt8]
        var peer: sockaddr_in
    }

    private func serve() {
        var queue: [Scheduled] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !lock.withLock({ stopping }) {
            let now = Date()
            let ready = queue.filter { $0.due <= now }
            queue.removeAll { $0.due <= now }
            for item in ready { send(item.bytes, to: item.peer) }
            let wait = queue.map { $0.due.timeIntervalSince(now) }.min().map { max(0, min($0, 0.02)) } ?? 0.02
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32((wait * 1000).rounded(.up))) > 0 else { continue }
            var peer = sockaddr_in()
            var peerLength = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &peer) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(descriptor, raw.baseAddress, raw.count, 0, $0, &peerLength)
                    }
                }
            }
            guard count > 0, let question = DNSWire.parseQuestion(Array(buffer[0..<count])) else { continue }
            lock.withLock { counts["\(question.name) \(question.type)", default: 0] += 1 }
            switch rules(question) {
            case .silence:
                break
            case let .raw(build):
                send(build(question), to: peer)
            case let .answer(rcode, records, delay):
                let bytes = DNSWire.response(to: question, rcode: rcode, records: records)
                if delay <= 0 {
                    send(bytes, to: peer)
                } else {
                    queue.append(Scheduled(due: Date().addingTimeInterval(Double(delay) / 1000), bytes: bytes, peer: peer))
                }
            }
        }
        finished.signal()
    }

    private func send(_ bytes: [UInt8], to peer: sockaddr_in) {
        var peer = peer
        _ = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
}

enum TestServerError: Error, CustomStringConvertible {
    case system(String, Int32)
    case dnsmasq(String)

    var description: String {
        switch self {
        case let .system(call, code): return "\(call) failed: \(String(cString: strerror(code)))"
        case let .dnsmasq(why): return "dnsmasq: \(why)"
        }
    }
}
