#ifndef CICU_H
#define CICU_H

// Plain C entry points for the two ICU services heloguard needs, used the way Postfix uses them:
// UTS #46 conversion of a UTF-8 domain name to ASCII (Postfix src/util/midna_domain.c) and
// Unicode case folding of table keys (Postfix src/util/casefold.c).
//
// ICU appends its major version to every C symbol through macros (uidna_openUTS46 ->
// uidna_openUTS46_72), which Swift's importer does not follow, and its headers pull in much
// more than Swift needs. This header therefore never includes an ICU header: shim.c does, and
// exposes ordinary functions.
// Only HeloPolicy imports this module.

#include <stdint.h>

// Converts the UTF-8 domain name `name` (`length` bytes, no NUL needed) to its ASCII form with
// ICU's UTS #46 in non-transitional mode and no other option (no STD3 rules, no Bidi or
// CONTEXTJ checks): the mode Postfix uses with enable_idna2003_compatibility = no.
// Writes at most `capacity` bytes to `output` (not NUL-terminated) and returns their number,
// or -1 when ICU reports an error code or any UIDNAInfo error bit (Postfix refuses both).
int32_t cicu_name_to_ascii(const char *name, int32_t length, char *output, int32_t capacity);

// Folds the UTF-8 text `text` (`length` bytes) with ICU's default full case folding
// (U_FOLD_CASE_DEFAULT, as casefold() in Postfix: `ß` -> `ss`). Returns the length of the
// folded text; when it is larger than `capacity` nothing usable was written and the caller
// retries with a buffer of that size. Returns -1 on an ICU error.
int32_t cicu_fold_case(const char *text, int32_t length, char *output, int32_t capacity);

#endif
