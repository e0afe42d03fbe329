import Testing
import PostfixSyntax

struct CIDRPatternTests {
    @Test(arguments: [
        ("1.2.3.4", "1.2.3.4/32"),
        ("1.2.3.0/24", "1.2.3.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("[1.2.3.4]", "1.2.3.4/32"),
        ("[1.2.3.0]/24", "1.2.3.0/24"),
        ("[1.2.3.0/24]", "1.2.3.0/24"),
        ("2001:db8::/32", "[2001:db8::]/32"),
        ("[2001:db8::1]", "[2001:db8::1]/128"),
        ("[2001:DB8::]/32", "[2001:db8::]/32"),
        ("::ffff:1.2.3.4", "[::ffff:1.2.3.4]/128"),
        ("1.2.3.0/024", "1.2.3.0/24"),
    ])
    func networks(_ pattern: String, _ expected: String) throws {
        let network = try CIDRPattern.parse(pattern).get()
        #expect(network.description == expected)
    }

    @Test(arguments: [
        ("[1.2.3.4", "missing ']' character after \"[1.2.3.4\""),
        ("[1.2.3.4]x", "garbage after \"[1.2.3.4]\""),
        ("1.2.3.4/", "bad mask value in \"1.2.3.4/\""),
        ("1.2.3.0/x", "bad mask value in \"1.2.3.0/x\""),
        ("1.2.3.0/+8", "bad mask value in \"1.2.3.0/+8\""),
        ("1.2.3.0/33", "bad mask length in \"1.2.3.0/33\""),
        ("2001:db8::/129", "bad mask length in \"2001:db8::/129\""),
        ("1.2.3.0/99999999999999999999", "bad mask length in \"1.2.3.0/99999999999999999999\""),
        ("1.2.3/24", "bad network value in \"1.2.3/24\""),
        ("[1.2.3.0/24]/8", "bad network value in \"1.2.3.0/24/8\""),
        ("01.2.3.4", "bad address pattern: \"01.2.3.4\""),
        ("example.com", "bad address pattern: \"example.com\""),
        ("", "bad address pattern: \"\""),
        ("1.2.3.4/24", "non-null host address bits in \"1.2.3.4/24\", perhaps you should use \"1.2.3.0/24\" instead"),
        ("[2001:db8::1]/32",
         "non-null host address bits in \"2001:db8::1/32\", perhaps you should use \"2001:db8::/32\" instead"),
    ])
    func problems(_ pattern: String, _ expected: String) {
        #expect(throws: CIDRPattern.Problem(expected)) { try CIDRPattern.parse(pattern).get() }
    }

    @Test(arguments: [
        ("1.2.3.0/24", "1.2.3.255", true),
        ("1.2.3.0/24", "1.2.4.0", false),
        ("0.0.0.0/0", "255.255.255.255", true),
        ("2001:db8::/32", "2001:db8:ffff::1", true),
        ("2001:db8::/32", "2001:db9::", false),
        ("1.2.3.4", "1.2.3.4", true),
        ("0.0.0.0/0", "::1", false),
        ("::/0", "1.2.3.4", false),
    ])
    func contains(_ pattern: String, _ address: String, _ expected: Bool) throws {
        let network = try CIDRPattern.parse(pattern).get()
        let candidate = try #require(IPAddress(address))
        #expect(network.contains(candidate) == expected)
    }
}
