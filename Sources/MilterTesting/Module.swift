// MilterTesting — the MTA side of the milter protocol.
//
// Owns: a small milter client (commands, answers, packets), and the rendering of milter
// replies as Postfix relays them. Test support first; the systemd watchdog also probes
// heloguard's own socket with it.
//
// May import: MilterKit, the C library.
// Must not import: HeloPolicy, HeloGuard, HeloState, HeloStatePostgres, HeloDNS.
