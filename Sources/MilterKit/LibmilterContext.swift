internal import CMilter

/// ``MilterContext`` backed by a live libmilter connection. Valid only during the callback it
/// was made for; never stored.
struct LibmilterContext: MilterContext {
    let pointer: OpaquePointer

    func macro(_ name: String) -> String? {
        guard let value = CMilter_getsymval(pointer, name) else { return nil }
        return String(cString: value)
    }

    func setReply(_ reply: MilterReply) -> Bool {
        let lines = reply.wireLines
        guard lines.count <= MilterReply.wireLineCountLimit else { return false }
        if lines.count == 1 {
            return CMilter_setreply(pointer, reply.code, reply.enhancedCode, lines[0]) == 0
        }
        // Keep the C strings alive for the duration of the call.
        let copies = lines.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer<CChar>($0) }
        return pointers.withUnsafeBufferPointer { buffer in
            CMilter_setmlreply(pointer, reply.code, reply.enhancedCode, buffer.baseAddress, Int32(buffer.count)) == 0
        }
    }

    func addHeader(name: String, value: String) -> Bool { CMilter_addheader(pointer, name, value) == 0 }

    func insertHeader(at index: Int, name: String, value: String) -> Bool {
        CMilter_insheader(pointer, Int32(clamping: index), name, value) == 0
    }

    func addRecipient(_ address: String) -> Bool { CMilter_addrcpt(pointer, address) == 0 }
    func deleteRecipient(_ address: String) -> Bool { CMilter_delrcpt(pointer, address) == 0 }
    func quarantine(reason: String) -> Bool { CMilter_quarantine(pointer, reason) == 0 }
}

#if canImport(Glibc)
import Glibc
#endif
