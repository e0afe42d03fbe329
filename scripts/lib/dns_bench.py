#!/usr/bin/env python3
"""DNS cost benchmark (not a test), run by scripts/bench.

    dns_bench.py --heloguard BIN [--sessions N] [--parallel S] [--runs R]
                 [--latency-ms MS] [--summary FILE]

What reject_unknown_helo_hostname costs when every DNS answer takes MS milliseconds (default
30, a resolver some way off). Two private Postfix instances run side by side in harness.py's
loopback-only sandbox, each with its own heloguard on a unix socket:

    without      smtpd_helo_restrictions = reject_non_fqdn_helo_hostname
    with         the same, then reject_unknown_helo_hostname

Both heloguards ask the scripted DNS server of scripts/e2e/testdns.py on 127.0.0.1:5301
(`dns_servers`), which answers an A record for every name under bench.example.test after MS
milliseconds and logs every query. The client is a small threaded SMTP client (Postfix's
smtp-source cannot vary the HELO name): S sessions at a time, N sessions per measurement, each
EHLO NAME, MAIL, RCPT, QUIT, every reply checked (250/221). Three measurements per round:

    without            unique names (no DNS involved)
    with, unique       a HELO name never used before in each session: every session waits for
                       one A query, the cache cannot help
    with, repeated     the same HELO name in every session: answered from heloguard's cache

One warm-up round, then R rounds (default 5, each starting with another measurement); the
median of each counts. Prints sessions/s of each, the ratios against "without", and how many
queries the DNS server saw per measured round (unique: one per session; repeated: none).
"""

import argparse
import concurrent.futures
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
import harness as h  # noqa: E402
import testdns  # noqa: E402

DNS_PORT = 5301
ZONE = "bench.example.test"
SENDER = "sender@example.org"
RECIPIENT = "user@example.com"   # in the private instances' mydestination
CONFIGS = {
    "without": ["smtpd_helo_restrictions = reject_non_fqdn_helo_hostname"],
    "with": ["smtpd_helo_restrictions = reject_non_fqdn_helo_hostname,",
             "    reject_unknown_helo_hostname"],
}


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heloguard", required=True, type=Path)
    parser.add_argument("--sessions", type=int, default=500, help="sessions per measurement")
    parser.add_argument("--parallel", type=int, default=10, help="sessions at a time")
    parser.add_argument("--runs", type=int, default=5, help="measured rounds")
    parser.add_argument("--latency-ms", type=float, default=30, help="the DNS server's delay")
    parser.add_argument("--summary", type=Path, help="write the result lines here, not to stdout")
    return parser.parse_args()


def one_session(address, helo):
    """EHLO helo, MAIL, RCPT, QUIT; raises HarnessError unless every reply is the expected one."""
    exchanges = h.run_session(address, [f"EHLO {helo}", f"MAIL FROM:<{SENDER}>",
                                        f"RCPT TO:<{RECIPIENT}>", "QUIT"], timeout=30)
    codes = [e.reply.code for e in exchanges]
    if codes != [220, 250, 250, 250, 221]:
        raise h.HarnessError(f"EHLO {helo}: " + " / ".join(e.reply.text.split("\n")[0]
                                                         for e in exchanges))


def measure(address, names, parallel):
    """Plays one session per name, `parallel` at a time; returns sessions/s."""
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        for future in [pool.submit(one_session, address, name) for name in names]:
            future.result()
    return len(names) / (time.monotonic() - started)


def main():
    args = parse_arguments()
    h.enter_sandbox()
    tmp = h.TempDir("dns-bench")
    dns = testdns.ScriptedServer.daemon(
        tmp.path / "dns.log", DNS_PORT,
        ["--rule", f"{ZONE}=a:192.0.2.1", "--default", "nxdomain",
         "--delay-ms", f"{args.latency_ms:g}"])
    dns_log = h.LogFile(tmp.path / "dns.log")

    instances = {}
    for name, lines in CONFIGS.items():
        conf = tmp.path / f"heloguard-{name}.conf"
        h.write_file(conf, "\n".join(lines + [f"dns_servers = 127.0.0.1:{DNS_PORT}",
                                              "dns_timeout = 10s"]) + "\n")
        heloguard = h.Heloguard(args.heloguard, conf, tmp.path / f"heloguard-{name}.sock",
                                tmp.path / f"heloguard-{name}.log").start()
        postfix = h.PrivatePostfix(tmp.path / name, smtpd_maxproc=args.parallel * 2)
        postfix.configure(milters=heloguard.milter_spec)
        instances[name] = (heloguard, postfix.start())

    # Both instances really run their restrictions: a name outside the zone is refused by
    # "with" only, a name without a dot by both.
    for name, want in (("without", {"foo": "504", "nx.example.test": "250"}),
                       ("with", {"foo": "504", "nx.example.test": "450"})):
        for helo, code in want.items():
            reply = h.run_session(instances[name][1].address, [
                f"EHLO {helo}", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RECIPIENT}>", "QUIT"])[3]
            if not reply.reply.text.startswith(code):
                raise h.HarnessError(f"{name}: EHLO {helo}: want {code}, got {reply.reply}")

    measurements = {
        "without": ("without", lambda r: [f"w{r}-{i}.{ZONE}" for i in range(args.sessions)]),
        "with, unique": ("with", lambda r: [f"u{r}-{i}.{ZONE}" for i in range(args.sessions)]),
        "with, repeated": ("with", lambda r: [f"repeated.{ZONE}"] * args.sessions),
    }
    rates = {name: [] for name in measurements}
    queries = {name: [] for name in measurements}
    print(f"    {args.sessions} sessions per measurement, {args.parallel} at a time, DNS "
          f"answers after {args.latency_ms:g} ms, 1 warm-up round + {args.runs} rounds",
          flush=True)
    names = list(measurements)
    for round_number in range(args.runs + 1):
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            instance, helos = measurements[name]
            mark = dns_log.mark()
            rate = measure(instances[instance][1].address, helos(round_number), args.parallel)
            dns_log.settle(quiet=0.1)
            asked = len(re.findall(r"^query ", dns_log.read(mark), re.M))
            label = "warm-up" if round_number == 0 else f"run {round_number}"
            print(f"    {name:<15} {label}: {rate:8.1f} sessions/s, {asked} DNS queries",
                  flush=True)
            if round_number > 0:
                rates[name].append(rate)
                queries[name].append(asked)

    for name, (heloguard, _) in instances.items():
        if not heloguard.alive():
            raise h.HarnessError(f"heloguard ({name}) died during the benchmark")
    if not dns.alive():
        raise h.HarnessError("the scripted DNS server died during the benchmark")

    median = {name: statistics.median(values) for name, values in rates.items()}
    per_round = {name: statistics.median(values) for name, values in queries.items()}
    lines = [
        "dns: reject_unknown_helo_hostname, DNS answers after %g ms: without %.1f sessions/s, "
        "with (unique HELO names) %.1f sessions/s, with (one repeated name) %.1f sessions/s"
        % (args.latency_ms, median["without"], median["with, unique"], median["with, repeated"]),
        "dns: ratio with/without %.3f (unique names), %.3f (repeated name); a session that "
        "waits %g ms for DNS allows at most %.0f sessions/s at %d at a time"
        % (median["with, unique"] / median["without"],
           median["with, repeated"] / median["without"], args.latency_ms,
           args.parallel * 1000 / args.latency_ms, args.parallel),
        "dns: queries per %d sessions (median of %d rounds): unique names %g, repeated name %g, "
        "without the restriction %g; %d sessions at a time, EHLO/MAIL/RCPT/QUIT, unix sockets"
        % (args.sessions, args.runs, per_round["with, unique"], per_round["with, repeated"],
           per_round["without"], args.parallel),
    ]
    if args.summary:
        args.summary.write_text("\n".join(lines) + "\n")
    else:
        print("\n".join(lines))

    for name, (heloguard, postfix) in instances.items():
        postfix.stop()
        status = heloguard.terminate()
        if status != 0:
            raise h.HarnessError(f"heloguard ({name}) exited with {status} on SIGTERM:\n"
                                 f"{heloguard.log()}")
    return 0


if __name__ == "__main__":
    h.run_main(main)
