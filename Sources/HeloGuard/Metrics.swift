import Foundation
import HeloPolicy
import Prometheus
import Locking
import Synchronization

/// heloguard's Prometheus metrics (`metrics_listen`): one registry for the whole process, so a
/// reload keeps every counter. swift-prometheus keeps the registry and writes the text
/// exposition; its counters are atomics, so counting on a milter callback never takes a lock.
/// The duration histograms are ``AtomicHistogram``s of our own for the same reason
/// (swift-prometheus' histograms lock), written out after the registry's series.
///
/// No series carries a HELO name or a client address: labels are verdicts, restriction names
/// as configured, callback and DNS result names — a bounded set.
///
/// The running milter installs one instance (``install(_:)``) before its first connection; the
/// session factory, the DNS cache, the penalty box and the reload path report to it from there.
public final class HeloGuardMetrics: SessionObserver, Sendable {
    public static let prefix = "heloguard_"
    /// The recipient verdicts `recipients_total` counts.
    public static let recipientVerdicts = ["accept", "reject", "defer", "discard", "hold"]
    public static let callbacks = ["connect", "helo", "mail", "rcpt", "eom"]
    public static let dnsResults = ["answer", "nxdomain", "nodata", "servfail", "timeout"]
    /// Names the rule core gives a deciding "restriction" that is not in the list itself.
    static let builtInDeciders = ["smtpd_helo_required", "defer_if_permit", "defer_if_permit (at HELO)"]
    /// Upper bounds of the duration buckets, in seconds (a callback waits at most one DNS deadline).
    static let durationBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public let registry = PrometheusCollectorRegistry()
    let sessions: Counter
    let messagesAcceptedAtMail: Counter
    let recipients: [String: Counter]
    let dnsQueries: [String: Counter]
    let penalized: Counter
    let stateStoreErrors: Counter
    let reloads: [Bool: Counter]
    let generation: Gauge
    let penaltyBoxEntries: Gauge
    let callbackDurations: [String: AtomicHistogram]
    /// The same histograms by callback, and the recipient counters by verdict, looked up once
    /// here so that a callback pays no dictionary lookup.
    let connectDuration, heloDuration, mailDuration, rcptDuration, eomDuration: AtomicHistogram
    let accepted, rejected, deferred, discarded, held: Counter
    let dnsDuration: AtomicHistogram
    /// `restriction_decisions_total` per (restriction, verdict, enforced), made at load.
    private let decisions = Locked<[DecisionKey: Counter]>([:])
    /// What the state gauges read at each scrape (the current configuration's penalty service).
    private let state = Locked<(@Sendable () -> StateReading)?>(nil)

    /// What a scrape reads from the running milter.
    public struct StateReading: Sendable {
        public var penaltyBoxEntries: Int
        public var store: String
        public var storeUp: Bool
        public init(penaltyBoxEntries: Int, store: String, storeUp: Bool) {
            self.penaltyBoxEntries = penaltyBoxEntries
            self.store = store
            self.storeUp = storeUp
        }
    }

    struct DecisionKey: Hashable {
        let restriction: String
        let verdict: String
        let enforced: Bool
    }

    public init(version: String, startTime: Date = Date()) {
        let p = Self.prefix
        let registry = self.registry
        sessions = Self.counter(registry, p + "sessions_total", labels: [], help: "SMTP connections the milter was told about")
        messagesAcceptedAtMail = Self.counter(registry, p + "messages_accepted_at_mail_total", labels: [],
                                              help: "Messages accepted whole at MAIL FROM (their recipients are not asked about)")
        recipients = Dictionary(uniqueKeysWithValues: Self.recipientVerdicts.map {
            ($0, Self.counter(registry, p + "recipients_total", labels: [("verdict", $0)], help: "Recipients by the answer heloguard gave"))
        })
        dnsQueries = Dictionary(uniqueKeysWithValues: Self.dnsResults.map {
            ($0, Self.counter(registry, p + "dns_queries_total", labels: [("result", $0)], help: "DNS questions asked (a session asks each once)"))
        })
        penalized = Self.counter(registry, p + "penalized_total", labels: [], help: "Clients put into the penalty box")
        stateStoreErrors = Self.counter(registry, p + "state_store_errors_total", labels: [], help: "Failed state store operations")
        reloads = [true: Self.counter(registry, p + "config_reloads_total", labels: [("result", "success")], help: "Configuration reloads"),
                   false: Self.counter(registry, p + "config_reloads_total", labels: [("result", "failure")], help: "Configuration reloads")]
        generation = Self.gauge(registry, p + "config_generation", labels: [], help: "Configuration loads since start (1 = the first)")
        generation.set(Int64(1))
        penaltyBoxEntries = Self.gauge(registry, p + "penalty_box_entries", labels: [], help: "Entries in the in-memory penalty box")
        Self.gauge(registry, p + "build_info", labels: [("version", version)], help: "The running heloguard's version").set(Int64(1))
        Self.gauge(registry, p + "process_start_time_seconds", labels: [], help: "Start time of the process since the Unix epoch")
            .set(Int64(startTime.timeIntervalSince1970.rounded(.down)))
        callbackDurations = Dictionary(uniqueKeysWithValues: Self.callbacks.map {
            ($0, AtomicHistogram(name: p + "callback_duration_seconds", labels: [("callback", $0)], buckets: Self.durationBuckets))
        })
        dnsDuration = AtomicHistogram(name: p + "dns_lookup_duration_seconds", labels: [], buckets: Self.durationBuckets)
        (connectDuration, heloDuration, mailDuration, rcptDuration, eomDuration) =
            (callbackDurations["connect"]!, callbackDurations["helo"]!, callbackDurations["mail"]!,
             callbackDurations["rcpt"]!, callbackDurations["eom"]!)
        (accepted, rejected, deferred, discarded, held) =
            (recipients["accept"]!, recipients["reject"]!, recipients["defer"]!, recipients["discard"]!, recipients["hold"]!)
    }

    static func counter(_ registry: PrometheusCollectorRegistry, _ name: String, labels: [(String, String)], help: String) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    static func gauge(_ registry: PrometheusCollectorRegistry, _ name: String, labels: [(String, String)], help: String) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    // MARK: Installation

    /// The installed instance's address (retained for good), 0 before ``install(_:)``. Every
    /// connection reads it: a plain atomic word costs one load, where `AtomicLazyReference`'s
    /// generic load cost about a microsecond and a half (a metadata lookup per call).
    private static let installed = Atomic<UInt>(0)

    /// The process' metrics, once ``install(_:)`` has run; nil when `metrics_listen` is off.
    public static var current: HeloGuardMetrics? {
        let bits = installed.load(ordering: .acquiring)
        guard let address = UnsafeRawPointer(bitPattern: bits) else { return nil }
        return Unmanaged<HeloGuardMetrics>.fromOpaque(address).takeUnretainedValue()
    }

    /// Makes `metrics` the process' metrics (only the first call counts); returns the installed one.
    @discardableResult
    public static func install(_ metrics: HeloGuardMetrics) -> HeloGuardMetrics {
        let retained = Unmanaged.passRetained(metrics)
        let bits = UInt(bitPattern: retained.toOpaque())
        let (exchanged, existing) = installed.compareExchange(expected: 0, desired: bits, ordering: .acquiringAndReleasing)
        if exchanged { return metrics }
        retained.release()
        return Unmanaged<HeloGuardMetrics>.fromOpaque(UnsafeRawPointer(bitPattern: existing)!).takeUnretainedValue()
    }

    /// Tells the scrapes where to read the state gauges from.
    public func readState(_ reader: @escaping @Sendable () -> StateReading) {
        state.withLock { $0 = reader }
    }

    // MARK: Configuration

    /// Registers `restriction_decisions_total` for every restriction of `policy`'s list (and the
    /// rule core's own deciders), so that a restriction that never fired shows 0.
    public func register(_ policy: PolicyConfig) {
        let refusals = [("reject", true), ("reject", false), ("defer", true), ("defer", false)]
        for name in policy.heloRestrictions.map(\.description) {
            for (verdict, enforced) in refusals + [("discard", true)] {
                _ = decisionCounter(DecisionKey(restriction: name, verdict: verdict, enforced: enforced))
            }
        }
        for name in Self.builtInDeciders {
            for (verdict, enforced) in refusals where verdict == "defer" || name == "smtpd_helo_required" {
                _ = decisionCounter(DecisionKey(restriction: name, verdict: verdict, enforced: enforced))
            }
        }
    }

    /// A reload: counted by result; a successful one moves `config_generation` and registers
    /// the new list's restrictions.
    public func reloaded(_ configuration: RuntimeConfiguration?) {
        reloads[configuration != nil]?.increment()
        guard let configuration else { return }
        generation.set(Int64(configuration.generation))
        register(configuration.policy)
    }

    private func decisionCounter(_ key: DecisionKey) -> Counter {
        decisions.withLock { table in
            if let counter = table[key] { return counter }
            let counter = Self.counter(
                registry, Self.prefix + "restriction_decisions_total",
                labels: [("restriction", key.restriction), ("verdict", key.verdict), ("enforced", key.enforced ? "true" : "false")],
                help: "Decisions per deciding restriction; enforced=false: dry_run did not give them")
            table[key] = counter
            return counter
        }
    }

    // MARK: SessionObserver

    public func decided(helo argument: String, _ decision: RecipientDecision) {
        countDecision(decision)
    }

    public func decided(mail decision: RecipientDecision) {
        countDecision(decision)
    }

    public func acceptedWholeMessage(_ decision: RecipientDecision) {
        messagesAcceptedAtMail.increment()
    }

    public func decided(recipient: String, _ decision: RecipientDecision) {
        switch decision.verdict {
        case .reject: rejected.increment()
        case .defer: deferred.increment()
        case .discard: discarded.increment()
        case .accept: (decision.actions.hold != nil ? held : accepted).increment()
        }
        countDecision(decision)
    }

    private func countDecision(_ decision: RecipientDecision) {
        guard let restriction = decision.decidingRestriction else { return }
        let verdict: String
        switch decision.wouldBe ?? decision.verdict {
        case .reject: verdict = "reject"
        case .defer: verdict = "defer"
        case .discard: verdict = "discard"
        case .accept: return
        }
        decisionCounter(DecisionKey(restriction: restriction, verdict: verdict, enforced: decision.wouldBe == nil)).increment()
    }

    // MARK: DNS

    /// One question the shared resolver answered (a session asks each question once).
    func dnsLookup(_ answer: DNSAnswer, took: Duration, timedOut: Bool) {
        let result: String
        switch answer {
        case .records, .nullMX: result = "answer"
        case .notFound: result = "nxdomain"
        case .temporaryFailure: result = timedOut ? "timeout" : "servfail"
        case .failed, .malformed: result = "servfail"
        }
        dnsQueries[result]?.increment()
        dnsDuration.record(took)
    }

    // MARK: Exposition

    /// The whole exposition in Prometheus' text format (version 0.0.4).
    public func exposition() -> String {
        if let reader = state.withLock({ $0 }) {
            let reading = reader()
            penaltyBoxEntries.set(Int64(reading.penaltyBoxEntries))
            Self.gauge(registry, Self.prefix + "state_store_up", labels: [("store", reading.store)],
                               help: "1 while the state store answers, 0 while it fails").set(Int64(reading.storeUp ? 1 : 0))
        }
        var buffer = registry.emitToBuffer()
        AtomicHistogram.emit(callbackDurations.values.sorted { $0.labelText < $1.labelText },
                             help: "Time heloguard spent in a milter callback", into: &buffer)
        AtomicHistogram.emit([dnsDuration], help: "Time a DNS question took the shared resolver", into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
