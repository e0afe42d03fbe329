import Foundation
@testable import HeloGuard
import HeloPolicy
import MilterKit
import MilterTesting
import Testing

/// The Prometheus exposition: series registered at load show 0, sessions through the metered
/// session count recipients and deciding restrictions (enforced or not), callbacks and DNS
/// questions fill the histograms, and the HTTP endpoint serves it on loopback.
struct MetricsTests {
    static let config = """
        smtpd_helo_restrictions = reject_invalid_helo_hostname, check_helo_access inline:{ {hold.example = HOLD} },
            reject_non_fqdn_helo_hostname

        """

    /// The value of the series whose line starts with `series ` in `text`; nil when absent.
    static func value(_ series: String, in text: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last!) }
    }

    /// One connection through the metered session: negotiation (where it is counted), connect,
    /// HELO, MAIL, one RCPT.
    static func connection(_ metrics: HeloGuardMetrics, _ configuration: RuntimeConfiguration, helo: String) {
        let handler = MeteredSession(session: HeloGuardSession(configuration: configuration, log: CollectedLog()), metrics: metrics)
        let context = RecordingContext()
        _ = handler.negotiation()
        _ = handler.connect(client: MilterClient(hostname: "[192.0.2.9]", address: "192.0.2.9", family: .inet4), context: context)
        _ = handler.helo(helo, context: context)
        _ = handler.mail(["<a@example.org>"], context: context)
        _ = handler.recipient(["<b@example.com>"], context: context)
        handler.close(context: context)
    }

    static func configuration(_ text: String) throws -> RuntimeConfiguration {
        let loaded = try ConfigurationLoader.load(text: text, file: "test.conf", interfaces: [])
        return RuntimeConfiguration(path: "test.conf", loaded: loaded, generation: 1, resolver: UnavailableResolver())
    }

    @Test func countsRecipientsAndRestrictions() throws {
        let metrics = HeloGuardMetrics(version: "9.9.9", startTime: Date(timeIntervalSince1970: 1_700_000_000))
        let enforcing = try Self.configuration(Self.config)
        metrics.register(enforcing.policy)
        let before = metrics.exposition()
        #expect(Self.value("heloguard_restriction_decisions_total{restriction=\"reject_non_fqdn_helo_hostname\",verdict=\"reject\",enforced=\"true\"}", in: before) == 0)
        #expect(Self.value("heloguard_build_info{version=\"9.9.9\"}", in: before) == 1)
        #expect(Self.value("heloguard_process_start_time_seconds", in: before) == 1_700_000_000)

        for helo in ["foo", "foo", "bad..name", "mail.example.com", "hold.example"] { Self.connection(metrics, enforcing, helo: helo) }
        let dry = try Self.configuration(Self.config + "dry_run = yes\n")
        metrics.reloaded(RuntimeConfiguration(path: "test.conf", loaded: dry.loaded, generation: 2, resolver: UnavailableResolver()))
        Self.connection(metrics, dry, helo: "foo")
        metrics.reloaded(nil)
        // smtpd_helo_required: MAIL refused, no recipient asked about.
        let required = try Self.configuration(Self.config + "smtpd_helo_required = yes\n")
        let session = MeteredSession(session: HeloGuardSession(configuration: required, log: CollectedLog()), metrics: metrics)
        _ = session.negotiation()
        _ = session.connect(client: MilterClient(hostname: "[192.0.2.9]", address: "192.0.2.9", family: .inet4), context: RecordingContext())
        _ = session.mail(["<a@example.org>"], context: RecordingContext())

        let text = metrics.exposition()
        let expected: [(String, Double)] = [
            ("heloguard_sessions_total", 7),
            ("heloguard_callback_duration_seconds_count{callback=\"connect\"}", 7),
            ("heloguard_restriction_decisions_total{restriction=\"smtpd_helo_required\",verdict=\"reject\",enforced=\"true\"}", 1),
            ("heloguard_recipients_total{verdict=\"reject\"}", 3),
            ("heloguard_recipients_total{verdict=\"accept\"}", 2),
            ("heloguard_recipients_total{verdict=\"hold\"}", 1),
            ("heloguard_recipients_total{verdict=\"defer\"}", 0),
            ("heloguard_restriction_decisions_total{restriction=\"reject_non_fqdn_helo_hostname\",verdict=\"reject\",enforced=\"true\"}", 2),
            ("heloguard_restriction_decisions_total{restriction=\"reject_non_fqdn_helo_hostname\",verdict=\"reject\",enforced=\"false\"}", 1),
            ("heloguard_restriction_decisions_total{restriction=\"reject_invalid_helo_hostname\",verdict=\"reject\",enforced=\"true\"}", 1),
            ("heloguard_config_reloads_total{result=\"success\"}", 1),
            ("heloguard_config_reloads_total{result=\"failure\"}", 1),
            ("heloguard_config_generation", 2),
            ("heloguard_callback_duration_seconds_count{callback=\"rcpt\"}", 6),
            ("heloguard_callback_duration_seconds_bucket{callback=\"helo\",le=\"+Inf\"}", 6),
            ("heloguard_callback_duration_seconds_count{callback=\"eom\"}", 0),
        ]
        for (series, want) in expected {
            #expect(Self.value(series, in: text) == want, "\(series)")
        }
        // No HELO name or client address appears anywhere.
        for secret in ["foo", "bad..name", "mail.example.com", "192.0.2.9"] { #expect(!text.contains(secret), "\(secret)") }
        // Every counter ends in _total; histograms are cumulative.
        for line in text.split(separator: "\n") where line.hasPrefix("# TYPE") && line.hasSuffix(" counter") {
            #expect(line.split(separator: " ")[2].hasSuffix("_total"), "\(line)")
        }
    }

    @Test func histogramIsCumulative() {
        let histogram = AtomicHistogram(name: "h_seconds", labels: [("callback", "rcpt")], buckets: [0.001, 0.01, 0.1])
        for milliseconds in [0, 5, 5, 50, 2000] { histogram.record(.milliseconds(milliseconds)) }
        var buffer: [UInt8] = []
        AtomicHistogram.emit([histogram], help: "test", into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == """
            # HELP h_seconds test
            # TYPE h_seconds histogram
            h_seconds_bucket{callback="rcpt",le="0.001"} 1
            h_seconds_bucket{callback="rcpt",le="0.01"} 3
            h_seconds_bucket{callback="rcpt",le="0.1"} 4
            h_seconds_bucket{callback="rcpt",le="+Inf"} 5
            h_seconds_sum{callback="rcpt"} 2.06
            h_seconds_count{callback="rcpt"} 5

            """)
    }

    @Test func dnsResultsAreCounted() {
        let metrics = HeloGuardMetrics(version: "1")
        metrics.dnsLookup(.records(["192.0.2.1"]), took: .milliseconds(3), timedOut: false)
        metrics.dnsLookup(.notFound, took: .milliseconds(3), timedOut: false)
        metrics.dnsLookup(.temporaryFailure("SERVFAIL"), took: .milliseconds(3), timedOut: false)
        metrics.dnsLookup(.temporaryFailure("timed out"), took: .seconds(10), timedOut: true)
        let text = metrics.exposition()
        for (result, count) in [("answer", 1.0), ("nxdomain", 1), ("servfail", 1), ("timeout", 1), ("nodata", 0)] {
            #expect(Self.value("heloguard_dns_queries_total{result=\"\(result)\"}", in: text) == count, "\(result)")
        }
        #expect(Self.value("heloguard_dns_lookup_duration_seconds_count", in: text) == 4)
    }

    /// GET over a plain socket; returns the status line and the body.
    static func get(port: Int, path: String, method: String = "GET") throws -> (status: String, body: String) {
        let handle = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(handle) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(handle, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw CocoaError(.fileReadUnknown) }
        let request = Array("\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(handle, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(handle, &chunk, chunk.count, 0)
            if count <= 0 { break }
            response += chunk[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        return (String(parts[0].split(separator: "\r\n").first ?? ""), parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test func endpointServesMetricsOnLoopback() throws {
        let metrics = HeloGuardMetrics(version: "1")
        let server = try MetricsServer.start(ListenAddress(host: "127.0.0.1", port: 0), metrics: metrics)
        defer { server.stop() }
        let port = try #require(server.boundPort)
        let ok = try Self.get(port: port, path: "/metrics")
        #expect(ok.status == "HTTP/1.1 200 OK")
        #expect(ok.body.contains("# TYPE heloguard_recipients_total counter\n"))
        #expect(try Self.get(port: port, path: "/").status == "HTTP/1.1 404 Not Found")
        #expect(try Self.get(port: port, path: "/metrics", method: "POST").status == "HTTP/1.1 405 Method Not Allowed")
        // A second endpoint on the same port: a clear start-up error.
        #expect {
            _ = try MetricsServer.start(ListenAddress(host: "127.0.0.1", port: port), metrics: metrics)
        } throws: { error in
            "\(error)".contains("cannot serve metrics on 127.0.0.1:\(port) (metrics_listen)")
        }
    }
}
