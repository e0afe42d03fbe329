// PostfixSyntax: the one copy of each Postfix syntax primitive heloguard needs, the way Postfix
// keeps one in src/util for every table type and the config reader to share:
//
// - `LogicalLines`: readllines() — continuation lines, `#` comment lines, blank lines, NUL
//   bytes, and the number of each logical line's first physical line for file:line messages;
// - `FileContents`: whole-file reading with the operation and the C library's reason on failure;
// - `CIDRPattern`, `IPAddress`, `IPNetwork`: cidr_match_parse() and inet_pton()/inet_ntop();
// - `CLocale`: the C locale's character classes (isspace(), isalnum(), ...), whatever the
//   process locale;
// - `PostfixList`: mystrtokq()'s list splitting (commas and white space, `{...}` kept whole);
// - `Printable`: the one sanitiser for control and 8-bit bytes, with one flavour per place
//   text leaves heloguard (SMTP reply, log line, terminal, Postfix's printable()), and the
//   UTF-8 well-formedness test Postfix applies.
//
// It is a leaf: it imports the C library (Glibc) and nothing of heloguard's, so the rule core
// (HeloPolicy), the milter adapter (MilterKit), the application and the CLI can all use it.
// It reports problems as values (warnings, errors with a message); turning them into
// configuration diagnostics with file and line is the caller's job.
