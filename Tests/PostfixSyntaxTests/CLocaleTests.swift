import Testing
#if canImport(Glibc)
import Glibc
#endif
import PostfixSyntax

/// Every class against the C library's own function, for all 256 bytes, in the C locale.
struct CLocaleTests {
    enum Class: String, CaseIterable, Sendable {
        case isspace, isdigit, isalpha, isalnum, isxdigit, iscntrl

        func ours(_ byte: UInt8) -> Bool {
            switch self {
            case .isspace: return CLocale.isSpace(byte)
            case .isdigit: return CLocale.isDigit(byte)
            case .isalpha: return CLocale.isAlpha(byte)
            case .isalnum: return CLocale.isAlnum(byte)
            case .isxdigit: return CLocale.isXDigit(byte)
            case .iscntrl: return CLocale.isControl(byte)
            }
        }

        func libc(_ byte: UInt8) -> Bool {
            let c = Int32(byte)
            switch self {
            case .isspace: return Glibc.isspace(c) != 0
            case .isdigit: return Glibc.isdigit(c) != 0
            case .isalpha: return Glibc.isalpha(c) != 0
            case .isalnum: return Glibc.isalnum(c) != 0
            case .isxdigit: return Glibc.isxdigit(c) != 0
            case .iscntrl: return Glibc.iscntrl(c) != 0
            }
        }
    }

    init() {
        _ = setlocale(LC_ALL, "C")
    }

    @Test(arguments: Class.allCases)
    func matchesTheCLibrary(_ kind: Class) {
        let differing = (0...255).map(UInt8.init).filter { kind.ours($0) != kind.libc($0) }
        #expect(differing.isEmpty, "\(kind.rawValue) differs for \(differing)")
    }

    @Test func toLowerMatchesTheCLibrary() {
        let differing = (0...255).map(UInt8.init).filter { Int32(CLocale.toLower($0)) != tolower(Int32($0)) }
        #expect(differing.isEmpty, "tolower differs for \(differing)")
        var bytes = (0...255).map(UInt8.init)
        CLocale.lowercase(&bytes)
        #expect(bytes == (0...255).map { UInt8(tolower(Int32($0))) })
    }

    @Test(arguments: [
        ("\t", true), (" ", true), ("\r", true), ("x", false),
        ("\u{A0}", false), ("\u{85}", false), ("\u{2028}", false), ("\u{3000}", false),
    ] as [(Unicode.Scalar, Bool)])
    func spaceScalarsAreASCIIOnly(_ scalar: Unicode.Scalar, _ expected: Bool) {
        #expect(CLocale.isSpace(scalar) == expected)
    }
}
