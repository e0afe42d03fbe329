// MilterKit — the Swift face of libmilter, generic.
//
// Owns: the C callback trampolines, the per-connection handler and context protocols (and a
// recording context), milter replies and responses, negotiation, the runner (socket, register,
// main loop, stop) and signal handling. Knows nothing of HELO policy.
//
// May import: CMilter (the only code that includes libmilter's mfapi.h), PostfixSyntax (the
// reply sanitiser), Locking, the C library.
// Must not import: HeloPolicy, HeloGuard, HeloState, HeloStatePostgres, HeloDNS.
