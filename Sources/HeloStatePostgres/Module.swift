// HeloStatePostgres — the shared state store on PostgreSQL, for a fleet of MX hosts.
//
// Owns: PostgresStateStore (postgres-nio, connecting to HeloState's PostgresURL), its error classification (transient outage versus
// configuration problem, told through HeloState's StateStoreFailure) and its statistics queries.
// Kept apart so that SwiftNIO stays out of the rule core and out of HeloState.
//
// May import: HeloState, HeloPolicy, PostgresNIO, Logging, Foundation, Locking.
// Must not import: MilterKit, HeloGuard, HeloDNS.
