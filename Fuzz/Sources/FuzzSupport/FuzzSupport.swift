#if canImport(Glibc)
import Glibc
#endif
import HeloPolicy
import MilterKit

/// The fuzzer's bytes, cut into fields. Fields are separated by a NUL byte, so a seed file is
/// readable text and libFuzzer's mutations still reach every field.
public struct FuzzInput {
    public let bytes: [UInt8]
    private var position = 0

    public init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// The next field as raw bytes (everything up to the next NUL, or to the end).
    public mutating func field() -> [UInt8] {
        guard position < bytes.count else { return [] }
        let end = bytes[position...].firstIndex(of: 0) ?? bytes.count
        defer { position = min(end + 1, bytes.count) }
        return Array(bytes[position..<end])
    }

    /// The next field as text (malformed UTF-8 repaired the way `String(decoding:)` does).
    public mutating func text() -> String {
        String(decoding: field(), as: UTF8.self)
    }

    /// Everything not yet taken, as text.
    public mutating func rest() -> String {
        defer { position = bytes.count }
        return position < bytes.count ? String(decoding: bytes[position...], as: UTF8.self) : ""
    }

    /// The whole input as text.
    public var wholeText: String { String(decoding: bytes, as: UTF8.self) }
}

/// A broken property: say which and why on stderr, then abort so that libFuzzer saves the input
/// as a crash.
public func require(_ condition: Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #fileID, line: UInt = #line) {
    guard !condition else { return }
    let text = Array("PROPERTY VIOLATED at \(file):\(line): \(message())\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// Shows bytes for a failure message: printable ASCII as is, the rest as \xNN.
public func shown(_ text: String) -> String {
    var out = ""
    for byte in text.utf8.prefix(400) {
        if byte >= 0x20 && byte < 0x7F { out.unicodeScalars.append(Unicode.Scalar(byte)) }
        else { out += "\\x" + String(byte, radix: 16) }
    }
    return text.utf8.count > 400 ? out + "...(\(text.utf8.count) bytes)" : out
}

/// The rules a reply must keep to reach an SMTP client intact.
public enum ReplyRules {
    /// libmilter's `MAXREPLYLEN`: the most bytes of text `smfi_setreply`/`smfi_setmlreply` take per line.
    public static let libmilterLineLimit = 980
    /// libmilter's `MAXREPLIES`: the most lines `smfi_setmlreply` takes.
    public static let libmilterLineCountLimit = 32

    public static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// Printable 7-bit ASCII: space to tilde.
    public static func isPrintableASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// `X.Y.Z` with X in 2, 4, 5 and Y, Z of one to three digits (RFC 3463, libmilter's check).
    public static func isEnhancedCode(_ text: Substring) -> Bool {
        let fields = text.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 1, let first = fields[0].utf8.first,
              first == UInt8(ascii: "2") || first == UInt8(ascii: "4") || first == UInt8(ascii: "5") else { return false }
        return fields[1...].allSatisfy { (1...3).contains($0.utf8.count) && $0.utf8.allSatisfy(isDigit) }
    }

    /// A refusal line as an SMTP client sees it: `[45]NN`, a space, an enhanced code of the same
    /// class when there is one, printable 7-bit text, no CR or LF.
    public static func checkRefusalLine(_ line: String, context: @autoclosure () -> String) {
        let bytes = Array(line.utf8)
        require(bytes.count >= 4, "reply shorter than \"NNN \": \(shown(line)) [\(context())]")
        require(bytes[0] == UInt8(ascii: "4") || bytes[0] == UInt8(ascii: "5"),
                "refusal not 4xx/5xx: \(shown(line)) [\(context())]")
        require(isDigit(bytes[1]) && isDigit(bytes[2]), "reply code not three digits: \(shown(line)) [\(context())]")
        require(bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-"), "no separator after the code: \(shown(line)) [\(context())]")
        require(isPrintableASCII(line), "reply not printable 7-bit: \(shown(line)) [\(context())]")
        let status = Substring(line.utf8.dropFirst(4).prefix { $0 != UInt8(ascii: " ") })
        if isEnhancedCode(status) {
            require(status.utf8.first == bytes[0],
                    "enhanced code class differs from the reply code: \(shown(line)) [\(context())]")
        }
    }

    /// What heloguard hands to libmilter for `reply`: the limits libmilter checks
    /// (`smfi_setreply`/`smfi_setmlreply`), printable 7-bit text, and every `%` doubled since
    /// the MTA reads the text as a format string. Returns the text the client sees per line.
    @discardableResult
    public static func checkWire(_ reply: MilterReply, context: @autoclosure () -> String) -> [String] {
        let code = Array(reply.code.utf8)
        require(code.count == 3 && (code[0] == UInt8(ascii: "4") || code[0] == UInt8(ascii: "5"))
                && isDigit(code[1]) && isDigit(code[2]), "bad reply code \(shown(reply.code)) [\(context())]")
        if let enhanced = reply.enhancedCode {
            require(isEnhancedCode(Substring(enhanced)), "bad enhanced code \(shown(enhanced)) [\(context())]")
            require(enhanced.utf8.first == code[0], "class mismatch \(reply.code) \(enhanced) [\(context())]")
        }
        let wire = reply.wireLines
        require(!wire.isEmpty, "no wire lines [\(context())]")
        require(wire.count <= MilterReply.wireLineCountLimit && wire.count <= libmilterLineCountLimit,
                "\(wire.count) lines, more than libmilter takes [\(context())]")
        if wire.count == 1 && reply.enhancedCode == nil, let first = wire[0].utf8.first {
            // Postfix's milter8 check: a digit after `NNN ` starts an enhanced code of the same class.
            require(!isDigit(first) || first == code[0], "Postfix would call this reply malformed: \(reply.code) \(shown(wire[0])) [\(context())]")
        }
        var seen: [String] = []
        for line in wire {
            require(line.utf8.count <= libmilterLineLimit,
                    "wire line of \(line.utf8.count) bytes > \(libmilterLineLimit) [\(context())]")
            require(isPrintableASCII(line), "wire line not printable 7-bit: \(shown(line)) [\(context())]")
            seen.append(unescapingPercent(line, context: context()))
        }
        return seen
    }

    /// The text the MTA prints for a format string in which heloguard doubled every `%`.
    /// A single `%` left over is a property failure.
    public static func unescapingPercent(_ line: String, context: @autoclosure () -> String) -> String {
        var out: [UInt8] = []
        var bytes = line.utf8.makeIterator()
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "%") {
                require(bytes.next() == UInt8(ascii: "%"), "lone % in wire text: \(shown(line)) [\(context())]")
            }
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
