import CMilter
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The connect callback's address decoding (`CMilter_decodeaddress`) writes IPv4 by hand; its
/// text must be exactly `inet_ntop`'s, and IPv6, unix and unknown families must keep theirs.
@Suite("Connect address decoding")
struct ConnectAddressTests {
    static func decode(_ storage: inout sockaddr_storage) -> (family: Int32, text: String, port: Int32) {
        var port: Int32 = -1
        var buffer = [CChar](repeating: 0x7F, count: 64)
        let family = withUnsafePointer(to: &storage) { CMilter_decodeaddress($0, &buffer, buffer.count, &port) }
        return (family, String(cString: buffer), port)
    }

    static func ntop(_ family: Int32, _ address: UnsafeRawPointer) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = inet_ntop(family, address, &buffer, socklen_t(buffer.count))
        return String(cString: buffer)
    }

    /// A `sockaddr_in` for `octets` and `port`, with inet_ntop's text for it.
    static func ipv4(_ octets: [UInt8], port: UInt16 = 0) -> (storage: sockaddr_storage, expected: String) {
        var storage = sockaddr_storage()
        var expected = ""
        withUnsafeMutableBytes(of: &storage) { raw in
            let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
            address.pointee.sin_family = sa_family_t(AF_INET)
            address.pointee.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.pointee.sin_addr) { $0.copyBytes(from: octets) }
            expected = ntop(AF_INET, &address.pointee.sin_addr)
        }
        return (storage, expected)
    }

    @Test("IPv4 text equals inet_ntop's at every digit-count edge", arguments: [
        [0, 0, 0, 0], [255, 255, 255, 255], [9, 10, 99, 100], [127, 0, 0, 1], [192, 0, 2, 25],
        [1, 22, 133, 4], [100, 10, 1, 200], [203, 0, 113, 250],
    ] as [[UInt8]])
    func ipv4(_ octets: [UInt8]) {
        var (storage, expected) = Self.ipv4(octets, port: 2525)
        let decoded = Self.decode(&storage)
        #expect(decoded.family == 4 && decoded.port == 2525)
        #expect(decoded.text == expected)
        #expect(decoded.text == octets.map(String.init).joined(separator: "."))
    }

    @Test("65,536 addresses, every value in every octet, read the same as inet_ntop")
    func ipv4Sweep() {
        var mismatches = 0
        for high in 0...255 {
            for low in 0...255 {
                var (storage, expected) = Self.ipv4([UInt8(low), UInt8(high), UInt8(255 - low), UInt8(high ^ low)])
                if Self.decode(&storage).text != expected { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
    }

    @Test("IPv6 keeps inet_ntop's text and the port")
    func ipv6() {
        var storage = sockaddr_storage()
        var expected = ""
        withUnsafeMutableBytes(of: &storage) { raw in
            let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
            address.pointee.sin6_family = sa_family_t(AF_INET6)
            address.pointee.sin6_port = UInt16(40000).bigEndian
            _ = inet_pton(AF_INET6, "2001:db8::a:1", &address.pointee.sin6_addr)
            expected = Self.ntop(AF_INET6, &address.pointee.sin6_addr)
        }
        let decoded = Self.decode(&storage)
        #expect(decoded.family == 6 && decoded.port == 40000 && decoded.text == expected && expected == "2001:db8::a:1")
    }

    @Test("a unix client is 'L' with no text; an unknown family is 0")
    func otherFamilies() {
        var storage = sockaddr_storage()
        storage.ss_family = sa_family_t(AF_UNIX)
        let unix = Self.decode(&storage)
        #expect(unix.family == Int32(UInt8(ascii: "L")) && unix.text.isEmpty && unix.port == 0)
        storage.ss_family = sa_family_t(AF_APPLETALK)
        let unknown = Self.decode(&storage)
        #expect(unknown.family == 0 && unknown.text.isEmpty)
    }
}
