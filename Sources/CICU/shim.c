// heloguard's only includer of ICU headers: see include/CICU.h for why.

#include "CICU.h"

#include <pthread.h>
#include <unicode/ucasemap.h>
#include <unicode/uidna.h>

// Both ICU objects are immutable after they are opened and ICU documents their use through a
// const pointer, so one instance of each serves every thread. They live until the process ends.
static pthread_once_t icu_once = PTHREAD_ONCE_INIT;
static UIDNA *uts46;
static UCaseMap *case_map;

static void icu_open(void) {
    UErrorCode error = U_ZERO_ERROR;
    uts46 = uidna_openUTS46(UIDNA_NONTRANSITIONAL_TO_ASCII, &error);
    if (U_FAILURE(error)) uts46 = NULL;
    error = U_ZERO_ERROR;
    // The locale plays no part in default case folding; Postfix names en_US.
    case_map = ucasemap_open("en_US", U_FOLD_CASE_DEFAULT, &error);
    if (U_FAILURE(error)) case_map = NULL;
}

int32_t cicu_name_to_ascii(const char *name, int32_t length, char *output, int32_t capacity) {
    pthread_once(&icu_once, icu_open);
    if (uts46 == NULL || length < 0 || capacity < 0) return -1;
    UErrorCode error = U_ZERO_ERROR;
    UIDNAInfo info = UIDNA_INFO_INITIALIZER;
    int32_t written = uidna_nameToASCII_UTF8(uts46, name, length, output, capacity, &info, &error);
    if (U_FAILURE(error) || info.errors != 0 || written > capacity) return -1;
    return written;
}

int32_t cicu_fold_case(const char *text, int32_t length, char *output, int32_t capacity) {
    pthread_once(&icu_once, icu_open);
    if (case_map == NULL || length < 0 || capacity < 0) return -1;
    UErrorCode error = U_ZERO_ERROR;
    int32_t needed = ucasemap_utf8FoldCase(case_map, output, capacity, text, length, &error);
    if (error == U_BUFFER_OVERFLOW_ERROR) return needed;
    if (U_FAILURE(error)) return -1;
    return needed;
}
