import MilterKit
import MilterTesting
import Testing

/// How many milter packets one SMTP session costs, with the MTA side playing Postfix's whole
/// message flow: the events heloguard negotiated away are left out (their macros still go, as
/// Postfix sends them), and after heloguard accepts the message at MAIL nothing more is sent
/// for it but the ABORT that ends the transaction.
@Suite("heloguard run: packets per session")
struct PacketCountTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        /// Appended to the protocol tests' configuration.
        var extraConfig = ""
        let helo: String
        let recipients: Int
        /// Packets the MTA sends and packets heloguard sends.
        let sent: Int
        let received: Int
        /// The events the MTA sent, in order (macro packets left out).
        let events: [String]
        var testDescription: String { name }
    }

    static let dependent = "smtpd_helo_restrictions = check_recipient_access inline:{abuse@example.com=OK}, reject_non_fqdn_helo_hostname\n"
    static let acceptedEvents = ["SMFIC_OPTNEG", "SMFIC_HELO", "SMFIC_MAIL", "SMFIC_ABORT", "SMFIC_QUIT"]

    static let cases: [Case] = [
        // OPTNEG; connect macros (no CONNECT: skipped); macros + HELO, MAIL; ABORT; QUIT —
        // answered: OPTNEG, MAIL (accept).
        Case(name: "clean, one recipient: accepted at MAIL", helo: "mail.example.net", recipients: 1,
             sent: 8, received: 2, events: acceptedEvents),
        Case(name: "clean, three recipients: the same packets", helo: "mail.example.net", recipients: 3,
             sent: 8, received: 2, events: acceptedEvents),
        // ... + macros + RCPT (refused), answered: OPTNEG, MAIL (continue), RCPT.
        Case(name: "refused HELO, one recipient", helo: "foo", recipients: 1, sent: 10, received: 3,
             events: ["SMFIC_OPTNEG", "SMFIC_HELO", "SMFIC_MAIL", "SMFIC_RCPT", "SMFIC_ABORT", "SMFIC_QUIT"]),
        // A recipient-dependent list: MAIL unanswered, then RCPT, the DATA macros, end of message.
        Case(name: "clean, one recipient, check_recipient_access in the list", extraConfig: dependent,
             helo: "mail.example.net", recipients: 1, sent: 13, received: 3,
             events: ["SMFIC_OPTNEG", "SMFIC_HELO", "SMFIC_MAIL", "SMFIC_RCPT", "SMFIC_BODYEOB",
                      "SMFIC_ABORT", "SMFIC_QUIT"]),
    ]

    @Test("packets per session type", arguments: cases)
    func packets(_ c: Case) throws {
        try HeloguardMilter.run(config: HeloguardProtocolTests.config + c.extraConfig, files: HeloguardProtocolTests.files) { milter in
            let client = try milter.client()
            try Self.playMessage(on: client, helo: c.helo, recipients: (0..<c.recipients).map { "<r\($0)@example.com>" })
            var sent = 0
            var received = 0
            var events: [String] = []
            for entry in client.transcript {
                switch entry {
                case .sent(let command):
                    sent += 1
                    if case .macros = command { continue }
                    events.append(command.name)
                case .received: received += 1
                case .notSent: break
                }
            }
            #expect(sent == c.sent, "\(client.transcript)")
            #expect(received == c.received, "\(client.transcript)")
            #expect(events == c.events)
        }
    }

    /// One message the way Postfix presents it: HELO, MAIL, the recipients, then (when one was
    /// accepted) DATA and the end of the message, ABORT (the transaction ends), QUIT. Headers,
    /// end of headers and body are left out: heloguard negotiates them away, and Postfix then
    /// sends not even their macros. After an ACCEPT at MAIL only ABORT and QUIT follow.
    static func playMessage(on client: MTAClient, helo: String, recipients: [String]) throws {
        try client.connect(hostname: "[203.0.113.7]", address: .ip("203.0.113.7", port: 54321),
                           macros: ["j": "mx.example.com", "{daemon_addr}": "192.0.2.1"])
        try client.helo(helo)
        let mail = try client.mail("<a@example.org>")
        if mail == .continue {
            var accepted = 0
            for recipient in recipients where try client.recipient(recipient) == .continue { accepted += 1 }
            if accepted > 0 {
                try client.data(macros: ["i": "4Fq1XY2abcz"])
                _ = try client.endOfMessage(macros: ["i": "4Fq1XY2abcz"])
            }
        } else {
            #expect(mail == .accept)
        }
        try client.abort()
        client.quit()
    }
}
