import Testing
@testable import HeloPolicy

struct KnownParametersTests {
    static func parameters(_ text: String, hostname: String = "mx.example.org") -> Parameters {
        let (mainCf, _) = MainCf.parse(text, file: "main.cf")
        return KnownParameters.parameters(from: mainCf, systemHostname: hostname,
            interfaces: [InterfaceAddress(address: IPAddress("127.0.0.1")!, netmask: IPAddress("255.0.0.0")!)])
    }

    struct DefaultCase: Sendable, CustomTestStringConvertible {
        let parameter: String
        let expected: String
        var testDescription: String { parameter }
    }

    static let defaultCases: [DefaultCase] = [
        DefaultCase(parameter: "smtpd_helo_restrictions", expected: ""),
        DefaultCase(parameter: "smtpd_helo_required", expected: "no"),
        DefaultCase(parameter: "smtpd_delay_reject", expected: "yes"),
        DefaultCase(parameter: "mynetworks_style", expected: "host"),
        DefaultCase(parameter: "mynetworks", expected: "127.0.0.1/32"),
        DefaultCase(parameter: "parent_domain_matches_subdomains",
                    expected: "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps"),
        DefaultCase(parameter: "invalid_hostname_reject_code", expected: "501"),
        DefaultCase(parameter: "non_fqdn_reject_code", expected: "504"),
        DefaultCase(parameter: "unknown_hostname_reject_code", expected: "450"),
        DefaultCase(parameter: "unknown_helo_hostname_tempfail_action", expected: "defer_if_permit"),
        DefaultCase(parameter: "access_map_reject_code", expected: "554"),
        DefaultCase(parameter: "access_map_defer_code", expected: "450"),
        DefaultCase(parameter: "reject_code", expected: "554"),
        DefaultCase(parameter: "defer_code", expected: "450"),
        DefaultCase(parameter: "maps_rbl_reject_code", expected: "554"),
        DefaultCase(parameter: "soft_bounce", expected: "no"),
        DefaultCase(parameter: "myhostname", expected: "mx.example.org"),
        DefaultCase(parameter: "mydomain", expected: "example.org"),
        DefaultCase(parameter: "smtpd_null_access_lookup_key", expected: "<>"),
        DefaultCase(parameter: "impersonation_hostnames", expected: "mx.example.org"),
        DefaultCase(parameter: "impersonation_domains", expected: "example.org"),
        DefaultCase(parameter: "impersonation_addresses", expected: ""),
        DefaultCase(parameter: "impersonation_reject_code", expected: "550"),
        DefaultCase(parameter: "impersonation_reply_text", expected: "Host impersonates this server"),
        DefaultCase(parameter: "impersonation_check_dns", expected: "no"),
        DefaultCase(parameter: "dns_servers", expected: ""),
        DefaultCase(parameter: "dns_timeout", expected: "10s"),
        DefaultCase(parameter: "dns_rr_list_limit", expected: "100"),
        DefaultCase(parameter: "state_directory", expected: "/var/lib/heloguard"),
        DefaultCase(parameter: "penalty_box_ttl", expected: "24h"),
        DefaultCase(parameter: "penalty_box_max_ttl", expected: "7d"),
        DefaultCase(parameter: "penalty_box_max_entries", expected: "100000"),
        DefaultCase(parameter: "penalty_box_ipv6_prefix", expected: "64"),
        DefaultCase(parameter: "penalty_box_reject_code", expected: "550"),
        DefaultCase(parameter: "penalize_impersonation", expected: "yes"),
        DefaultCase(parameter: "helo_log", expected: "yes"),
        DefaultCase(parameter: "helo_log_sample", expected: "1"),
        DefaultCase(parameter: "helo_log_retention", expected: "30d"),
        DefaultCase(parameter: "rbl_reply_maps", expected: ""),
        DefaultCase(parameter: "default_rbl_reply",
                    expected: "$rbl_code Service unavailable; $rbl_class [$rbl_what] blocked using $rbl_domain${rbl_reason?; $rbl_reason}"),
        // As `postconf -d smtpd_expansion_filter` prints it (Postfix 3.7.11).
        DefaultCase(parameter: "smtpd_expansion_filter",
                    expected: ##"\t\40!"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"##),
    ]

    @Test(arguments: defaultCases)
    func defaults(_ c: DefaultCase) {
        let p = Self.parameters("")
        #expect(p.value(c.parameter) == c.expected)
        #expect(KnownParameters.validate(p).isEmpty)
    }

    struct HostnameCase: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        let hostname: String
        let myhostname: String
        let mydomain: String
        var testDescription: String { name }
    }

    static let hostnameCases: [HostnameCase] = [
        HostnameCase(name: "short host name gets .localdomain", config: "", hostname: "box",
                     myhostname: "box.localdomain", mydomain: "localdomain"),
        HostnameCase(name: "short host name gets $mydomain when set", config: "mydomain = example.net", hostname: "box",
                     myhostname: "box.example.net", mydomain: "example.net"),
        HostnameCase(name: "mydomain follows a configured myhostname", config: "myhostname = a.b.example.com", hostname: "box",
                     myhostname: "a.b.example.com", mydomain: "b.example.com"),
        HostnameCase(name: "single-label myhostname gives localdomain", config: "myhostname = solo", hostname: "x.y",
                     myhostname: "solo", mydomain: "localdomain"),
    ]

    @Test(arguments: hostnameCases)
    func hostnames(_ c: HostnameCase) {
        let p = Self.parameters(c.config, hostname: c.hostname)
        #expect(p.value("myhostname") == c.myhostname)
        #expect(p.value("mydomain") == c.mydomain)
    }

    struct ValidationCase: Sendable, CustomTestStringConvertible {
        let name: String
        let config: String
        let expected: [String]
        var testDescription: String { name }
    }

    static let validationCases: [ValidationCase] = [
        ValidationCase(name: "unknown parameter", config: "\nsmtpd_tls_cert_file = /x",
                       expected: ["main.cf:2: warning: unknown parameter \"smtpd_tls_cert_file\" (not used by heloguard)"]),
        ValidationCase(name: "restriction class names are not unknown",
                       config: "smtpd_restriction_classes = strict, lenient\nstrict = reject_non_fqdn_helo_hostname\nlenient = permit",
                       expected: []),
        ValidationCase(name: "bad boolean", config: "a_known = 1\nsmtpd_helo_required = maybe",
                       expected: ["main.cf:1: warning: unknown parameter \"a_known\" (not used by heloguard)",
                                  "main.cf:2: error: bad boolean configuration: smtpd_helo_required = maybe (use yes or no)"]),
        ValidationCase(name: "booleans ignore case", config: "smtpd_helo_required = YES\nsoft_bounce = No", expected: []),
        ValidationCase(name: "non-numeric code", config: "non_fqdn_reject_code = 5O4",
                       expected: ["main.cf:1: error: bad numerical configuration: non_fqdn_reject_code = 5O4"]),
        ValidationCase(name: "code out of range", config: "\n\ninvalid_hostname_reject_code = 250",
                       expected: ["main.cf:3: error: invalid_hostname_reject_code = 250: reply code out of range 400-599; at run time every reply with it becomes \"450 4.7.1 Service unavailable\""]),
        ValidationCase(name: "code through expansion", config: "my_code = 777\nreject_code = $my_code",
                       expected: ["main.cf:1: warning: unknown parameter \"my_code\" (not used by heloguard)",
                                  "main.cf:2: error: reject_code = 777: reply code out of range 400-599; at run time every reply with it becomes \"450 4.7.1 Service unavailable\""]),
        ValidationCase(name: "bad tempfail action", config: "unknown_helo_hostname_tempfail_action = reject",
                       expected: ["main.cf:1: error: bad configuration: unknown_helo_hostname_tempfail_action = reject (use defer_if_permit or defer)"]),
        ValidationCase(name: "bad tempfail action reached through the default",
                       config: "reject_tempfail_action = bounce",
                       expected: ["main.cf:1: error: bad configuration: unknown_helo_hostname_tempfail_action = bounce (use defer_if_permit or defer)",
                                  "main.cf:1: error: bad configuration: reject_tempfail_action = bounce (use defer_if_permit or defer)"]),
        ValidationCase(name: "tempfail actions ignore case", config: "reject_tempfail_action = DEFER", expected: []),
        ValidationCase(name: "bad mynetworks_style", config: "mynetworks_style = host subnet",
                       expected: ["main.cf:1: error: bad mynetworks_style value: host subnet; specify exactly one of host, subnet or class"]),
        ValidationCase(name: "bad impersonation_check_dns", config: "impersonation_check_dns = sometimes",
                       expected: ["main.cf:1: error: bad boolean configuration: impersonation_check_dns = sometimes (use yes or no)"]),
        ValidationCase(name: "dns_timeout units", config: "dns_timeout = 2m", expected: []),
        ValidationCase(name: "dns_timeout without a unit is seconds", config: "dns_timeout = 5", expected: []),
        ValidationCase(name: "bad dns_timeout unit", config: "\ndns_timeout = 10x",
                       expected: ["main.cf:2: error: parameter dns_timeout: bad time value or unit: 10x (use a number with an optional unit s, m, h, d or w)"]),
        ValidationCase(name: "dns_timeout must be a whole number", config: "dns_timeout = 1.5s",
                       expected: ["main.cf:1: error: parameter dns_timeout: bad time value or unit: 1.5s (use a number with an optional unit s, m, h, d or w)"]),
        ValidationCase(name: "dns_timeout zero", config: "dns_timeout = 0s",
                       expected: ["main.cf:1: error: invalid dns_timeout: 0s (must be greater than zero)"]),
        ValidationCase(name: "dns_timeout negative", config: "dns_timeout = -5s",
                       expected: ["main.cf:1: error: parameter dns_timeout: bad time value or unit: -5s (use a number with an optional unit s, m, h, d or w)"]),
        ValidationCase(name: "dns_rr_list_limit zero", config: "dns_rr_list_limit = 0",
                       expected: ["main.cf:1: error: invalid dns_rr_list_limit: 0 (must be greater than zero)"]),
        ValidationCase(name: "dns_rr_list_limit not a number", config: "dns_rr_list_limit = lots",
                       expected: ["main.cf:1: error: bad numerical configuration: dns_rr_list_limit = lots"]),
        ValidationCase(name: "good dns_servers", config: "dns_servers = 127.0.0.1, 192.0.2.53:5353 ::1 [2001:db8::53]:53", expected: []),
        ValidationCase(name: "bad dns_servers entries, each named", config: "\n\ndns_servers = 127.0.0.1 dns.example.com 127.0.0.1:99999 2001:db8::1:53x [::1",
                       expected: ["main.cf:3: error: dns_servers: bad entry \"dns.example.com\": not an IPv4 or IPv6 address",
                                  "main.cf:3: error: dns_servers: bad entry \"127.0.0.1:99999\": the port must be a number from 1 to 65535",
                                  "main.cf:3: error: dns_servers: bad entry \"2001:db8::1:53x\": not an IPv4 or IPv6 address",
                                  "main.cf:3: error: dns_servers: bad entry \"[::1\": missing \"]\""]),
        ValidationCase(name: "penalty box times", config: "penalty_box_ttl = 2h\npenalty_box_max_ttl = 2w\nhelo_log_retention = 90d", expected: []),
        ValidationCase(name: "bad penalty_box_ttl", config: "\npenalty_box_ttl = a day",
                       expected: ["main.cf:2: error: parameter penalty_box_ttl: bad time value or unit: a day (use a number with an optional unit s, m, h, d or w)"]),
        ValidationCase(name: "zero penalty_box_max_ttl", config: "penalty_box_max_ttl = 0",
                       expected: ["main.cf:1: error: invalid penalty_box_max_ttl: 0 (must be greater than zero)"]),
        ValidationCase(name: "bad helo_log_retention", config: "helo_log_retention = 1mo",
                       expected: ["main.cf:1: error: parameter helo_log_retention: bad time value or unit: 1mo (use a number with an optional unit s, m, h, d or w)"]),
        ValidationCase(name: "bad penalty_box_max_entries", config: "penalty_box_max_entries = many",
                       expected: ["main.cf:1: error: bad numerical configuration: penalty_box_max_entries = many"]),
        ValidationCase(name: "zero helo_log_sample", config: "helo_log_sample = 0",
                       expected: ["main.cf:1: error: invalid helo_log_sample: 0 (must be greater than zero)"]),
        ValidationCase(name: "bad helo_log", config: "helo_log = sometimes",
                       expected: ["main.cf:1: error: bad boolean configuration: helo_log = sometimes (use yes or no)"]),
        ValidationCase(name: "bad penalize_impersonation", config: "penalize_impersonation = 1",
                       expected: ["main.cf:1: error: bad boolean configuration: penalize_impersonation = 1 (use yes or no)"]),
        ValidationCase(name: "penalty_box_reject_code out of range", config: "penalty_box_reject_code = 250",
                       expected: ["main.cf:1: error: penalty_box_reject_code = 250: reply code out of range 400-599; at run time every reply with it becomes \"450 4.7.1 Service unavailable\""]),
        ValidationCase(name: "IPv6 with a port needs brackets", config: "dns_servers = fe80::1%eth0",
                       expected: ["main.cf:1: error: dns_servers: bad entry \"fe80::1%eth0\": not an IPv4 or IPv6 address"]),
    ]

    @Test(arguments: validationCases)
    func validation(_ c: ValidationCase) {
        #expect(KnownParameters.validate(Self.parameters(c.config)).map(\.description) == c.expected)
    }

    @Test func parentDomainStyle() {
        #expect(KnownParameters.parentDomainMatchesSubdomains("mynetworks", in: Self.parameters("")))
        #expect(KnownParameters.parentDomainMatchesSubdomains("smtpd_access_maps", in: Self.parameters("")))
        let p = Self.parameters("parent_domain_matches_subdomains = relay_domains")
        #expect(!KnownParameters.parentDomainMatchesSubdomains("mynetworks", in: p))
    }

    struct TimeCase: Sendable, CustomTestStringConvertible {
        let text: String
        let seconds: Int?
        var testDescription: String { "\"\(text)\"" }
    }

    static let timeCases: [TimeCase] = [
        TimeCase(text: "10s", seconds: 10), TimeCase(text: "10", seconds: 10), TimeCase(text: "2m", seconds: 120),
        TimeCase(text: "1h", seconds: 3600), TimeCase(text: "1d", seconds: 86_400), TimeCase(text: "1w", seconds: 604_800),
        TimeCase(text: "0", seconds: 0), TimeCase(text: "", seconds: nil), TimeCase(text: "s", seconds: nil),
        TimeCase(text: "10S", seconds: nil), TimeCase(text: "10 s", seconds: nil), TimeCase(text: "99999999999", seconds: nil),
        TimeCase(text: "9999999w", seconds: nil),
    ]

    @Test(arguments: timeCases)
    func timeValues(_ c: TimeCase) {
        #expect(KnownParameters.timeInSeconds(c.text) == c.seconds)
    }

    @Test func integerReadsLikeStrtol() {
        #expect(KnownParameters.integer("554") == 554)
        #expect(KnownParameters.integer("+450") == 450)
        #expect(KnownParameters.integer("") == nil)
        #expect(KnownParameters.integer("55 4") == nil)
        #expect(KnownParameters.integer("99999999999") == nil)
    }
}
