import Foundation
import HeloPolicy
import HeloState
import HeloStatePostgres

extension PenaltyService {
    /// A service for tools that must see the penalty box but never change it (`heloguard
    /// test`): the box starts as a copy of what the configured store holds now, lives in memory
    /// only, and nothing — no penalty, no HELO log record — is written back. A store that does
    /// not exist yet gives an empty box; one that cannot be read gives an empty box and the
    /// reason in `problem`.
    public static func snapshot(settings: StateSettings, log: any MailLog) -> (service: PenaltyService, problem: String?) {
        let service = inMemory(settings: settings, log: log)
        let cutoff = service.policy.forgetCutoff(at: Date())
        do {
            let store: any StateStore
            if settings.usesSharedDatabase {
                guard let url = settings.sharedDatabaseURL else {
                    return (service, "state_database is not a valid PostgreSQL URL")
                }
                store = PostgresStateStore(url: url)
            } else {
                // Not created for a look: no file, nobody boxed.
                guard FileManager.default.fileExists(atPath: settings.databasePath) else { return (service, nil) }
                store = try SQLiteStateStore(path: settings.databasePath)
            }
            defer { store.close() }
            service.box.replaceAll(with: try store.loadPenalties(rememberedSince: cutoff))
            return (service, nil)
        } catch {
            return (service, "cannot read the penalty box: \(error)")
        }
    }
}
