// HeloState — memory across connections.
//
// Owns: the in-memory penalty box and its policy (time in the box, backoff, bound), penalty
// keys, the HELO log and its statistics, the StateStore protocol with its failure kinds, the
// embedded SQLite store (through CSQLite) and the background StateWriter; the state store's
// settings (StateSettings: read from the configuration file and checked at load as a
// HeloPolicy ConfigurationSection) and the `state_database` URL (PostgresURL, pure parsing).
//
// May import: HeloPolicy (IP addresses, the penalty lookup protocol), CSQLite, Foundation,
// Locking.
// Must not import: HeloStatePostgres or SwiftNIO (the shared store lives there), MilterKit,
// HeloGuard, HeloDNS.
