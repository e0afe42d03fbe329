#ifndef CPCRE2_H
#define CPCRE2_H

// Plain C entry points for heloguard's pcre: tables. Only HeloPolicy imports this module;
// it includes nothing of heloguard's.
//
// <pcre2.h> turns every public name into a macro that pastes the code-unit width onto the
// real symbol (pcre2_compile -> pcre2_compile_8), and Swift's importer cannot follow such
// function-like macros. This header therefore never includes <pcre2.h>: it declares ordinary
// functions (defined in shim.c, which selects the 8-bit library) and copies of the few
// constants Swift needs. shim.c checks at compile time that the copies still agree.

#include <stddef.h>
#include <stdint.h>

// Compile options, same bit values as PCRE2_CASELESS etc.
#define CPCRE2_OPT_CASELESS        0x00000008u
#define CPCRE2_OPT_DOLLAR_ENDONLY  0x00000010u
#define CPCRE2_OPT_DOTALL          0x00000020u
#define CPCRE2_OPT_EXTENDED        0x00000080u
#define CPCRE2_OPT_MULTILINE       0x00000400u
#define CPCRE2_OPT_UNGREEDY        0x00040000u
#define CPCRE2_OPT_ANCHORED        0x80000000u

// Match results, same values as PCRE2_ERROR_NOMATCH / PCRE2_ERROR_NOMEMORY.
#define CPCRE2_RESULT_NOMATCH   (-1)
#define CPCRE2_RESULT_NOMEMORY  (-48)

// Offset that marks a capture group which took no part in the match (PCRE2_UNSET).
#define CPCRE2_UNSET_OFFSET  SIZE_MAX

/// Compiles `length` bytes of `pattern` with the given options (no UTF mode: the pattern and
/// every subject are plain bytes). Returns an opaque compiled pattern, or NULL with the PCRE2
/// error code and the byte offset of the error stored through the out-parameters.
/// Exists because pcre2_compile is a width macro Swift cannot call.
void *CPCRE2_compile(const char *pattern, size_t length, uint32_t options,
                     int *error_code, size_t *error_offset);

/// Writes PCRE2's message for an error code into `buffer` (NUL-terminated, truncated to
/// `size`). Returns the message length, or a negative value for an unknown code.
/// Exists because pcre2_get_error_message is a width macro.
int CPCRE2_error_message(int error_code, char *buffer, size_t size);

/// Number of capturing groups in a compiled pattern (PCRE2_INFO_CAPTURECOUNT).
/// Exists because pcre2_pattern_info is a width macro and its info codes are macros too.
uint32_t CPCRE2_capture_count(const void *code);

/// Matches `subject` (`length` bytes, starting at offset 0, no match-time options) against a
/// compiled pattern. Match data is created for this call only and released before returning,
/// so one compiled pattern can be matched from many threads at once.
/// On success (result > 0) the first `pairs` start/end byte offsets of the whole match and of
/// each group are copied into `offsets` (2 * pairs entries); groups that did not take part
/// hold CPCRE2_UNSET_OFFSET. Returns PCRE2's result: > 0 matched, CPCRE2_RESULT_NOMATCH, or
/// another negative PCRE2 error code (CPCRE2_RESULT_NOMEMORY when match data was unavailable).
/// `match_limit` 0 keeps PCRE2's own limits, as Postfix does; any other value bounds the
/// backtracking steps of this call (the fuzz harness uses it so that a pathological pattern
/// costs milliseconds, not seconds).
int CPCRE2_match(const void *code, const char *subject, size_t length,
                 size_t *offsets, size_t pairs, uint32_t match_limit);

/// Releases a pattern returned by CPCRE2_compile (NULL is ignored).
void CPCRE2_free(void *code);

#endif
