/// Postfix's list syntax (`mystrtokq()` with `", \t\r\n"` separators): items separated by
/// commas and white space, a `{ ... }` group (at any depth, anywhere in an item) kept whole.
/// Restriction lists, `mynetworks` and the heloguard list parameters all use it, and so do
/// Postfix's milter lists (`smtpd_milters`).
public enum PostfixList {
    public static func tokens(_ value: String) -> [String] {
        var result: [String] = []
        var current: [UInt8] = []
        var depth = 0
        for byte in value.utf8 {
            if byte == UInt8(ascii: "{") {
                depth += 1
            } else if depth > 0, byte == UInt8(ascii: "}") {
                depth -= 1
            } else if depth == 0, byte == UInt8(ascii: ",") || byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A {
                if !current.isEmpty { result.append(String(decoding: current, as: UTF8.self)) }
                current.removeAll()
                continue
            }
            current.append(byte)
        }
        if !current.isEmpty { result.append(String(decoding: current, as: UTF8.self)) }
        return result
    }
}
