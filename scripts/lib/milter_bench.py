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
    floor        (with --floor) `noop-milter --floor`: heloguard's negotiation and its
                 acceptance at MAIL FROM, no work: heloguard minus this is heloguard's own work
    no milter    smtpd_milters empty

Postfix's smtp-source sends N messages to each, one message per connection, S connections
at a time, and the wall time gives messages/s. The variants are measured in turn, R rounds
(after one warm-up round that does not count; each round starts with the next variant),
and the median of each counts. Each measurement starts with an empty queue (every message
is delivered to discard:). smtp-source stops at the first reply it does not expect, so
every measured message was accepted; at the end each maillog must show every message
delivered, else the benchmark fails; and the state file of CONF must hold a HELO log record
for each of them, that of CONF2 none.

Each measurement also takes the CPU it cost, divided by the sessions: the milter process's
(utime + stime of all its threads, /proc/PID/stat), the Postfix instance's (its master with
every child it reaped, plus the children still running), smtp-source's, and the whole
machine's (/proc/stat: user, nice, system, irq, softirq, steal). The machine's minus the
other three is what anything else on the machine used meanwhile (other builds on a shared
machine): printed as "other load", it says how far the whole-machine figures can be trusted,
while Postfix + milter + smtp-source is free of it.

Then packets: a tap (scripts/lib/milter_tap.py) in front of heloguard and of the no-op
milter, each behind a Postfix instance of its own, counts the milter packets of one session
of each type: clean (one recipient, a message with five headers), refused (a HELO heloguard
refuses: one RCPT, no DATA) and three recipients (with a message). Each type runs three
times and must give the same count every time.

Prints each measurement, then the four figures, the ratios heloguard/no-op (targets:
throughput >= 1.15, milter-process CPU per session <= 0.75, whole-machine CPU per session <=
0.90) and heloguard/no-milter, heloguard with the state on/off, and the packet counts (with
--summary: writes those result lines to FILE instead).
"""

import argparse
import os
import re
import resource
import sqlite3
import statistics
import urllib.request
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from milter_tap import MilterTap  # noqa: E402

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
    parser.add_argument("--floor", action="store_true",
                        help="also measure `noop-milter --floor`: heloguard's negotiation, no work")
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


TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid, children=False):
    """CPU seconds of a process (user + system, all threads) from /proc/PID/stat; with
    `children`, plus those of its children it has reaped. 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # After "pid (comm)": state ppid ... utime(14) stime(15) cutime(16) cstime(17), 1-based.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def postfix_cpu(master):
    """CPU seconds of a Postfix instance: the master with every child it reaped, plus its
    children still running (smtpd, cleanup, qmgr, ... with what they reaped)."""
    total = process_cpu(master, children=True)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
        if ppid == master:
            total += process_cpu(int(entry.name), children=True)
    return total


def machine_cpu():
    """(busy, all) CPU seconds of the whole machine so far, from the first line of /proc/stat
    (busy: user, nice, system, irq, softirq, steal; all: those plus idle and iowait)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    busy = values[0] + values[1] + values[2] + values[5] + values[6] + values[7]
    return busy / TICK, sum(values) / TICK


def client_cpu():
    """CPU seconds of this script's reaped children (smtp-source)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Sample:
    """What one measurement cost, per session (microseconds), and its rate."""

    def __init__(self, rate, sessions, milter, postfix, client, busy, capacity):
        self.rate = rate
        self.milter = milter / sessions * 1e6
        self.postfix = postfix / sessions * 1e6
        self.client = client / sessions * 1e6
        self.machine = busy / sessions * 1e6
        # CPU the machine spent on anything else while this ran (other builds, say), as a share
        # of its capacity: how loaded the machine was.
        self.others = max(0.0, busy - milter - postfix - client) / capacity if capacity else 0.0


def measure(postfix, milter_pid, messages, sessions):
    """send() with the CPU it cost: the milter process's, the Postfix instance's, smtp-source's
    and the whole machine's."""
    master = postfix.master_pid()
    before = (process_cpu(milter_pid) if milter_pid else 0.0, postfix_cpu(master), client_cpu(), *machine_cpu())
    rate = send(postfix, messages, sessions)
    after = (process_cpu(milter_pid) if milter_pid else 0.0, postfix_cpu(master), client_cpu(), *machine_cpu())
    milter, postfix_used, client, busy, capacity = (b - a for a, b in zip(before, after))
    return Sample(rate, messages, milter, postfix_used, client, busy, capacity)


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


def has_penalty_table(database):
    """True once heloguard has made its state file and the penalty table in it."""
    if not database.exists():
        return False
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'penalty'").fetchone()[0] == 1
    except sqlite3.Error:
        return False
    finally:
        db.close()


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


# Session types for the packet counts, as SMTP commands (QUIT added). The message carries
# the headers smtp-source sends (a no-op milter gets each header as an event).
MESSAGE = h.Message("From: <sender@example.org>\r\nTo: <user@example.com>\r\n"
                    "Date: Sun, 6 Dec 2026 10:00:00 +0000\r\nMessage-Id: <1@bench.example>\r\n"
                    "Subject: bench\r\n\r\nbody\r\n")
SESSION_TYPES = {
    "clean": [f"EHLO {HELO}", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RECIPIENT}>", "DATA", MESSAGE],
    "refused": ["EHLO foo", f"MAIL FROM:<{SENDER}>", f"RCPT TO:<{RECIPIENT}>"],
    "3 recipients": [f"EHLO {HELO}", f"MAIL FROM:<{SENDER}>"]
                    + [f"RCPT TO:<user{n}@example.com>" for n in range(3)] + ["DATA", MESSAGE],
}


def count_packets(tmp, heloguard, noop_socket, repeat=3):
    """Milter packets per session of each type, through a tap (scripts/lib/milter_tap.py) in
    front of heloguard and of the no-op milter, each behind a Postfix instance of its own.
    Returns the result lines; fails when a session's replies or counts vary."""
    lines = []
    results = {}
    for name, upstream in (("heloguard", heloguard.socket_path), ("no-op", noop_socket)):
        label = re.sub(r"\W", "-", name)
        tap = MilterTap(tmp.path / f"tap-{label}.sock", upstream).start()
        postfix = h.PrivatePostfix(tmp.path / f"tapped-{label}")
        postfix.configure(milters=tap.milter_spec)
        postfix.start()
        tap.skip_startup_probe()
        try:
            for kind, commands in SESSION_TYPES.items():
                seen = set()
                for _ in range(repeat):
                    exchanges = h.run_session(postfix.address, commands + ["QUIT"])
                    replies = [e.reply.code if e.reply else None for e in exchanges]
                    (connection,) = tap.wait_for_connections(1)
                    seen.add((tuple(replies), connection.to_milter, connection.to_mta,
                              connection.bytes_to_milter, connection.bytes_to_mta, " ".join(connection.packets)))
                if len(seen) != 1:
                    raise h.HarnessError(f"{name}, {kind}: sessions differ: {seen}")
                results[(name, kind)] = seen.pop()
        finally:
            postfix.stop()
            tap.stop()
    for kind in SESSION_TYPES:
        parts = []
        for name in ("heloguard", "no-op"):
            replies, to_milter, to_mta, bytes_in, bytes_out, packets = results[(name, kind)]
            parts.append(f"{name} {to_milter} to the milter + {to_mta} back ({bytes_in} + {bytes_out} bytes)")
            print(f"    packets, {kind}, {name} (SMTP replies {replies}): {packets}", flush=True)
        lines.append(f"packets per session, {kind}: " + "; ".join(parts))
    return lines


def metrics_accepted(config):
    """What the endpoint `config` names counted as accepted: recipients accepted at RCPT plus
    messages accepted whole at MAIL FROM (whose recipients the milter never sees); with one
    recipient per message, the messages accepted."""
    address = next(line.split("=", 1)[1].strip() for line in config.read_text().splitlines()
                   if line.startswith("metrics_listen"))
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        text = response.read().decode()
    total = 0
    for pattern in (r'^heloguard_recipients_total\{verdict="accept"\} (\d+)$',
                    r'^heloguard_messages_accepted_at_mail_total (\d+)$'):
        match = re.search(pattern, text, re.M)
        if match is None:
            return "no"
        total += int(match.group(1))
    return str(total)


def main():
    args = parse_arguments()
    h.enter_sandbox()
    tmp = h.TempDir("milter-bench")
    database = state_database(args.config)
    heloguard = h.Heloguard(args.heloguard, args.config, tmp.path / "heloguard.sock",
                            tmp.path / "heloguard.log").start()
    h.wait_until(lambda: has_penalty_table(database), 10, what=f"heloguard's state file {database}")
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

    floor = None
    if args.floor:
        floor_socket = tmp.path / "floor.sock"
        floor = h.Daemon([args.noop_milter, "--floor", f"unix:{floor_socket}"], tmp.path / "floor.log").start()
        h.wait_until(lambda: h.is_socket(floor_socket), 10, what="noop-milter --floor's socket")
        floor_socket.chmod(0o666)

    variants = {"heloguard": heloguard.milter_spec, "state off": state_off.milter_spec,
                "no-op": f"unix:{noop_socket}", "no milter": ""}
    if metrics_off is not None:
        variants["metrics off"] = metrics_off.milter_spec
    if floor is not None:
        variants["floor"] = f"unix:{floor_socket}"
    instances = {}
    for name, milters in variants.items():
        postfix = h.PrivatePostfix(tmp.path / re.sub(r"\W", "-", name))
        postfix.configure(milters=milters)
        instances[name] = postfix.start()
    check_heloguard_is_in_the_path(instances["heloguard"])
    check_heloguard_is_in_the_path(instances["state off"])
    check_box_is_loaded(instances["heloguard"], args.penalties)
    logged_before = helo_log_records(database)

    pids = {"heloguard": heloguard.pid, "state off": state_off.pid, "no-op": noop.pid, "no milter": None}
    if metrics_off is not None:
        pids["metrics off"] = metrics_off.pid
    if floor is not None:
        pids["floor"] = floor.pid
    samples = {name: [] for name in variants}
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
            sample = measure(postfix, pids[name], args.messages, args.sessions)
            sent[name] += args.messages
            label = "warm-up" if round_number == 0 else f"run {round_number}"
            print(f"    {name:<10} {label}: {sample.rate:8.1f} messages/s; CPU per session: milter "
                  f"{sample.milter:5.0f} us, Postfix {sample.postfix:5.0f} us, smtp-source {sample.client:4.0f} us, "
                  f"machine {sample.machine:5.0f} us; other load {sample.others:4.0%}", flush=True)
            if round_number > 0:
                samples[name].append(sample)
    rates = {name: [sample.rate for sample in values] for name, values in samples.items()}

    for name, postfix in instances.items():
        wait_for_empty_queue(postfix, name)
        postfix.settle_log()
        delivered = len(re.findall(r" status=sent ", postfix.maillog()))
        if delivered != sent[name]:
            raise h.HarnessError(f"{name}: {sent[name]} messages sent, {delivered} delivered")
    if not heloguard.alive() or not state_off.alive() or not noop.alive() or (floor is not None and not floor.alive()):
        raise h.HarnessError("a milter died during the benchmark")
    # The HELO log is written off the mail path: give the writer a moment to catch up.
    h.wait_until(lambda: helo_log_records(database) - logged_before >= sent["heloguard"], 30,
                 interval=0.2, what=f"{sent['heloguard']} HELO log records in {database}")
    off_records = helo_log_records(state_database(args.config_state_off))
    if off_records:
        raise h.HarnessError(f"state off: {off_records} HELO log records, want none")

    median = {name: statistics.median(values) for name, values in rates.items()}

    def cpu(name, what):
        return statistics.median(getattr(sample, what) for sample in samples[name])

    def paired(other):
        """The median of the per-round ratios: less sensitive to load that drifts between rounds."""
        return statistics.median(a / b for a, b in zip(rates["heloguard"], rates[other]))

    def cpu_ratio(what):
        return cpu("heloguard", what) / cpu("no-op", what)

    def paired_cpu_ratio(what):
        """The median of the per-round CPU ratios: the two milters of one round share its machine state."""
        return statistics.median(getattr(a, what) / getattr(b, what)
                                 for a, b in zip(samples["heloguard"], samples["no-op"]))

    # The MTA's own CPU (Postfix, milter, client): the part of the machine's that other
    # builds on a shared machine do not disturb.
    def mta(name):
        return cpu(name, "milter") + cpu(name, "postfix") + cpu(name, "client")

    packets = count_packets(tmp, heloguard, noop_socket)
    lines = [
        "milter: heloguard %.1f messages/s, no-op milter %.1f messages/s, no milter %.1f messages/s"
        % (median["heloguard"], median["no-op"], median["no milter"]),
        "milter: ratio heloguard/no-op %.3f (target >= 1.15), heloguard/no-milter %.3f; "
        "median of per-round ratios %.3f and %.3f"
        % (median["heloguard"] / median["no-op"], median["heloguard"] / median["no milter"],
           paired("no-op"), paired("no milter")),
        "milter: CPU per session (median): milter process: heloguard %.0f us, no-op %.0f us; "
        "whole machine: heloguard %.0f us, no-op %.0f us, no milter %.0f us; Postfix + milter + "
        "smtp-source: heloguard %.0f us, no-op %.0f us, no milter %.0f us"
        % (cpu("heloguard", "milter"), cpu("no-op", "milter"), cpu("heloguard", "machine"),
           cpu("no-op", "machine"), cpu("no milter", "machine"), mta("heloguard"), mta("no-op"), mta("no milter")),
        "milter: CPU ratios heloguard/no-op: milter process %.2f (target <= 0.75), whole machine %.2f "
        "(target <= 0.90), Postfix + milter + smtp-source %.2f; median of per-round ratios: milter "
        "process %.2f, whole machine %.2f; other load on the machine during the runs: median %.0f%% of its %d CPUs"
        % (cpu_ratio("milter"), cpu_ratio("machine"), mta("heloguard") / mta("no-op"),
           paired_cpu_ratio("milter"), paired_cpu_ratio("machine"),
           100 * statistics.median(sample.others for values in samples.values() for sample in values),
           os.cpu_count()),
        "milter: penalty box and HELO log: state on %.1f messages/s (%d boxed clients, a HELO "
        "log record per session), state off %.1f messages/s; ratio on/off %.3f (target >= "
        "0.95), median of per-round ratios %.3f"
        % (median["heloguard"], args.penalties, median["state off"],
           median["heloguard"] / median["state off"], paired("state off")),
        "milter: Postfix smtp-source, %d messages x %d runs (median) each, one per connection, "
        "%d sessions in parallel, unix sockets" % (args.messages, args.runs, args.sessions),
    ]
    if metrics_off is not None:
        scraped = metrics_accepted(args.config)
        lines.insert(3, "milter: metrics (metrics_listen) on %.1f messages/s, off %.1f messages/s; ratio "
                     "on/off %.3f (target >= 0.98), median of per-round ratios %.3f; the endpoint "
                     "counted %s accepted messages (%d sent)"
                     % (median["heloguard"], median["metrics off"], median["heloguard"] / median["metrics off"],
                        paired("metrics off"), scraped, sent["heloguard"]))
        if metrics_off.terminate() != 0:
            raise h.HarnessError(f"heloguard (metrics off) did not exit 0:\n{metrics_off.log()}")
    if floor is not None:
        lines.insert(4, "milter: floor (noop-milter --floor: heloguard's negotiation, no work): "
                     "milter process %.0f us per session, %.2f of the no-op milter's; heloguard's own work "
                     "(heloguard minus floor) %.0f us, with the state off %.0f us"
                     % (cpu("floor", "milter"), cpu("floor", "milter") / cpu("no-op", "milter"),
                        cpu("heloguard", "milter") - cpu("floor", "milter"),
                        cpu("state off", "milter") - cpu("floor", "milter")))
    lines += packets
    if args.summary:
        args.summary.write_text("\n".join(lines) + "\n")
    else:
        print("\n".join(lines))

    status = heloguard.terminate()
    off_status = state_off.terminate()
    noop.terminate()
    if floor is not None:
        floor.terminate()
    if status != 0:
        raise h.HarnessError(f"heloguard exited with {status} on SIGTERM:\n{heloguard.log()}")
    if off_status != 0:
        raise h.HarnessError(f"heloguard (state off) exited with {off_status} on SIGTERM:\n"
                             f"{state_off.log()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
