internal import CIDN2

/// Conversion of a (possibly non-ASCII) domain name to its ASCII form with A-labels
/// (`bücher.example` → `xn--bcher-kva.example`).
///
/// Postfix does this in `midna_domain_to_ascii()` (`src/util/midna_domain.c`) with ICU's UTS #46
/// implementation in non-transitional mode, and only when a client used SMTPUTF8. heloguard uses
/// libidn2 with NFC input normalisation and UTS #46 non-transitional processing, the libidn2
/// equivalent of that ICU mode (same mapping, `ß` stays `ß`, labels lower-cased). On top of the
/// library call it applies the two result checks Postfix relies on: ICU's overall length limit and
/// Postfix's own `valid_hostname()` test of the ASCII result.
///
/// Known difference: libidn2 also enforces IDNA2008 code point rules (symbols such as `☃`,
/// CONTEXTJ, Bidi) that ICU's UTS #46 mode, as Postfix configures it, does not. Such names are
/// refused here although Postfix would convert them.
public enum IDNA {
    /// The ASCII form of `name`, or nil when it cannot be converted or the result is not a valid
    /// host name. ASCII input also goes through the conversion (so it comes back lower-cased).
    public static func toASCII(_ name: String) -> String? {
        // A C string ends at NUL; Postfix never hands such a name to the converter.
        guard !name.isEmpty, !name.utf8.contains(0) else { return nil }
        var output: UnsafeMutablePointer<UInt8>? = nil
        let flags = Int32(IDN2_NFC_INPUT.rawValue | IDN2_NONTRANSITIONAL.rawValue)
        let status = idn2_lookup_u8(name, &output, flags)
        defer { if let output { idn2_free(output) } }
        guard status == Int32(IDN2_OK.rawValue), let output else { return nil }
        let ascii = String(cString: output)
        guard !ascii.isEmpty, !exceedsICULengthLimit(ascii),
              HostnameSyntax.isValidHostname(ascii) else { return nil }
        return ascii
    }

    /// ICU reports a name of more than 253 bytes as too long, except for exactly 254 bytes whose
    /// last byte is the root dot. libidn2's own limit is 255, so the stricter one is applied here.
    private static func exceedsICULengthLimit(_ ascii: String) -> Bool {
        let length = ascii.utf8.count
        if length <= 253 { return false }
        return !(length == 254 && ascii.utf8.last == UInt8(ascii: "."))
    }
}
