import Testing
import PostfixSyntax
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct IPAddressTests {
    /// What the C library writes for `bytes`: the text Postfix logs and matches.
    static func inetNtop(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        var copy = bytes
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = copy.withUnsafeMutableBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(cString: buffer)
    }

    /// IPv4 text is written without inet_ntop (it runs at every mynetworks check); it must be
    /// inet_ntop's text exactly. Every combination of bytes at the edges of 1, 2 and 3 digits.
    @Test func ipv4TextIsInetNtopText() throws {
        let edges: [UInt8] = [0, 1, 9, 10, 99, 100, 199, 200, 254, 255]
        var checked = 0
        for a in edges { for b in edges { for c in edges { for d in edges {
            let address = try #require(IPAddress(bytes: [a, b, c, d]))
            #expect(address.description == Self.inetNtop(address.bytes))
            #expect(IPAddress(address.description) == address)
            checked += 1
        } } } }
        #expect(checked == 10_000)
    }

    @Test(arguments: [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("::", "::"),
    ])
    func parsesAndPrints(_ text: String, _ expected: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == expected)
        #expect(address.description == Self.inetNtop(address.bytes))
    }

    @Test(arguments: ["", "192.0.2", "192.0.2.256", "192.0.2.1 ", "2001:db8::g", "[192.0.2.1]", "example.com"])
    func refusesWhatInetPtonRefuses(_ text: String) {
        #expect(IPAddress(text) == nil)
    }
}
