import Foundation

/// Just enough of the DNS wire format for the test servers: questions, answers, record data.
enum DNSWire {
    enum RRType {
        static let a: UInt16 = 1
        static let ns: UInt16 = 2
        static let cname: UInt16 = 5
        static let mx: UInt16 = 15
        static let txt: UInt16 = 16
        static let aaaa: UInt16 = 28
    }

    enum RCode {
        static let noError: UInt8 = 0
        static let formErr: UInt8 = 1
        static let servFail: UInt8 = 2
        static let nxDomain: UInt8 = 3
        static let notImp: UInt8 = 4
        static let refused: UInt8 = 5
        static let yxDomain: UInt8 = 6
    }

    /// A question as the server received it.
    struct Question: Sendable, Hashable {
        var id: UInt16
        var flags: UInt16
        /// Lowercased text form without the trailing dot; "." for the root.
        var name: String
        var type: UInt16
        /// The question section exactly as received (name, type, class).
        var section: [UInt8]
    }

    /// One resource record of an answer; `owner` nil means the question's name.
    struct Record: Sendable, Hashable {
        var owner: String?
        var type: UInt16
        var ttl: UInt32 = 300
        var data: [UInt8]
    }

    // MARK: Record data

    static func name(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let utf8 = Array(label.utf8)
                bytes.append(UInt8(utf8.count))
                bytes += utf8
            }
        }
        return bytes + [0]
    }

    static func a(_ text: String) -> [UInt8] {
        text.split(separator: ".").map { UInt8($0)! }
    }

    static func aaaa(_ text: String) -> [UInt8] {
        var storage = in6_addr()
        precondition(inet_pton(AF_INET6, text, &storage) == 1)
        return withUnsafeBytes(of: &storage) { Array($0) }
    }

    static func mx(_ preference: UInt16, _ exchange: String) -> [UInt8] {
        [UInt8(preference >> 8), UInt8(preference & 0xFF)] + name(exchange)
    }

    static func txt(_ strings: [String]) -> [UInt8] {
        strings.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Messages

    static func query(id: UInt16, name: String, type: UInt16) -> [UInt8] {
        var message: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        message += Self.name(name)
        message += [UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        return message
    }

    static func parseQuestion(_ message: [UInt8]) -> Question? {
        guard message.count >= 12, message[4] == 0, message[5] == 1 else { return nil }
        var index = 12
        var labels: [String] = []
        while true {
            guard index < message.count else { return nil }
            let length = Int(message[index])
            index += 1
            if length == 0 { break }
            guard length < 64, index + length <= message.count else { return nil }
            labels.append(String(decoding: message[index..<(index + length)], as: UTF8.self))
            index += length
        }
        guard index + 4 <= message.count else { return nil }
        let type = UInt16(message[index]) << 8 | UInt16(message[index + 1])
        return Question(
            id: UInt16(message[0]) << 8 | UInt16(message[1]),
            flags: UInt16(message[2]) << 8 | UInt16(message[3]),
            name: labels.isEmpty ? "." : labels.joined(separator: ".").lowercased(),
            type: type,
            section: Array(message[12..<(index + 4)]))
    }

    /// A response to `question` with `records` in the answer section, in this order.
    static func response(to question: Question, rcode: UInt8, records: [Record]) -> [UInt8] {
        let recursionDesired = UInt8((question.flags >> 8) & 0x01)
        var message: [UInt8] = [
            UInt8(question.id >> 8), UInt8(question.id & 0xFF),
            0x84 | recursionDesired, 0x80 | rcode,
            0, 1, UInt8(records.count >> 8), UInt8(records.count & 0xFF), 0, 0, 0, 0,
        ]
        message += question.section
        for record in records {
            if let owner = record.owner {
                message += name(owner)
            } else {
                message += [0xC0, 0x0C]
            }
            message += [UInt8(record.type >> 8), UInt8(record.type & 0xFF), 0, 1]
            message += withUnsafeBytes(of: record.ttl.bigEndian) { Array($0) }
            message += [UInt8(record.data.count >> 8), UInt8(record.data.count & 0xFF)]
            message += record.data
        }
        return message
    }

    /// The response code of a response message.
    static func rcode(of message: [UInt8]) -> UInt8? {
        message.count >= 4 ? message[3] & 0x0F : nil
    }
}
