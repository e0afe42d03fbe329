import FuzzSupport
import MilterKit

/// MilterKit's reply encoder. Input: code NUL enhanced-code NUL line NUL line ...; the whole
/// input is also tried as one reply line. Properties: whatever it accepts keeps libmilter's
/// limits and reaches the client as printable 7-bit text with nothing lost but control bytes;
/// a reply parsed from a line prints back to a line that parses to the same reply.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMilterReply(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let whole = input.wholeText
    let code = input.text()
    let enhanced = input.text()
    var lines: [String] = []
    while lines.count < 40 {
        let line = input.text()
        if line.isEmpty && lines.count > 0 { break }
        lines.append(line)
    }

    if let reply = try? MilterReply(code: code, enhancedCode: enhanced.isEmpty ? nil : enhanced, lines: lines) {
        checkParts(reply, context: "parts")
    }
    if let reply = try? MilterReply(line: whole) {
        checkParts(reply, context: "line")
        // parse -> print -> parse: one line in, one line out, the same reply again.
        require(reply.smtpLines.count == 1, "one line parsed into \(reply.smtpLines.count)")
        let again = try? MilterReply(line: reply.smtpLines[0])
        require(again == reply, "reparse differs: \(shown(reply.smtpLines[0]))")
    }
    return 0
}

private func checkParts(_ reply: MilterReply, context: String) {
    let received = ReplyRules.checkWire(reply, context: context)
    // Nothing is lost on the way: the wire lines, `%%` undone, hold the text of every line
    // (only control bytes and bytes outside printable ASCII may have been replaced).
    let sent = reply.lines.joined()
    let got = received.joined()
    require(sent.utf8.count >= got.utf8.count || sent.unicodeScalars.count == got.utf8.count,
            "wire text longer than the reply text: \(shown(sent)) -> \(shown(got))")
    if ReplyRules.isPrintableASCII(sent) {
        // All of it, unless the reply had to be cut at libmilter's line count.
        require(sent.hasPrefix(got), "wire text is not the reply text: \(shown(sent)) -> \(shown(got))")
        require(got == sent || received.count == MilterReply.wireLineCountLimit,
                "wire text lost part of the reply text: \(shown(sent)) -> \(shown(got))")
    }
}
