// CMilter: the only code in heloguard that includes <libmilter/mfapi.h>.
//
// libmilter's API is not fit to be imported into Swift as it is: several functions take
// `char *` where they only read (Swift would make every caller cast away const), one is
// variadic (Swift cannot call C varargs), the registration structure is full of function
// pointers of libmilter's own types, and the client address arrives as a raw sockaddr.
// This header exposes small, const-correct functions with a CMilter_ prefix instead; every
// one says why it exists. Swift code sees only these declarations, never mfapi.h itself.
// Only MilterKit imports this module.
#ifndef CMILTER_H
#define CMILTER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// An opaque libmilter connection context (SMFICTX *), passed through Swift untouched.
typedef struct CMilter_Context CMilter_Context;

/// Callback return values (sfsistat), with libmilter's numbers.
enum {
    CMilter_CONTINUE = 0,
    CMilter_REJECT = 1,
    CMilter_DISCARD = 2,
    CMilter_ACCEPT = 3,
    CMilter_TEMPFAIL = 4,
    CMilter_NOREPLY = 7,
    CMilter_SKIP = 8,
    CMilter_ALL_OPTS = 10,
};

/// Callbacks, typed with CMilter's opaque context so Swift trampolines can be plain
/// @convention(c) functions. The cast to libmilter's own pointer types happens in C.
typedef int (*CMilter_ConnectCallback)(CMilter_Context *, const char *hostname, const void *sockaddr);
typedef int (*CMilter_StringCallback)(CMilter_Context *, const char *);
typedef int (*CMilter_ArgvCallback)(CMilter_Context *, char **);
typedef int (*CMilter_EventCallback)(CMilter_Context *);
typedef int (*CMilter_NegotiateCallback)(CMilter_Context *, unsigned long actionsOffered,
                                         unsigned long protocolOffered, unsigned long *actionsWanted,
                                         unsigned long *protocolWanted);

/// What to register. NULL entries are left out (libmilter then tells the MTA not to send the event).
typedef struct CMilter_Callbacks {
    CMilter_NegotiateCallback negotiate;
    CMilter_ConnectCallback connect;
    CMilter_StringCallback helo;
    CMilter_ArgvCallback envfrom;
    CMilter_ArgvCallback envrcpt;
    CMilter_EventCallback data;
    CMilter_EventCallback eom;
    CMilter_EventCallback abort;
    CMilter_EventCallback close;
} CMilter_Callbacks;

/// Fills libmilter's `struct smfiDesc` (which Swift cannot build: its callbacks use libmilter's
/// types and one of them has eight out-parameters) and calls smfi_register. `name` must stay
/// valid until smfi_main returns; libmilter keeps the pointer. Returns 0 on success.
int CMilter_register(const char *name, unsigned long actionFlags, const CMilter_Callbacks *callbacks);

/// smfi_setconn takes `char *` but only reads it (and keeps the pointer: it must outlive
/// CMilter_main). Returns 0 on success.
int CMilter_setconn(const char *socketSpec);

/// smfi_settimeout / smfi_setbacklog, for symmetry (no const issue).
int CMilter_settimeout(int seconds);
int CMilter_setbacklog(int backlog);

/// smfi_opensocket: creates the listening socket now (so the caller can change its mode and
/// owner, and report errors before the main loop). `removeStale` unlinks an old unix socket.
int CMilter_opensocket(int removeStale);

/// smfi_main / smfi_stop.
int CMilter_main(void);
int CMilter_stop(void);

/// The value of macro `name` (`j`, `{daemon_addr}`), or NULL when the MTA did not send it.
/// Same lookup as smfi_getsymval, done here because libmilter's reads past the end of a macro
/// list when the MTA sent a name without a value (see shim.c). The result belongs to libmilter
/// and lives until the next stage's macros.
const char *CMilter_getsymval(CMilter_Context *ctx, const char *name);

/// smfi_setsymlist takes `char *` for a list it only reads (copies it). `stage` is SMFIM_*:
/// 0 connect, 1 helo, 2 envfrom, 3 envrcpt, 4 data, 5 eom, 6 eoh.
int CMilter_setsymlist(CMilter_Context *ctx, int stage, const char *macros);

/// smfi_setreply takes `char *` for strings it only reads. `xcode` may be NULL.
int CMilter_setreply(CMilter_Context *ctx, const char *rcode, const char *xcode, const char *message);

/// smfi_setmlreply is variadic, which Swift cannot call. This takes an array of 1 to 8 lines
/// and spells out the call for each of those counts; any other count fails (returns -1) without
/// calling libmilter. libmilter itself would take up to 32 lines; heloguard never builds more than 8.
int CMilter_setmlreply(CMilter_Context *ctx, const char *rcode, const char *xcode,
                       const char *const *lines, int count);

/// smfi_setpriv / smfi_getpriv (no const issue; kept here so Swift never sees SMFICTX).
int CMilter_setpriv(CMilter_Context *ctx, void *data);
void *CMilter_getpriv(CMilter_Context *ctx);

/// Message modifications; libmilter takes `char *` for all of them but only reads.
int CMilter_addheader(CMilter_Context *ctx, const char *name, const char *value);
int CMilter_insheader(CMilter_Context *ctx, int index, const char *name, const char *value);
int CMilter_addrcpt(CMilter_Context *ctx, const char *recipient);
int CMilter_delrcpt(CMilter_Context *ctx, const char *recipient);
int CMilter_quarantine(CMilter_Context *ctx, const char *reason);

/// Decodes the connect callback's sockaddr (IPv4, IPv6 or unix; NULL when the MTA sent
/// none) into text, because Swift would need unsafe casts between sockaddr types. Writes the
/// address (`192.0.2.1`, `2001:db8::1`, or "" for local) into `address` and returns the
/// family: 4, 6, 'L' for a unix socket, 0 when unknown.
int CMilter_decodeaddress(const void *sockaddr, char *address, size_t addressSize, int *port);

/// libmilter's version numbers.
void CMilter_version(unsigned int *major, unsigned int *minor, unsigned int *patch);

#ifdef __cplusplus
}
#endif
#endif
