#ifndef CPCRE2_H
#define CPCRE2_H
// Placeholder: replaced by the pcre: table shim.
int CPCRE2_version(void);
#endif
