#!/usr/bin/env python3
"""Milter throughput benchmark (not a test), run by scripts/bench.

    milter_bench.py --heloguard BIN --noop-milter BIN --config CONF --config-state-off CONF2
                    [--penalties P] [--messages N] [--sessions S] [--runs R] [--summary FILE]

Four private Postfix instances run side by side in harness.py's loopback-only sandbox, the
same configuration except smtpd_milters:

    heloguard    heloguard run on a unix socket, with CONF: the HELO log and the penalty box
                 on (reject_penalized_client in the list), the box pre-filled with P entries
                 (default 10,000; written into the state file with sqlite3 once heloguard has
                 made it, then heloguard restarts to load them)
    state off    another heloguard with CONF2: the same restrictions without the penalty box
                 (helo_log = no, no reject_penalized_client, no penalisation)
    no-op        noop-milter (scripts/lib/noop-milter.c) on a unix socket: every callback
                 answers "continue", so this is the cost of the milter protocol alone
    no milter    smtpd_milters empty

Postfix's smtp-source sends N messages to each, one message per connection, S connections
at a time, and the wall time gives messages/s. The four are measured in turn, R rounds
(after one warm-up round that does not count; each round starts with the next variant),
and the median of each counts. Each measurement starts with an empty queue (every message
is delivered to discard:). smtp-source stops at the first reply it does not expect, so
every measured message was accepted; at the end each maillog must show every message
delivered, else the benchmark fails; and the state file of CONF must hold a HELO log record
for each of them, that of CONF2 none.

Prints each measurement, then the four figures, the ratios heloguard/no-op and
heloguard/no-milter, and heloguard with the state on/off (with --summary: writes those result
lines to FILE instead).
"""

import argparse
import re
import sqlite3
import statistics
import urllib.request
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
    parser.add_argument("--config", required=True, type=Path,
                        help="heloguard's configuration, HELO log and penalty box on")
    parser.add_argument("--config-state-off", required=True, type=Path,
                        help="the same restrictions with the HELO log and penalty box off")
    parser.add_argument("--config-metrics-off", type=Path,
                        help="--config with metrics_listen off: heloguard with metrics on vs off")
    parser.add_argument("--penalties", type=int, default=10000,
                        help="entries to pre-fill the penalty box with")
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


def state_database(config):
    """The heloguard.sqlite of a configuration (its last state_directory line)."""
    found = re.findall(r"^state_directory\s*=\s*(\S+)\s*$", config.read_text(), re.M)
    if not found:
        raise h.HarnessError(f"{config}: no state_directory (the bench keeps its state in its "
                             "work directory)")
    return Path(found[-1]) / "heloguard.sqlite"


# Boxed clients of the pre-filled box: 10.x.y.z, never the benchmark's 127.0.0.1.
def boxed_client(index):
    return f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}"


def prefill(database, count):
    """Writes `count` active penalty entries into heloguard's file, in one transaction."""
    now = int(time.time())
    db = sqlite3.connect(database, timeout=10)
    try:
        # heloguard creates the file, then its tables: wait for them (a debug build is slow).
        h.wait_until(lambda: db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'penalty'").fetchone()[0],
                     10, interval=0.05, what=f"the penalty table in {database}")
        with db:
            db.executemany("INSERT OR REPLACE INTO penalty (key, reason, first_seen, expires, "
                           "offences) VALUES (?, ?, ?, ?, 1)",
                           ((boxed_client(i), "scripts/bench pre-filled entry", now, now + 86400)
                            for i in range(count)))
        (stored,) = db.execute("SELECT count(*) FROM penalty WHERE expires > ?",
                               (now,)).fetchone()
    finally:
        db.close()
    if stored < count:
        raise h.HarnessError(f"{database}: {stored} active penalties after pre-filling {count}")


def check_box_is_loaded(postfix, count):
    """A session from a pre-filled client (XCLIENT) must be refused by reject_penalized_client,
    one from an unlisted 10.x address accepted."""
    for index, wanted in ((count - 1, "550 5.7.1 "), (count + 1, "250 ")):
        client = boxed_client(index)
        exchanges = h.run_session(postfix.address, [
            "EHLO bench.example", f"XCLIENT ADDR={client}", f"EHLO {HELO}",
            f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RECIPIENT}>", "QUIT"])
        reply = exchanges[5].reply.text
        if not reply.startswith(wanted) or (wanted.startswith("550")
                                            and "penalized until" not in reply):
            raise h.HarnessError(f"the pre-filled penalty box is not in effect: XCLIENT "
                                 f"ADDR={client} got {reply!r}")


def helo_log_records(database):
    if not database.exists():
        return 0
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM helo_log WHERE helo = ?", (HELO,)).fetchone()[0]
    finally:
        db.close()


def metrics_recipients(config):
    """heloguard_recipients_total{verdict="accept"} from the endpoint `config` names."""
    address = next(line.split("=", 1)[1].strip() for line in config.read_text().splitlines()
                   if line.startswith("metrics_listen"))
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(r'^heloguard_recipients_total\{verdict="accept"\} (\d+)$', text, re.M)
    return match.group(1) if match else "no"


def main():
    args = parse_arguments()
    h.enter_sandbox()
    tmp = h.TempDir("milter-bench")
    database = state_database(args.config)
    heloguard = h.Heloguard(args.heloguard, args.config, tmp.path / "heloguard.sock",
                            tmp.path / "heloguard.log").start()
    h.wait_until(database.exists, 10, what=f"heloguard's state file {database}")
    prefill(database, args.penalties)
    # Loaded at start (a running heloguard would take up to 30 s to refresh).
    if heloguard.terminate(timeout=15) != 0:
        raise h.HarnessError(f"heloguard did not stop cleanly:\n{heloguard.log()}")
    heloguard.start()
    state_off = h.Heloguard(args.heloguard, args.config_state_off, tmp.path / "state-off.sock",
                            tmp.path / "state-off.log").start()
    # The same configuration and state file with the metrics endpoint off.
    metrics_off = None
    if args.config_metrics_off:
        metrics_off = h.Heloguard(args.heloguard, args.config_metrics_off, tmp.path / "metrics-off.sock",
                                  tmp.path / "metrics-off.log").start()
    noop_socket = tmp.path / "noop.sock"
    noop = h.Daemon([args.noop_milter, f"unix:{noop_socket}"], tmp.path / "noop.log").start()
    h.wait_until(lambda: h.is_socket(noop_socket), 10, what="noop-milter's socket")
    # Postfix's smtpd runs as the `postfix` user (harness.Heloguard does the same for heloguard).
    noop_socket.chmod(0o666)

    variants = {"heloguard": heloguard.milter_spec, "state off": state_off.milter_spec,
                "no-op": f"unix:{noop_socket}", "no milter": ""}
    if metrics_off is not None:
        variants["metrics off"] = metrics_off.milter_spec
    instances = {}
    for name, milters in variants.items():
        postfix = h.PrivatePostfix(tmp.path / re.sub(r"\W", "-", name))
        postfix.configure(milters=milters)
        instances[name] = postfix.start()
    check_heloguard_is_in_the_path(instances["heloguard"])
    check_heloguard_is_in_the_path(instances["state off"])
    check_box_is_loaded(instances["heloguard"], args.penalties)
    logged_before = helo_log_records(database)

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
    if not heloguard.alive() or not state_off.alive() or not noop.alive():
        raise h.HarnessError("a milter died during the benchmark")
    # The HELO log is written off the mail path: give the writer a moment to catch up.
    h.wait_until(lambda: helo_log_records(database) - logged_before >= sent["heloguard"], 30,
                 interval=0.2, what=f"{sent['heloguard']} HELO log records in {database}")
    off_records = helo_log_records(state_database(args.config_state_off))
    if off_records:
        raise h.HarnessError(f"state off: {off_records} HELO log records, want none")

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
        "milter: penalty box and HELO log: state on %.1f messages/s (%d boxed clients, a HELO "
        "log record per session), state off %.1f messages/s; ratio on/off %.3f (target >= "
        "0.95), median of per-round ratios %.3f"
        % (median["heloguard"], args.penalties, median["state off"],
           median["heloguard"] / median["state off"], paired("state off")),
        "milter: Postfix smtp-source, %d messages x %d runs (median) each, one per connection, "
        "%d sessions in parallel, unix sockets" % (args.messages, args.runs, args.sessions),
    ]
    if metrics_off is not None:
        scraped = metrics_recipients(args.config)
        lines.insert(3, "milter: metrics (metrics_listen) on %.1f messages/s, off %.1f messages/s; ratio "
                     "on/off %.3f (target >= 0.98), median of per-round ratios %.3f; the endpoint "
                     "counted %s accepted recipients (%d sent)"
                     % (median["heloguard"], median["metrics off"], median["heloguard"] / median["metrics off"],
                        paired("metrics off"), scraped, sent["heloguard"]))
        if metrics_off.terminate() != 0:
            raise h.HarnessError(f"heloguard (metrics off) did not exit 0:\n{metrics_off.log()}")
    if args.summary:
        args.summary.write_text("\n".join(lines) + "\n")
    else:
        print("\n".join(lines))

    status = heloguard.terminate()
    off_status = state_off.terminate()
    noop.terminate()
    if status != 0:
        raise h.HarnessError(f"heloguard exited with {status} on SIGTERM:\n{heloguard.log()}")
    if off_status != 0:
        raise h.HarnessError(f"heloguard (state off) exited with {off_status} on SIGTERM:\n"
                             f"{state_off.log()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
