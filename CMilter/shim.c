// See include/CMilter.h for why each function exists.
#include "CMilter.h"

#include <arpa/inet.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#define CTX(ctx) ((SMFICTX *)(void *)(ctx))

// libmilter calls these with its own types; they forward to the Swift callbacks stored at
// registration. libmilter registers exactly one filter per process, so one static table is enough.
static CMilter_Callbacks registered;

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr) {
    return registered.connect((CMilter_Context *)ctx, hostname, addr);
}
static sfsistat on_helo(SMFICTX *ctx, char *helo) { return registered.helo((CMilter_Context *)ctx, helo); }
static sfsistat on_envfrom(SMFICTX *ctx, char **argv) { return registered.envfrom((CMilter_Context *)ctx, argv); }
static sfsistat on_envrcpt(SMFICTX *ctx, char **argv) { return registered.envrcpt((CMilter_Context *)ctx, argv); }
static sfsistat on_data(SMFICTX *ctx) { return registered.data((CMilter_Context *)ctx); }
static sfsistat on_eom(SMFICTX *ctx) { return registered.eom((CMilter_Context *)ctx); }
static sfsistat on_abort(SMFICTX *ctx) { return registered.abort((CMilter_Context *)ctx); }
static sfsistat on_close(SMFICTX *ctx) { return registered.close((CMilter_Context *)ctx); }
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2, unsigned long f3,
                             unsigned long *pf0, unsigned long *pf1, unsigned long *pf2, unsigned long *pf3) {
    (void)f2; (void)f3;
    *pf2 = 0;
    *pf3 = 0;
    return registered.negotiate((CMilter_Context *)ctx, f0, f1, pf0, pf1);
}

int CMilter_register(const char *name, unsigned long actionFlags, const CMilter_Callbacks *callbacks) {
    struct smfiDesc desc;
    memset(&desc, 0, sizeof desc);
    registered = *callbacks;
    desc.xxfi_name = (char *)name;
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = actionFlags;
    desc.xxfi_negotiate = callbacks->negotiate ? on_negotiate : NULL;
    desc.xxfi_connect = callbacks->connect ? on_connect : NULL;
    desc.xxfi_helo = callbacks->helo ? on_helo : NULL;
    desc.xxfi_envfrom = callbacks->envfrom ? on_envfrom : NULL;
    desc.xxfi_envrcpt = callbacks->envrcpt ? on_envrcpt : NULL;
    desc.xxfi_data = callbacks->data ? on_data : NULL;
    desc.xxfi_eom = callbacks->eom ? on_eom : NULL;
    desc.xxfi_abort = callbacks->abort ? on_abort : NULL;
    desc.xxfi_close = callbacks->close ? on_close : NULL;
    return smfi_register(desc) == MI_SUCCESS ? 0 : -1;
}

int CMilter_setconn(const char *socketSpec) { return smfi_setconn((char *)socketSpec) == MI_SUCCESS ? 0 : -1; }
int CMilter_settimeout(int seconds) { return smfi_settimeout(seconds) == MI_SUCCESS ? 0 : -1; }
int CMilter_setbacklog(int backlog) { return smfi_setbacklog(backlog) == MI_SUCCESS ? 0 : -1; }
int CMilter_opensocket(int removeStale) { return smfi_opensocket(removeStale ? true : false) == MI_SUCCESS ? 0 : -1; }
int CMilter_main(void) { return smfi_main() == MI_SUCCESS ? 0 : -1; }
int CMilter_stop(void) { return smfi_stop() == MI_SUCCESS ? 0 : -1; }

// smfi_main calls this internal libmilter function (through the PLT, so a definition in the
// program takes its place) to set up a mutex and start a thread that waits for SIGHUP, SIGTERM
// and SIGINT with sigwait and stops the loop. heloguard takes those signals itself, on its main
// thread, and stops the loop with smfi_stop; a second taker means a signal that arrives while
// libmilter is starting can be libmilter's, unlogged. So: no thread. The mutex the original
// initialises is a static one, all zeroes, which is PTHREAD_MUTEX_INITIALIZER in glibc.
// HardeningTests checks that no thread but the main one waits for SIGTERM.
int mi_control_startup(char *name) {
    (void)name;
    return MI_SUCCESS;
}

// libmilter's smfi_getsymval walks each stage's macro list two entries at a time and stops only
// when it lands on the list's terminating NULL. A macro packet from the MTA with an odd number of
// strings (a name without a value) makes the list odd, so the walk steps over the terminator and
// reads past the end of the heap array: a crash, or a stray pointer returned as a macro value.
// Postfix and Sendmail always send name/value pairs, but a broken or hostile peer need not.
// libmilter offers no other way to read macros, so this looks the name up itself in the context's
// macro lists, with the same rules, stopping at the terminator whatever the count.
//
// The context is private to libmilter; this mirrors the start of `struct smfi_str` as it has been
// since libmilter 1.0 (sendmail 8.14, still so in 8.17/8.18), and checks the mirror against the
// live context before trusting it: the private data must be where smfi_getpriv finds it, and each
// list must point into its own packet buffer. When either check fails nothing is read (NULL).
#define MIRROR_MACRO_STAGES 7 // libmilter's MAX_MACROS_ENTRIES (SMFIM_FIRST..SMFIM_LAST)
struct mirror_ctx {
    pthread_t id;
    int sd;
    int dbg;
    time_t timeout;
    int state;
    void *smfi;
    int prot_vers;
    unsigned long aflags;
    unsigned long pflags;
    unsigned long pflags2mta;
    int prot_vers2mta;
    char **mac_ptr[MIRROR_MACRO_STAGES];
    char *mac_buf[MIRROR_MACRO_STAGES];
    char *mac_list[MIRROR_MACRO_STAGES];
    char *reply;
    void *privdata;
};

static int mirror_matches(const struct mirror_ctx *m, SMFICTX *ctx) {
    unsigned int major = 0, minor = 0, patch = 0;
    (void)smfi_version(&major, &minor, &patch);
    if (major != 1 || minor != 0) return 0;
    void *priv = smfi_getpriv(ctx);
    return priv != NULL && m->privdata == priv;
}

// Same matching as libmilter: the exact name, `{x}` also matches `x`, and `x` also matches `{x}`.
static int macro_name_matches(const char *candidate, const char *name, const char *one, const char *braces) {
    return strcmp(candidate, name) == 0 || (one[0] != '\0' && strcmp(candidate, one) == 0) ||
           (braces[0] != '\0' && strcmp(candidate, braces) == 0);
}

const char *CMilter_getsymval(CMilter_Context *ctx, const char *name) {
    if (ctx == NULL || name == NULL || name[0] == '\0') return NULL;
    const struct mirror_ctx *m = (const struct mirror_ctx *)(void *)ctx;
    if (!mirror_matches(m, CTX(ctx))) return NULL;
    size_t length = strlen(name);
    char one[2] = {0, 0};
    char braces[4] = {0, 0, 0, 0};
    if (length == 3 && name[0] == '{' && name[2] == '}') one[0] = name[1];
    if (length == 1) { braces[0] = '{'; braces[1] = name[0]; braces[2] = '}'; }
    // Later stages first, as libmilter does.
    for (int stage = MIRROR_MACRO_STAGES - 1; stage >= 0; stage--) {
        char **list = m->mac_ptr[stage];
        const char *buffer = m->mac_buf[stage];
        if (list == NULL || buffer == NULL) continue;
        // libmilter splits the packet after its stage letter: the first name starts one byte in.
        if (list[0] != buffer + 1) return NULL;
        for (size_t i = 0; list[i] != NULL && list[i + 1] != NULL; i += 2) {
            if (macro_name_matches(list[i], name, one, braces)) return list[i + 1];
        }
    }
    return NULL;
}

int CMilter_setsymlist(CMilter_Context *ctx, int stage, const char *macros) {
    return smfi_setsymlist(CTX(ctx), stage, (char *)macros) == MI_SUCCESS ? 0 : -1;
}

int CMilter_setreply(CMilter_Context *ctx, const char *rcode, const char *xcode, const char *message) {
    return smfi_setreply(CTX(ctx), (char *)rcode, (char *)xcode, (char *)message) == MI_SUCCESS ? 0 : -1;
}

int CMilter_setmlreply(CMilter_Context *ctx, const char *rcode, const char *xcode,
                       const char *const *l, int count) {
    int r;
    // libmilter accepts up to 32 lines and needs the list NULL-terminated; this shim spells out 1-8.
    switch (count) {
#define L(n) l[n]
    case 1: r = smfi_setmlreply(CTX(ctx), rcode, xcode, L(0), NULL); break;
    case 2: r = smfi_setmlreply(CTX(ctx), rcode, xcode, L(0), L(1), NULL); break;
    case 3: r = smfi_setmlreply(CTX(ctx), rcode, xcode, L(0), L(1), L(2), NULL); break;
    case 4: r = smfi_setmlreply(CTX(ctx), rcode, xcode, L(0), L(1), L(2), L(3), NULL); break;
    case 5: r = smfi_setmlreply(CTX(ctx), rcode, xcode, L(0), L(1), L(2), L(3), L(4), NULL); break;
    case 6: r = smfi_setmlreply(CTX(ctx), rcode, xcode, L(0), L(1), L(2), L(3), L(4), L(5), NULL); break;
    case 7: r = smfi_setmlreply(CTX(ctx), rcode, xcode, L(0), L(1), L(2), L(3), L(4), L(5), L(6), NULL); break;
    case 8: r = smfi_setmlreply(CTX(ctx), rcode, xcode, L(0), L(1), L(2), L(3), L(4), L(5), L(6), L(7), NULL); break;
#undef L
    default: return -1; // heloguard never builds longer replies; refuse rather than truncate silently
    }
    return r == MI_SUCCESS ? 0 : -1;
}

int CMilter_setpriv(CMilter_Context *ctx, void *data) { return smfi_setpriv(CTX(ctx), data) == MI_SUCCESS ? 0 : -1; }
void *CMilter_getpriv(CMilter_Context *ctx) { return smfi_getpriv(CTX(ctx)); }

int CMilter_addheader(CMilter_Context *ctx, const char *name, const char *value) {
    return smfi_addheader(CTX(ctx), (char *)name, (char *)value) == MI_SUCCESS ? 0 : -1;
}
int CMilter_insheader(CMilter_Context *ctx, int index, const char *name, const char *value) {
    return smfi_insheader(CTX(ctx), index, (char *)name, (char *)value) == MI_SUCCESS ? 0 : -1;
}
int CMilter_addrcpt(CMilter_Context *ctx, const char *recipient) {
    return smfi_addrcpt(CTX(ctx), (char *)recipient) == MI_SUCCESS ? 0 : -1;
}
int CMilter_delrcpt(CMilter_Context *ctx, const char *recipient) {
    return smfi_delrcpt(CTX(ctx), (char *)recipient) == MI_SUCCESS ? 0 : -1;
}
int CMilter_quarantine(CMilter_Context *ctx, const char *reason) {
    return smfi_quarantine(CTX(ctx), (char *)reason) == MI_SUCCESS ? 0 : -1;
}

int CMilter_decodeaddress(const void *sa, char *address, size_t addressSize, int *port) {
    if (addressSize > 0) address[0] = '\0';
    *port = 0;
    if (sa == NULL) return 0;
    const struct sockaddr *generic = (const struct sockaddr *)sa;
    switch (generic->sa_family) {
    case AF_INET: {
        /* Dotted decimal by hand: glibc's inet_ntop goes through sprintf, a visible share of
           a connect callback. Same text (no leading zeros). */
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        const unsigned char *octet = (const unsigned char *)&in4->sin_addr;
        if (addressSize < 16) return 0;
        char *out = address;
        for (int i = 0; i < 4; i++) {
            unsigned value = octet[i];
            if (value >= 100) *out++ = (char)('0' + value / 100);
            if (value >= 10) *out++ = (char)('0' + value / 10 % 10);
            *out++ = (char)('0' + value % 10);
            *out++ = i < 3 ? '.' : '\0';
        }
        *port = ntohs(in4->sin_port);
        return 4;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (inet_ntop(AF_INET6, &in6->sin6_addr, address, (socklen_t)addressSize) == NULL) return 0;
        *port = ntohs(in6->sin6_port);
        return 6;
    }
    case AF_UNIX:
        return 'L';
    default:
        return 0;
    }
}

void CMilter_version(unsigned int *major, unsigned int *minor, unsigned int *patch) {
    smfi_version(major, minor, patch);
}
