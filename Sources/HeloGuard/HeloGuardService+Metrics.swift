import HeloPolicy

extension HeloGuardService {
    /// Starts the metrics endpoint when `metrics_listen` is set: installs the process' metrics,
    /// registers the loaded restrictions and binds the address. Runs once detached (the event
    /// loop threads must start in the process that serves). Returns why it could not start (a
    /// start-up error: heloguard does not run without the metrics it was asked for), or nil.
    static func startMetrics(store: ConfigurationStore, version: String, log: any MailLog) -> String? {
        let value = store.current.loaded.parameters.value("metrics_listen")
        guard !value.isEmpty else { return nil }
        let address: ListenAddress
        switch ListenAddress.parse(value) {
        case .success(let parsed): address = parsed
        case .failure(let problem): return "bad metrics_listen: \(problem)"
        }
        let metrics = HeloGuardMetrics.install(HeloGuardMetrics(version: version))
        metrics.register(store.current.policy)
        metrics.readState {
            let penalties = store.current.penalties
            let settings = penalties.settings
            return HeloGuardMetrics.StateReading(
                penaltyBoxEntries: penalties.box.count,
                store: settings.usesSharedDatabase ? "postgresql" : "sqlite",
                storeUp: penalties.isPersistent && !penalties.storeIsFailing)
        }
        do throws(MetricsServer.StartError) {
            let server = try MetricsServer.start(address, metrics: metrics)
            log.info("metrics: serving http://\(server.address)/metrics")
            return nil
        } catch {
            return error.description
        }
    }
}
