// libidn2 turns UTF-8 host names into A-labels (UTS #46, non-transitional), as Postfix does
// with ICU before checking a UTF-8 HELO name when the client asked for SMTPUTF8.
#include <idn2.h>
