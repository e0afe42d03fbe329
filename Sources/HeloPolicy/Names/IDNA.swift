/// Conversion of a (possibly non-ASCII) domain name to its ASCII form with A-labels
/// (`bücher.example` → `xn--bcher-kva.example`, `☃.example.org` → `xn--n3h.example.org`).
///
/// Postfix does this in `midna_domain_to_ascii()` (`src/util/midna_domain.c`), and heloguard does
/// it the same way, with the same library: ICU's UTS #46 implementation in non-transitional mode
/// (Postfix's default `enable_idna2003_compatibility = no`; `ß` stays `ß`) and no further option,
/// so neither STD3 ASCII rules nor the IDNA2008 Bidi/CONTEXTJ checks apply and symbols such as
/// `☃` or emoji convert. The name is refused when ICU reports any error or any UIDNAInfo error
/// bit (empty or over-long label, name over 253 bytes, hyphen rules, disallowed code point,
/// bad A-label, ...), when the ASCII form is empty or longer than Postfix's 1023-byte buffer,
/// and when that form fails Postfix's `valid_hostname()`.
public enum IDNA {
    /// The ASCII form of `name`, or nil when it cannot be converted or the result is not a valid
    /// host name. ASCII input also goes through the conversion (so it comes back lower-cased).
    public static func toASCII(_ name: String) -> String? {
        // A C string ends at NUL; Postfix never hands such a name to the converter. A Swift
        // String is always well-formed UTF-8, which is Postfix's other precondition.
        guard !name.isEmpty, !name.utf8.contains(0), let bytes = ICU.nameToASCII(Array(name.utf8)),
              !bytes.isEmpty else { return nil }
        let ascii = String(decoding: bytes, as: UTF8.self)
        return HostnameSyntax.isValidHostname(ascii) ? ascii : nil
    }
}
