import MilterKit

/// A ``HeloGuardSession`` with its callbacks timed for `callback_duration_seconds` and its
/// connections counted (`sessions_total`); everything else goes straight through. Made by the
/// factory only when metrics are on, so a milter without them pays nothing.
final class MeteredSession: MilterHandler {
    let session: HeloGuardSession
    let metrics: HeloGuardMetrics
    private let clock = ContinuousClock()

    init(session: HeloGuardSession, metrics: HeloGuardMetrics) {
        self.session = session
        self.metrics = metrics
        session.observer = metrics
    }

    private func timed(_ histogram: AtomicHistogram, _ body: () -> MilterResponse) -> MilterResponse {
        let started = clock.now
        let response = body()
        histogram.record(clock.now - started)
        return response
    }

    /// Counted here, once per milter connection: the connect event may be skipped (its client is
    /// then read at the first later event, and a connection with none has no such event).
    func negotiation() -> MilterNegotiation {
        metrics.sessions.increment()
        return session.negotiation()
    }

    func connect(client: MilterClient, context: any MilterContext) -> MilterResponse {
        timed(metrics.connectDuration) { session.connect(client: client, context: context) }
    }

    func helo(_ name: String, context: any MilterContext) -> MilterResponse {
        timed(metrics.heloDuration) { session.helo(name, context: context) }
    }

    func mail(_ arguments: [String], context: any MilterContext) -> MilterResponse {
        timed(metrics.mailDuration) { session.mail(arguments, context: context) }
    }

    func recipient(_ arguments: [String], context: any MilterContext) -> MilterResponse {
        timed(metrics.rcptDuration) { session.recipient(arguments, context: context) }
    }

    func data(context: any MilterContext) -> MilterResponse { session.data(context: context) }

    func endOfMessage(context: any MilterContext) -> MilterResponse {
        timed(metrics.eomDuration) { session.endOfMessage(context: context) }
    }

    func abort(context: any MilterContext) { session.abort(context: context) }

    func close(context: any MilterContext) { session.close(context: context) }
}
