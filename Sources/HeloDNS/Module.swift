// HeloDNS — the real resolver behind the rule core's DNS restrictions.
//
// Owns: one shared libunbound context (through CUnbound), a hard deadline per lookup, and the
// decoding of answers into HeloPolicy's DNSAnswer. Implements HeloPolicy's HeloResolver.
//
// May import: HeloPolicy, CUnbound, Locking, the C library.
// Must not import: MilterKit, HeloGuard, HeloState, HeloStatePostgres, SwiftNIO.
