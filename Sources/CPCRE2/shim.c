#include "CPCRE2.h"
int CPCRE2_version(void) { return 0; }
