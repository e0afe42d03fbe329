import Testing
import HeloPolicy
import HeloState

/// `state_database` URLs: what is accepted, what each part becomes, and errors that never
/// repeat the password.
@Suite("PostgresURL")
struct PostgresURLTests {
    struct Good: Sendable, CustomTestStringConvertible {
        let text: String
        let user: String
        let password: String?
        let endpoint: PostgresURL.Endpoint
        let database: String
        var tls: PostgresURL.TLSMode = .prefer
        var testDescription: String { text }
    }

    static let good: [Good] = [
        Good(text: "postgresql://heloguard:secret@db.example:5433/mail", user: "heloguard", password: "secret",
             endpoint: .tcp(host: "db.example", port: 5433), database: "mail"),
        Good(text: "postgres://heloguard@127.0.0.1/heloguard?sslmode=disable", user: "heloguard", password: nil,
             endpoint: .tcp(host: "127.0.0.1", port: 5432), database: "heloguard", tls: .disable),
        Good(text: "POSTGRESQL://u:p%40ss%2Fw:rd@[2001:db8::5]:6432/d%20b?sslmode=verify-full", user: "u",
             password: "p@ss/w:rd", endpoint: .tcp(host: "2001:db8::5", port: 6432), database: "d b", tls: .verifyFull),
        Good(text: "postgresql://u:p@ss@db.example/x", user: "u", password: "p@ss",
             endpoint: .tcp(host: "db.example", port: 5432), database: "x"),
        Good(text: "postgresql://heloguard@/heloguard", user: "heloguard", password: nil,
             endpoint: .socket(directory: "/var/run/postgresql", port: 5432), database: "heloguard"),
        Good(text: "postgresql:///mail?host=/tmp/pg&user=hg&port=5499", user: "hg", password: nil,
             endpoint: .socket(directory: "/tmp/pg", port: 5499), database: "mail"),
        Good(text: "postgresql://hg:pw@db.example", user: "hg", password: "pw",
             endpoint: .tcp(host: "db.example", port: 5432), database: "hg"),
    ]

    @Test("accepted URLs", arguments: good)
    func parses(_ expected: Good) throws {
        let url = try PostgresURL(parsing: expected.text)
        #expect(url.user == expected.user)
        #expect(url.password == expected.password)
        #expect(url.endpoint == expected.endpoint)
        #expect(url.database == expected.database)
        #expect(url.tlsMode == expected.tls)
        if let password = expected.password {
            #expect(!url.description.contains(password))
            #expect(!url.location.contains(password))
        }
    }

    @Test("where messages say the database is")
    func location() throws {
        #expect(try PostgresURL(parsing: "postgresql://u:pw@db.example/mail").location == "db.example:5432/mail")
        #expect(try PostgresURL(parsing: "postgresql://u:pw@[::1]:5/m").location == "[::1]:5/m")
        #expect(try PostgresURL(parsing: "postgresql://u@/m?host=/run/pg").location == "/run/pg/.s.PGSQL.5432/m")
        #expect(try PostgresURL(parsing: "postgresql://u:pw@db.example/mail").description
                == "postgresql://u:(password)@db.example:5432/mail?sslmode=prefer")
    }

    static let bad: [(String, PostgresURLError)] = [
        ("/var/lib/heloguard/db", .notAURL),
        ("mysql://u:topsecret@db/x", .unsupportedScheme("mysql")),
        ("postgresql://db.example/x", .missingUser),
        ("postgresql://u:topsecret@db.example:99999/x", .badPort("99999")),
        ("postgresql://u:topsecret@db.example:/x", .badPort("")),
        ("postgresql://u:topsecret@2001:db8::5/x", .badHost("2001:db8::5")),
        ("postgresql://u:topsecret@a.example,b.example/x", .severalHosts),
        ("postgresql://u:top%zzsecret@db/x", .badPercentEncoding(part: "password")),
        ("postgresql://u:topsecret@db/x?sslmode=always", .badTLSMode("always")),
        ("postgresql://u:topsecret@db/x?connect_timeout=0", .badConnectTimeout("0")),
        ("postgresql://u:topsecret@db/x?sslmod=disable", .unknownParameter("sslmod")),
        ("postgresql://u:top secret@db/x", .containsSpace),
    ]

    @Test("refused URLs: a precise error without the password", arguments: bad)
    func refuses(_ text: String, _ expected: PostgresURLError) {
        #expect(throws: expected) { try PostgresURL(parsing: text) }
        #expect(!expected.description.contains("topsecret"))
    }

    @Test("check-config style: a malformed state_database is an error at its file:line")
    func configurationError() throws {
        let text = "smtpd_helo_restrictions = reject_penalized_client\n\nstate_database = postgresql://hg:topsecret@db:70000/x\n"
        do {
            _ = try StateSettingsTests.load(text, file: "heloguard.conf")
            Issue.record("the configuration was accepted")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.contains("heloguard.conf:3: error: state_database: bad port \"70000\" (1 to 65535)"), "\(lines)")
            #expect(lines.allSatisfy { !$0.contains("topsecret") })
        }
    }

    @Test("a password to a server whose certificate is never checked is warned about", arguments: [
        ("postgresql://hg:pw@db.example.net/x", "prefer"),
        ("postgresql://hg:pw@db.example.net/x?sslmode=require", "require"),
        ("postgresql://hg:pw@[2001:db8::5]:5432/x?sslmode=disable", "disable"),
        ("postgresql://hg@db.example.net/x?password=pw", "prefer"),
        ("postgresql://hg:pw@db.example.net/x?sslmode=verify-full", nil),
        ("postgresql://hg:pw@db.example.net/x?sslmode=verify-ca", nil),
        ("postgresql://hg@db.example.net/x", nil),
        ("postgresql://hg:pw@127.0.0.1/x", nil),
        ("postgresql://hg:pw@/x", nil),
    ] as [(String, String?)])
    func unverifiedPassword(_ text: String, _ mode: String?) throws {
        let warning = try PostgresURL(parsing: text).unverifiedPasswordWarning
        if let mode {
            #expect(warning?.hasPrefix("sslmode=\(mode) with a password: the server's certificate is never checked") == true, "\(warning ?? "nil")")
            #expect(warning?.contains("use sslmode=verify-full") == true)
            #expect(warning?.contains("pw") == false)
        } else {
            #expect(warning == nil)
        }
    }

    @Test("check-config and the milter's start show that warning at the state_database line")
    func unverifiedPasswordWarningInConfiguration() throws {
        let loaded = try StateSettingsTests.load("\nstate_database = postgresql://hg:topsecret@db.example.net/x\n", file: "heloguard.conf")
        let lines = loaded.diagnostics.map(\.description)
        #expect(lines.contains { $0.hasPrefix("heloguard.conf:2: warning: state_database: sslmode=prefer with a password") }, "\(lines)")
        #expect(lines.allSatisfy { !$0.contains("topsecret") })
    }

    @Test("penalty_box_refresh_interval: Postfix time units, default 10 s")
    func refreshInterval() throws {
        let defaults = try StateSettingsTests.load("", file: "a.conf")
        #expect(defaults.state.refreshInterval == 10)
        let set = try StateSettingsTests.load("penalty_box_refresh_interval = 2m\n", file: "b.conf")
        #expect(set.state.refreshInterval == 120)
        #expect(throws: ConfigError.self) {
            try StateSettingsTests.load("penalty_box_refresh_interval = soon\n", file: "c.conf")
        }
    }
}
