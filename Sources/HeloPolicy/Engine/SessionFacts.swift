import PostfixSyntax

/// What the SMTP session has told us by the time a recipient is checked: the client, the HELO
/// argument (as the MTA passes it to a milter), the sender and the SASL login.
public struct SessionFacts: Sendable, Hashable {
    /// The client's IP address as text (`192.0.2.1`, `2001:db8::1`).
    public var clientAddress: String {
        didSet { clientIP = IPAddress(clientAddress) }
    }
    /// ``clientAddress`` parsed, once per change rather than at every restriction that needs
    /// it; nil when it is not an IP address.
    public private(set) var clientIP: IPAddress?
    /// The client's verified host name, or `unknown` as Postfix says when there is none.
    public var clientName: String
    /// The HELO/EHLO argument after Postfix's tokenising (runs of spaces collapsed), not yet
    /// sanitised; nil when the client sent no (accepted) HELO.
    public var heloArgument: String? {
        didSet { storedHeloName = heloArgument.map(HeloName.stored) }
    }
    /// ``heloArgument`` as Postfix stores, logs and (with `smtpd_delay_reject = yes`) checks
    /// it (``HeloName/stored(_:)``), made once per HELO rather than at every evaluation.
    public private(set) var storedHeloName: String?
    /// The envelope sender without angle brackets; "" for the null sender; nil before MAIL.
    public var sender: String?
    /// True when MAIL FROM carried `SMTPUTF8`.
    public var smtputf8: Bool
    /// The SASL mechanism (`{auth_type}`); nil when the client did not authenticate.
    public var saslMethod: String?
    /// The SASL login name (`{auth_authen}`).
    public var saslUsername: String?
    /// Addresses the MTA says it received the connection on (`{daemon_addr}`), used by
    /// `reject_impersonating_helo` in addition to the configured ones.
    public var serverAddresses: [String]
    /// Host names the MTA says it has (`j`), likewise.
    public var serverHostnames: [String]
    /// The client's TCP port (`{client_port}`), for `$client_port` in RBL reply templates;
    /// nil shows as `unknown`, as Postfix shows a port it does not know.
    public var clientPort: String?
    /// The client's reverse (PTR) name, not forward-confirmed (`{client_ptr}`), for
    /// `$reverse_client_name`; nil shows `clientName` instead.
    public var reverseClientName: String?

    public init(
        clientAddress: String = "127.0.0.1", clientName: String = "unknown",
        heloArgument: String? = nil, sender: String? = nil, smtputf8: Bool = false,
        saslMethod: String? = nil, saslUsername: String? = nil,
        serverAddresses: [String] = [], serverHostnames: [String] = [],
        clientPort: String? = nil, reverseClientName: String? = nil
    ) {
        self.clientAddress = clientAddress
        self.clientIP = IPAddress(clientAddress)
        self.clientName = clientName
        self.heloArgument = heloArgument
        self.storedHeloName = heloArgument.map(HeloName.stored)
        self.sender = sender
        self.smtputf8 = smtputf8
        self.saslMethod = saslMethod
        self.saslUsername = saslUsername
        self.serverAddresses = serverAddresses
        self.serverHostnames = serverHostnames
        self.clientPort = clientPort
        self.reverseClientName = reverseClientName
    }

    /// `name[address]`, the client as Postfix shows it in replies and logs.
    public var clientNameAndAddress: String { "\(clientName)[\(clientAddress)]" }
}
