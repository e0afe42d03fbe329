// HeloGuard — the milter application as a library.
//
// Owns: the per-connection session (evaluates at HELO, answers at RCPT, carries out the rule
// core's decisions: replies, logs, pauses, penalties, message actions), the rehearsal behind
// `heloguard test`, the replay evaluator behind `heloguard replay`, the configuration store
// and reload, the service (`heloguard run`), mail logging, the penalty service and store
// health, Prometheus metrics, systemd notification.
//
// May import: HeloPolicy, HeloDNS, HeloState, HeloStatePostgres, MilterKit, MilterTesting (the
// watchdog's probe), swift-prometheus, SwiftNIO (the metrics endpoint), Foundation, Locking.
// Must not import: CMilter, CUnbound, CSQLite or the other C shims directly (their Swift
// modules wrap them); ArgumentParser (the CLI's).
