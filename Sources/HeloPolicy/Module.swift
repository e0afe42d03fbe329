// HeloPolicy — the rule core.
//
// Owns: Postfix's smtpd_helo_restrictions semantics as values — the configuration reader and
// its parameters, the HELO name model, access tables (hash/texthash, regexp, pcre, cidr,
// inline), the restriction-list engine and every restriction, replies, verdicts and the
// pauses `sleep` asks for. Decisions are returned, never carried out: no sleeping, no logging,
// no I/O beyond reading the configuration and its tables at load. DNS and the penalty box
// come in through protocols (HeloResolver, PenaltyLookup); parameters of the same file that
// other modules own are checked through ConfigurationSection.
//
// May import: PostfixSyntax (Postfix's syntax primitives), CPCRE2, CICU, the C library.
// Must not import: Foundation, MilterKit/CMilter, HeloGuard, HeloState, HeloStatePostgres,
// HeloDNS, SwiftNIO, or anything else that opens sockets, starts threads or keeps globals.
