/*
 * noop-milter: the baseline of scripts/bench. A libmilter filter that registers the callbacks
 * a HELO policy milter uses (connect, helo, envfrom, envrcpt, data, eom, abort, close) and
 * answers "continue" to every one of them, so the MTA pays the full protocol round trips but
 * the filter does no work. heloguard's throughput is measured against this.
 *
 *   cc -O2 -o noop-milter noop-milter.c -lmilter -pthread
 *   noop-milter unix:/path/to/socket      (or local:/path, inet:port@host, inet6:port@host)
 *
 * Runs in the foreground until SIGTERM/SIGINT/SIGHUP (libmilter's own handling). Registering
 * xxfi_data matters: without it, an MTA on a TCP socket stalls on the DATA macros it sends.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
    (void)ctx; (void)hostname; (void)addr;
    return SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    (void)ctx; (void)helo;
    return SMFIS_CONTINUE;
}

/* envfrom and envrcpt share a signature: one function serves both. */
static sfsistat on_envelope(SMFICTX *ctx, char **argv)
{
    (void)ctx; (void)argv;
    return SMFIS_CONTINUE;
}

/* data, eom, abort and close take only the context. */
static sfsistat on_stage(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

int main(int argc, char **argv)
{
    if (argc != 2 || strchr(argv[1], ':') == NULL) {
        fprintf(stderr, "usage: %s unix:/path | local:/path | inet:port@host | inet6:port@host\n", argv[0]);
        return 2;
    }
    struct smfiDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = "noop-milter";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = 0;
    desc.xxfi_connect = on_connect;
    desc.xxfi_helo = on_helo;
    desc.xxfi_envfrom = on_envelope;
    desc.xxfi_envrcpt = on_envelope;
    desc.xxfi_data = on_stage;
    desc.xxfi_eom = on_stage;
    desc.xxfi_abort = on_stage;
    desc.xxfi_close = on_stage;

    if (smfi_setconn(argv[1]) == MI_FAILURE) {
        fprintf(stderr, "noop-milter: smfi_setconn(%s) failed\n", argv[1]);
        return 1;
    }
    if (smfi_register(desc) == MI_FAILURE) {
        fprintf(stderr, "noop-milter: smfi_register failed\n");
        return 1;
    }
    /* true: remove a socket file left behind by an earlier run. */
    if (smfi_opensocket(true) == MI_FAILURE) {
        fprintf(stderr, "noop-milter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
