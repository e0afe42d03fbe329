/*
 * noop-milter: the baselines of scripts/bench, two libmilter filters that do no work.
 *
 *   noop-milter SOCKET          registers the callbacks a HELO policy milter uses (connect,
 *                               helo, envfrom, envrcpt, data, eom, abort, close) and answers
 *                               "continue" to every one of them, so the MTA pays the full
 *                               protocol round trips. heloguard's throughput is measured
 *                               against this.
 *   noop-milter --floor SOCKET  asks the MTA for what heloguard asks with its example
 *                               configuration (no connect event, no reply to HELO; no DATA,
 *                               headers, end of headers, body or unknown commands; heloguard's
 *                               macro lists) and accepts the message at MAIL FROM, as heloguard does
 *                               for a clean session. Its CPU per session is what libmilter, the
 *                               kernel and the protocol cost heloguard; heloguard's minus it is
 *                               heloguard's own work.
 *
 *   cc -O2 -o noop-milter noop-milter.c -lmilter -pthread
 *   SOCKET: unix:/path/to/socket, local:/path, inet:port@host or inet6:port@host
 *
 * Runs in the foreground until SIGTERM/SIGINT/SIGHUP (libmilter's own handling). Registering
 * xxfi_data matters: without it, an MTA on a TCP socket stalls on the DATA macros it sends.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

static bool floor_mode = false;

static const unsigned long floor_actions =
    SMFIF_ADDHDRS | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
static const unsigned long floor_steps =
    SMFIP_NOCONNECT | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_NR_CONN
    | SMFIP_NR_HELO;

/* Only registered with --floor. */
static sfsistat on_negotiate(SMFICTX *ctx, unsigned long actions, unsigned long steps,
                             unsigned long unused2, unsigned long unused3,
                             unsigned long *actions_wanted, unsigned long *steps_wanted,
                             unsigned long *unused2_wanted, unsigned long *unused3_wanted)
{
    (void)unused2; (void)unused3;
    *actions_wanted = floor_actions & actions;
    *steps_wanted = floor_steps & steps;
    *unused2_wanted = 0;
    *unused3_wanted = 0;
    /* heloguard's lists (HeloGuardFactory.macros). */
    smfi_setsymlist(ctx, SMFIM_CONNECT, "j {daemon_addr} {client_name} {client_addr} {client_port} {client_ptr}");
    smfi_setsymlist(ctx, SMFIM_ENVFROM, "{auth_type} {auth_authen}");
    smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
    return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *addr)
{
    (void)ctx; (void)hostname; (void)addr;
    return floor_mode ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_helo(SMFICTX *ctx, char *helo)
{
    (void)ctx; (void)helo;
    return floor_mode ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
    (void)ctx; (void)argv;
    return floor_mode ? SMFIS_ACCEPT : SMFIS_CONTINUE;
}

static sfsistat on_envrcpt(SMFICTX *ctx, char **argv)
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
    if (argc == 3 && strcmp(argv[1], "--floor") == 0) {
        floor_mode = true;
        argv++;
        argc--;
    }
    if (argc != 2 || strchr(argv[1], ':') == NULL) {
        fprintf(stderr, "usage: noop-milter [--floor] unix:/path | local:/path | inet:port@host | inet6:port@host\n");
        return 2;
    }
    struct smfiDesc desc;
    memset(&desc, 0, sizeof desc);
    desc.xxfi_name = floor_mode ? "noop-milter-floor" : "noop-milter";
    desc.xxfi_version = SMFI_VERSION;
    desc.xxfi_flags = floor_mode ? floor_actions : 0;
    desc.xxfi_connect = on_connect;
    desc.xxfi_helo = on_helo;
    desc.xxfi_envfrom = on_envfrom;
    desc.xxfi_envrcpt = on_envrcpt;
    desc.xxfi_data = on_stage;
    desc.xxfi_eom = on_stage;
    desc.xxfi_abort = on_stage;
    desc.xxfi_close = on_stage;
    if (floor_mode)
        desc.xxfi_negotiate = on_negotiate;

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
