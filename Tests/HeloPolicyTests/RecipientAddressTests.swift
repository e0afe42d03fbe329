import Testing
import HeloPolicy

/// RCPT TO and MAIL FROM arguments as Postfix reads the address out of them.
struct RecipientAddressTests {
    @Test(arguments: [
        ("<user@example.com>", "user@example.com"),
        ("user@example.com", "user@example.com"),
        (" \t<user@example.com>\t ", "user@example.com"),
        ("<>", ""),
        ("<", "<"),
        (">", ">"),
        ("<@relay.example,@other.example:user@example.com>", "user@example.com"),
        ("@relay.example:user@example.com", "user@example.com"),
        ("<\"john doe\"@example.com>", "john doe@example.com"),
        ("<\"a\\\"b\"@example.com>", "a\"b@example.com"),
        ("<a\\b@example.com>", "a\\b@example.com"),
        ("<jörg@exämple.com>", "jörg@exämple.com"),
        ("<\"jö rg\"@exämple.com>", "jö rg@exämple.com"),
        ("", ""),
    ])
    func bare(_ argument: String, _ expected: String) {
        #expect(RecipientAddress.bare(argument) == expected)
    }
}
