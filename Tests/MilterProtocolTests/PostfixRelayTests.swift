import MilterTesting
import Testing

@Suite("Postfix's rendering of milter replies (postfix-helo-semantics §4.4, §8.4)")
struct PostfixRelayTests {
    static let cases: [(MilterDecision, PostfixRelay.Command, String)] = [
        (.continue, .recipient, "250 2.1.5 Ok"),
        (.continue, .mail, "250 2.1.0 Ok"),
        (.accept, .recipient, "250 2.1.5 Ok"),
        (.discard, .recipient, "250 2.1.5 Ok"),
        (.skip, .recipient, "250 2.1.5 Ok"),
        (.continue, .data, "354 End data with <CR><LF>.<CR><LF>"),
        (.accept, .endOfMessage, "250 2.0.0 Ok: queued"),
        (.reject, .recipient, "550 5.7.1 Command rejected"),
        (.reject, .mail, "550 5.7.1 Command rejected"),
        (.tempfail, .recipient, "451 4.7.1 Service unavailable - try again later"),
        (.shutdown, .recipient, "421 4.7.0 Server closing connection"),
        (.connectionFailure, .recipient, "451 4.7.1 Service unavailable - try again later"),
        (.replyCode("504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"), .recipient,
         "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"),
        (.replyCode("450 4.7.1 100%% sure, 50% maybe"), .recipient, "450 4.7.1 100% sure, 50 maybe"),
        (.replyCode("504 5.5.2 <foo%%bar>: Helo command rejected: need fully-qualified hostname"), .recipient,
         "504 5.5.2 <foo%bar>: Helo command rejected: need fully-qualified hostname"),
        (.replyCode("550-5.7.1 first line\r\n550 5.7.1 second line"), .recipient, "550-5.7.1 first line\r\n550 5.7.1 second line"),
        (.replyCode("550 no enhanced code"), .recipient, "550 no enhanced code"),
        (.replyCode("550 4.7.1 mismatched"), .recipient, "451 4.3.5 Server configuration problem - try again later"),
        (.replyCode("250 ok?"), .recipient, "451 4.3.5 Server configuration problem - try again later"),
        (.replyCode("55 5.7.1 short"), .recipient, "451 4.3.5 Server configuration problem - try again later"),
        (.replyCode("550"), .recipient, "451 4.3.5 Server configuration problem - try again later"),
        (.replyCode("5501 5.7.1 x"), .recipient, "451 4.3.5 Server configuration problem - try again later"),
    ]

    @Test("What the SMTP client sees", arguments: cases)
    func rendering(_ decision: MilterDecision, _ command: PostfixRelay.Command, _ expected: String) {
        #expect(PostfixRelay.reply(to: decision, for: command) == expected)
    }

    @Test("%% becomes %, a single % is dropped", arguments: [
        ("100%% sure", "100% sure"),
        ("50% maybe", "50 maybe"),
        ("%%%%", "%%"),
        ("%%%", "%"),
        ("trailing %", "trailing "),
        ("no percent", "no percent"),
        ("<f%%o%o>", "<f%oo>"),
    ])
    func percent(_ wire: String, _ shown: String) {
        #expect(PostfixRelay.unescapePercent(wire) == shown)
    }
}
