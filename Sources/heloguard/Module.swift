// heloguard — the command-line tool.
//
// Owns: the swift-argument-parser commands (run, test, check-config, identity, query, penalty,
// stats, replay) and their output formats (OutcomeRendering for `test`, StatsRendering for
// `stats`).
// Every behaviour lives in the libraries; commands parse arguments, call them and print.
//
// May import: HeloGuard, HeloPolicy, HeloDNS, HeloState, HeloStatePostgres, ArgumentParser,
// Foundation.
// Must not import: MilterKit or CMilter directly (the service runs the milter), SwiftNIO.
