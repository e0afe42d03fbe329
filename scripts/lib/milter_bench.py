#!/usr/bin/env python3
"""Milter throughput benchmark (not a test), run by scripts/bench.

    milter_bench.py --heloguard BIN --noop-milter BIN --config CONF [--messages N]
                    [--sessions S] [--runs R] [--summary FILE]

Three private Postfix instances run side by side in harness.py's loopback-only sandbox, the
same configuration except smtpd_milters:

    heloguard    heloguard run on a unix socket, with CONF
    no-op        noop-milter (scripts/lib/noop-milter.c) on a unix socket: every callback
                 answers "continue", so this is the cost of the milter protocol alone
    no milter    smtpd_milters empty

Postfix's smtp-source sends N messages to each, one message per connection, S connections
at a time, and the wall time gives messages/s. The three are measured in turn, R rounds
(after one warm-up round that does not count; each round starts with the next variant),
and the median of each counts. Each measurement starts with an empty queue (every message
is delivered to discard:). smtp-source stops at the first reply it does not expect, so
every measured message was accepted; at the end each maillog must show every message
delivered, else the benchmark fails.

Prints each measurement, then the three figures and the ratios heloguard/no-op and
heloguard/no-milter (with --summary: writes those result lines to FILE instead).
"""

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
import harness as h  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
# A clean, fully-qualified HELO name: it passes every restriction of the example
# configuration, so heloguard evaluates the whole list and the message is accepted.
HELO = "mail.sender.example"
SENDER = "sender@example.org"
RECIPIENT = "user@example.com"   # in the private instances' mydestination; delivered to discard:
QUEUE_SUBDIRS = ("maildrop", "incoming", "active", "deferred", "hold")


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heloguard", required=True, type=Path)
    parser.add_argument("--noop-milter", required=True, type=Path)
    parser.add_argument("--config", required=True, type=Path, help="heloguard's configuration")
    parser.add_argument("--messages", type=int, default=1000, help="messages per measurement")
    parser.add_argument("--sessions", type=int, default=10, help="parallel SMTP sessions")
    parser.add_argument("--runs", type=int, default=7, help="measured rounds")
    parser.add_argument("--summary", type=Path, help="write the result lines here, not to stdout")
    return parser.parse_args()


def queued_messages(postfix):
    return sum(1 for sub in QUEUE_SUBDIRS for path in (postfix.queue_dir / sub).rglob("*")
               if path.is_file())


def wait_for_empty_queue(postfix, name, timeout=120):
    h.wait_until(lambda: queued_messages(postfix) == 0, timeout, interval=0.1,
                 what=f"the {name} instance's queue to drain")


def send(postfix, messages, sessions):
    """smtp-source: `messages` messages, one per connection, `sessions` in parallel.
    Returns messages/s; raises HarnessError when smtp-source reports any problem."""
    argv = [SMTP_SOURCE, "-s", str(sessions), "-m", str(messages), "-M", HELO,
            "-f", SENDER, "-t", RECIPIENT, f"127.0.0.1:{postfix.port}"]
    started = time.monotonic()
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=600)
    elapsed = time.monotonic() - started
    if result.returncode != 0 or result.stderr.strip() or result.stdout.strip():
        raise h.HarnessError(f"{' '.join(argv)} exited {result.returncode}:\n"
                             f"{result.stdout}{result.stderr}")
    return messages / elapsed


def check_heloguard_is_in_the_path(postfix):
    """One session that heloguard must refuse, so the measurement cannot silently run
    without it (or with a configuration that permits everything)."""
    exchanges = h.run_session(postfix.address, ["EHLO foo", f"MAIL FROM:<{SENDER}>",
                                                f"RCPT TO:<{RECIPIENT}>", "QUIT"])
    reply = exchanges[3].reply.text
    if not reply.startswith("504 5.5.2 <foo>: Helo command rejected"):
        raise h.HarnessError("heloguard did not refuse the HELO foo:\n" + "\n".join(
            f"{e.command_text()} -> {e.reply}" for e in exchanges))


def main():
    args = parse_arguments()
    h.enter_sandbox()
    tmp = h.TempDir("milter-bench")
    heloguard = h.Heloguard(args.heloguard, args.config, tmp.path / "heloguard.sock",
                            tmp.path / "heloguard.log").start()
    noop_socket = tmp.path / "noop.sock"
    noop = h.Daemon([args.noop_milter, f"unix:{noop_socket}"], tmp.path / "noop.log").start()
    h.wait_until(lambda: h.is_socket(noop_socket), 10, what="noop-milter's socket")
    # Postfix's smtpd runs as the `postfix` user (harness.Heloguard does the same for heloguard).
    noop_socket.chmod(0o666)

    variants = {"heloguard": heloguard.milter_spec, "no-op": f"unix:{noop_socket}",
                "no milter": ""}
    instances = {}
    for name, milters in variants.items():
        postfix = h.PrivatePostfix(tmp.path / re.sub(r"\W", "-", name))
        postfix.configure(milters=milters)
        instances[name] = postfix.start()
    check_heloguard_is_in_the_path(instances["heloguard"])

    rates = {name: [] for name in variants}
    sent = dict.fromkeys(variants, 0)
    print(f"    {args.messages} messages per run, {args.sessions} sessions in parallel, "
          f"1 warm-up round + {args.runs} rounds", flush=True)
    names = list(instances)
    for round_number in range(args.runs + 1):
        # Each round starts with another variant, so that none always follows the same one.
        shift = round_number % len(names)
        for name in names[shift:] + names[:shift]:
            postfix = instances[name]
            wait_for_empty_queue(postfix, name)
            rate = send(postfix, args.messages, args.sessions)
            sent[name] += args.messages
            label = "warm-up" if round_number == 0 else f"run {round_number}"
            print(f"    {name:<10} {label}: {rate:8.1f} messages/s", flush=True)
            if round_number > 0:
                rates[name].append(rate)

    for name, postfix in instances.items():
        wait_for_empty_queue(postfix, name)
        postfix.settle_log()
        delivered = len(re.findall(r" status=sent ", postfix.maillog()))
        if delivered != sent[name]:
            raise h.HarnessError(f"{name}: {sent[name]} messages sent, {delivered} delivered")
    if not heloguard.alive() or not noop.alive():
        raise h.HarnessError("a milter died during the benchmark")

    median = {name: statistics.median(values) for name, values in rates.items()}

    def paired(other):
        """The median of the per-round ratios: less sensitive to load that drifts between rounds."""
        return statistics.median(a / b for a, b in zip(rates["heloguard"], rates[other]))

    lines = [
        "milter: heloguard %.1f messages/s, no-op milter %.1f messages/s, no milter %.1f messages/s"
        % (median["heloguard"], median["no-op"], median["no milter"]),
        "milter: ratio heloguard/no-op %.3f (target >= 0.95), heloguard/no-milter %.3f; "
        "median of per-round ratios %.3f and %.3f"
        % (median["heloguard"] / median["no-op"], median["heloguard"] / median["no milter"],
           paired("no-op"), paired("no milter")),
        "milter: Postfix smtp-source, %d messages x %d runs (median) each, one per connection, "
        "%d sessions in parallel, unix sockets" % (args.messages, args.runs, args.sessions),
    ]
    if args.summary:
        args.summary.write_text("\n".join(lines) + "\n")
    else:
        print("\n".join(lines))

    status = heloguard.terminate()
    noop.terminate()
    if status != 0:
        raise h.HarnessError(f"heloguard exited with {status} on SIGTERM:\n{heloguard.log()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
