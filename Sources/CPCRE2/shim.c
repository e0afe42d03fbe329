// The only translation unit that sees <pcre2.h>. PCRE2 wants the code-unit width chosen
// before the header is read; heloguard matches bytes, so it is the 8-bit library (pcre2-8).
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "CPCRE2.h"

// The public header repeats some PCRE2 constants so that Swift can use them without
// importing <pcre2.h>; stop the build if a PCRE2 release ever changes them.
_Static_assert(CPCRE2_OPT_CASELESS == PCRE2_CASELESS, "PCRE2_CASELESS changed");
_Static_assert(CPCRE2_OPT_DOLLAR_ENDONLY == PCRE2_DOLLAR_ENDONLY, "PCRE2_DOLLAR_ENDONLY changed");
_Static_assert(CPCRE2_OPT_DOTALL == PCRE2_DOTALL, "PCRE2_DOTALL changed");
_Static_assert(CPCRE2_OPT_EXTENDED == PCRE2_EXTENDED, "PCRE2_EXTENDED changed");
_Static_assert(CPCRE2_OPT_MULTILINE == PCRE2_MULTILINE, "PCRE2_MULTILINE changed");
_Static_assert(CPCRE2_OPT_UNGREEDY == PCRE2_UNGREEDY, "PCRE2_UNGREEDY changed");
_Static_assert(CPCRE2_OPT_ANCHORED == PCRE2_ANCHORED, "PCRE2_ANCHORED changed");
_Static_assert(CPCRE2_RESULT_NOMATCH == PCRE2_ERROR_NOMATCH, "PCRE2_ERROR_NOMATCH changed");
_Static_assert(CPCRE2_RESULT_NOMEMORY == PCRE2_ERROR_NOMEMORY, "PCRE2_ERROR_NOMEMORY changed");
_Static_assert(CPCRE2_UNSET_OFFSET == PCRE2_UNSET, "PCRE2_UNSET changed");

void *CPCRE2_compile(const char *pattern, size_t length, uint32_t options,
                     int *error_code, size_t *error_offset)
{
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *compiled = pcre2_compile((PCRE2_SPTR) pattern, (PCRE2_SIZE) length,
                                         options, &code, &offset, NULL);
    if (error_code)
        *error_code = compiled ? 0 : code;
    if (error_offset)
        *error_offset = compiled ? 0 : (size_t) offset;
    return compiled;
}

int CPCRE2_error_message(int error_code, char *buffer, size_t size)
{
    return pcre2_get_error_message(error_code, (PCRE2_UCHAR *) buffer, (PCRE2_SIZE) size);
}

uint32_t CPCRE2_capture_count(const void *code)
{
    uint32_t count = 0;
    if (code == NULL || pcre2_pattern_info((const pcre2_code *) code,
                                           PCRE2_INFO_CAPTURECOUNT, &count) != 0)
        return 0;
    return count;
}

int CPCRE2_match(const void *code, const char *subject, size_t length,
                 size_t *offsets, size_t pairs, uint32_t match_limit)
{
    const pcre2_code *compiled = (const pcre2_code *) code;
    // Per-call match data: the compiled pattern is read-only during pcre2_match, the
    // match data is not, so sharing one across threads would race.
    pcre2_match_data *data = pcre2_match_data_create_from_pattern(compiled, NULL);
    if (data == NULL)
        return PCRE2_ERROR_NOMEMORY;
    pcre2_match_context *context = NULL;
    if (match_limit > 0) {
        context = pcre2_match_context_create(NULL);
        if (context == NULL) {
            pcre2_match_data_free(data);
            return PCRE2_ERROR_NOMEMORY;
        }
        pcre2_set_match_limit(context, match_limit);
    }
    int rc = pcre2_match(compiled, (PCRE2_SPTR) subject, (PCRE2_SIZE) length, 0, 0, data, context);
    pcre2_match_context_free(context);
    if (rc > 0 && offsets != NULL && pairs > 0) {
        PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(data);
        uint32_t available = pcre2_get_ovector_count(data);
        for (size_t i = 0; i < pairs; i++) {
            // Pairs beyond rc (or beyond the ovector) belong to groups that did not match.
            int set = i < (size_t) rc && i < available;
            offsets[2 * i] = set ? (size_t) ovector[2 * i] : CPCRE2_UNSET_OFFSET;
            offsets[2 * i + 1] = set ? (size_t) ovector[2 * i + 1] : CPCRE2_UNSET_OFFSET;
        }
    }
    pcre2_match_data_free(data);
    return rc;
}

void CPCRE2_free(void *code)
{
    pcre2_code_free((pcre2_code *) code);
}
