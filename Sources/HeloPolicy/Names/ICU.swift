internal import CICU

/// The two ICU services of the rule core, reached through the CICU shim: UTS #46 name
/// conversion (behind ``IDNA``) and Unicode case folding (behind `TableBytes.fold`). Only
/// this file talks to the shim, so buffer handling lives in one place.
enum ICU {
    /// Postfix converts names into a 1024-byte buffer and keeps one byte for the NUL.
    static let nameCapacity = 1023

    /// ICU's UTS #46 non-transitional ToASCII of the UTF-8 bytes `name`, or nil when ICU reports
    /// an error or any UIDNAInfo error bit, or the result does not fit ``nameCapacity`` bytes.
    static func nameToASCII(_ name: [UInt8]) -> [UInt8]? {
        let (length, output) = call(name, capacity: nameCapacity, cicu_name_to_ascii)
        guard length >= 0 else { return nil }
        return Array(output[0..<length])
    }

    /// ICU's default full case folding of the UTF-8 bytes `text` (`ß` → `ss`), or nil on an ICU
    /// error (ICU reports none that depend on the data; Postfix relies on the same).
    static func foldCase(_ text: [UInt8]) -> [UInt8]? {
        var capacity = text.count + 16
        for _ in 0..<3 {
            let (length, output) = call(text, capacity: capacity, cicu_fold_case)
            if length < 0 { return nil }
            if length <= capacity { return Array(output[0..<length]) }
            capacity = length
        }
        return nil
    }

    /// Runs a shim function (input, input length, output, output capacity) -> length or -1.
    private static func call(
        _ input: [UInt8], capacity: Int,
        _ function: (UnsafePointer<CChar>?, Int32, UnsafeMutablePointer<CChar>?, Int32) -> Int32
    ) -> (length: Int, output: [UInt8]) {
        guard !input.isEmpty, input.count < Int32.max, capacity < Int32.max else { return (-1, []) }
        var output = [UInt8](repeating: 0, count: capacity)
        let length = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                function(source.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(source.count),
                         target.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(target.count))
            }
        }
        return (Int(length), output)
    }
}
