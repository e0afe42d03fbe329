#!/usr/bin/env python3
"""Test DNS for the heloguard end-to-end runs: the test zone served by dnsmasq on 127.0.0.1:53
inside harness.py's sandbox, and a small scripted DNS server for what dnsmasq cannot do
(SERVFAIL, silence, slow answers). Python 3 standard library only.

Why both: native Postfix resolves through libc, i.e. port 53 of the sandbox's private
resolv.conf, so the zone must be served there by a real server; heloguard is pointed at the
same server (`dns_servers = 127.0.0.1`), so both sides see exactly the same answers. dnsmasq
(Debian's dnsmasq-base, no system service) serves corpus/test-zone -- written there in a small
zone format, rendered here into dnsmasq options, and checked record by record at every start --
and forwards the names that must fail (`tempfail.example.test`, ...) to the scripted server.

As a module (for the runners)::

    import testdns
    dns = testdns.TestDNS(sandbox, tmp / "dns").start()   # scripted SERVFAIL server + dnsmasq
    mark = dns.mark()
    ...                                                   # sessions
    dns.count("good.example.test", "A", since=mark)       # queries dnsmasq received

As a program::

    testdns.py serve --port 5300 --default servfail                 # every query: SERVFAIL
    testdns.py serve --port 53 --default forward:127.0.0.1:5353 --delay-ms 300
    testdns.py serve --port 5301 --rule bench.example.test=a:192.0.2.1 --delay-ms 30
    testdns.py query good.example.test A [--server 127.0.0.1:53]
    testdns.py render                     # the dnsmasq configuration of corpus/test-zone

The scripted server answers UDP and TCP on 127.0.0.1:PORT. Each query is logged on stdout as
`query NAME TYPE` (one line, flushed) before it is answered, so that a runner can count them.
Actions (`--rule SUFFIX=ACTION`, the longest matching suffix wins, else `--default`):

    servfail | refused | nxdomain | silent (never answers)
    a:ADDRESS        an A record ADDRESS for the name itself (TTL --ttl); other types: NODATA
    forward:HOST:PORT  ask that server (over UDP, whatever the client used) and pass its
                     answer on unchanged

`--delay-ms N` holds every answer back N milliseconds (without blocking other queries).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import ipaddress
import os
import re
import shlex
import socket
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZONE_FILE = HERE / "corpus" / "test-zone"
DNSMASQ = "/usr/sbin/dnsmasq"

# Where the scripted SERVFAIL server listens: SERVFAIL entries of the zone are forwarded here.
SERVFAIL_PORT = 5300

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
         "ANY": 255}
TYPE_NAMES = {number: name for name, number in TYPES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


# --------------------------------------------------------------------------------------------
# Wire format (RFC 1035), just enough for the tests
# --------------------------------------------------------------------------------------------

def encode_name(name: str) -> bytes:
    """A domain name in wire format, without compression ("" or "." is the root)."""
    out = b""
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode("utf-8")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_name(message: bytes, offset: int) -> tuple[str, int]:
    """(name, offset after it) at `offset`, following compression pointers."""
    labels, end, jumps = [], None, 0
    while True:
        length = message[offset]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | message[offset + 1]
            jumps += 1
            if jumps > 50:
                raise ValueError("compression loop")
            continue
        offset += 1
        if length == 0:
            break
        labels.append(message[offset:offset + length].decode("utf-8", "backslashreplace"))
        offset += length
    return ".".join(labels), end if end is not None else offset


@dataclass
class Record:
    name: str
    type: str
    ttl: int
    data: object        # str for A/AAAA/NS/CNAME/PTR, (pref, host) for MX, [bytes] for TXT

    def __str__(self) -> str:
        return f"{self.name} {self.ttl} {self.type} {self.data}"


@dataclass
class Message:
    id: int
    flags: int
    question: tuple[str, str] | None
    answers: list[Record] = field(default_factory=list)

    @property
    def rcode(self) -> str:
        return RCODES.get(self.flags & 0xF, str(self.flags & 0xF))


def _decode_rdata(message: bytes, rtype: int, start: int, length: int) -> object:
    data = message[start:start + length]
    if rtype == 1:
        return str(ipaddress.IPv4Address(data))
    if rtype == 28:
        return str(ipaddress.IPv6Address(data))
    if rtype in (2, 5, 12):
        return decode_name(message, start)[0]
    if rtype == 15:
        return struct.unpack("!H", data[:2])[0], decode_name(message, start + 2)[0]
    if rtype == 16:
        strings, at = [], 0
        while at < len(data):
            strings.append(data[at + 1:at + 1 + data[at]])
            at += 1 + data[at]
        return strings
    return data.hex()


def parse_message(message: bytes) -> Message:
    ident, flags, qdcount, ancount, _, _ = struct.unpack("!6H", message[:12])
    offset, question = 12, None
    for _ in range(qdcount):
        name, offset = decode_name(message, offset)
        qtype, _ = struct.unpack("!HH", message[offset:offset + 4])
        offset += 4
        question = (name, TYPE_NAMES.get(qtype, str(qtype)))
    parsed = Message(ident, flags, question)
    for _ in range(ancount):
        name, offset = decode_name(message, offset)
        rtype, _, ttl, length = struct.unpack("!HHIH", message[offset:offset + 10])
        offset += 10
        parsed.answers.append(Record(name, TYPE_NAMES.get(rtype, str(rtype)), ttl,
                                     _decode_rdata(message, rtype, offset, length)))
        offset += length
    return parsed


def build_query(name: str, rtype: str, ident: int | None = None) -> bytes:
    ident = ident if ident is not None else int.from_bytes(os.urandom(2), "big")
    return (struct.pack("!6H", ident, 0x0100, 1, 0, 0, 0) + encode_name(name)
            + struct.pack("!HH", TYPES[rtype], 1))


def build_reply(query: bytes, rcode: int, answers: list[bytes] = ()) -> bytes:
    """A reply to `query`: its id, question and RD bit, QR+RA set, `answers` (wire RRs)."""
    ident, flags = struct.unpack("!HH", query[:4])
    _, end = decode_name(query, 12)
    question = query[12:end + 4]
    reply_flags = 0x8000 | 0x0080 | (flags & 0x0100) | rcode
    return struct.pack("!6H", ident, reply_flags, 1, len(answers), 0, 0) + question \
        + b"".join(answers)


def query(name: str, rtype: str, server: tuple[str, int] = ("127.0.0.1", 53),
          timeout: float = 3) -> Message:
    """One query over UDP, repeated over TCP when the answer comes back truncated (TC); raises
    OSError (socket.timeout) when nothing answers in time."""
    packet = build_query(name, rtype)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, server)
        while True:
            reply, _ = sock.recvfrom(65535)
            if reply[:2] == packet[:2]:
                break
    if not struct.unpack("!H", reply[2:4])[0] & 0x0200:
        return parse_message(reply)
    with socket.create_connection(server, timeout=timeout) as sock:
        sock.sendall(struct.pack("!H", len(packet)) + packet)
        data = b""
        while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
            chunk = sock.recv(65535)
            if not chunk:
                raise ConnectionError(f"{server}: TCP connection closed mid-answer")
            data += chunk
    return parse_message(data[2:])


# --------------------------------------------------------------------------------------------
# The test zone, served by dnsmasq
# --------------------------------------------------------------------------------------------

ZONE_HEADER = """\
# generated by scripts/e2e/testdns.py from corpus/test-zone
no-resolv
no-hosts
no-poll
local-ttl=300
no-round-robin
local=/#/
"""

# dnsmasq answers these record types in the reverse order of its configuration lines.
_REVERSED = {"MX", "TXT", "NS", "rr"}


@dataclass
class ZoneRecord:
    name: str
    type: str           # A AAAA MX TXT CNAME NS SERVFAIL
    data: object        # str; (pref, host) for MX; [str] for TXT; None for SERVFAIL
    ttl: int | None = None
    line: int = 0

    @property
    def wildcard(self) -> bool:
        return self.name.startswith("*.")


def parse_zone(text: str, where: str = "test-zone") -> list[ZoneRecord]:
    """The records of a test-zone file (format in corpus/test-zone)."""
    records = []
    for number, raw in enumerate(text.split("\n"), start=1):
        try:
            words = shlex.split(raw, comments=True)
        except ValueError as error:
            raise ValueError(f"{where}:{number}: {error}") from None
        if not words:
            continue
        ttl = None
        if words[-1].startswith("ttl="):
            ttl = int(words.pop()[4:])
        if len(words) < 2:
            raise ValueError(f"{where}:{number}: want NAME TYPE DATA")
        name, rtype, data = words[0].lower(), words[1].upper(), words[2:]
        if rtype in ("A", "AAAA", "CNAME", "NS") and len(data) == 1:
            value: object = data[0]
            if rtype == "A":
                ipaddress.IPv4Address(data[0])
            elif rtype == "AAAA":
                value = str(ipaddress.IPv6Address(data[0]))
        elif rtype == "MX" and len(data) == 2:
            value = (int(data[0]), data[1].rstrip(".") if data[1] != "." else "")
        elif rtype == "TXT" and data:
            value = data
        elif rtype == "SERVFAIL" and not data:
            value = None
        else:
            raise ValueError(f"{where}:{number}: bad {rtype} record")
        if ttl is not None and rtype not in ("A", "AAAA"):
            raise ValueError(f"{where}:{number}: ttl= only for A and AAAA")
        records.append(ZoneRecord(name, rtype, value, ttl, number))
    return records


def _txt_string(text: str) -> str:
    if '"' in text or "\\" in text:
        raise ValueError(f"TXT strings must not contain quotes or backslashes: {text!r}")
    return f'"{text}"'


def render_dnsmasq(records: list[ZoneRecord], servfail_port: int = SERVFAIL_PORT) -> str:
    """The dnsmasq configuration that serves `records` as corpus/test-zone describes: lines of
    the types dnsmasq answers in reverse order are written in reverse order, A/AAAA in
    127.0.0.0/8 as raw records (no PTR), wildcards as address=/NAME/."""
    lines: list[tuple[str, str, str]] = []      # (name, kind, option line)
    for r in records:
        if r.type in ("A", "AAAA") and r.wildcard:
            lines.append((r.name, "wild", f"address=/{r.name[2:]}/{r.data}"))
        elif r.type == "A" and ipaddress.IPv4Address(r.data).is_loopback:
            lines.append((r.name, "rr", f"dns-rr={r.name},1,"
                                        f"{ipaddress.IPv4Address(r.data).packed.hex()}"))
        elif r.type in ("A", "AAAA"):
            ttl = f",{r.ttl}" if r.ttl is not None else ""
            lines.append((r.name, "host", f"host-record={r.name},{r.data}{ttl}"))
        elif r.type == "MX":
            lines.append((r.name, "MX", f"mx-host={r.name},{r.data[1] or '.'},{r.data[0]}"))
        elif r.type == "TXT":
            lines.append((r.name, "TXT", f"txt-record={r.name},"
                                         + ",".join(_txt_string(s) for s in r.data)))
        elif r.type == "CNAME":
            lines.append((r.name, "CNAME", f"cname={r.name},{r.data}"))
        elif r.type == "NS":
            lines.append((r.name, "rr", f"dns-rr={r.name},2,{encode_name(r.data).hex()}"))
        elif r.type == "SERVFAIL":
            lines.append((r.name, "SERVFAIL", f"server=/{r.name}/127.0.0.1#{servfail_port}"))
    out = [ZONE_HEADER]
    groups: dict[tuple[str, str], list[str]] = {}
    for name, kind, line in lines:
        groups.setdefault((name, kind), []).append(line)
    for (name, kind), group in groups.items():
        out += reversed(group) if kind in _REVERSED else group
    return "\n".join(out) + "\n"


def check_served(records: list[ZoneRecord], server: tuple[str, int]) -> list[str]:
    """Asks `server` for every name and type of the zone and compares the answers with the
    records, in order and with their TTL. Returns the problems (empty: served as written)."""
    problems = []
    wanted: dict[tuple[str, str], list[ZoneRecord]] = {}
    for r in records:
        wanted.setdefault((r.name, r.type), []).append(r)
    for (name, rtype), group in wanted.items():
        asked = name.replace("*.", "anything.") if rtype != "SERVFAIL" else name
        qtype = "A" if rtype == "SERVFAIL" else rtype
        try:
            reply = query(asked, qtype, server, timeout=2)
        except OSError as error:
            problems.append(f"{asked} {qtype}: {error}")
            continue
        if rtype == "SERVFAIL":
            if reply.rcode != "SERVFAIL":
                problems.append(f"{name}: {reply.rcode}, want SERVFAIL")
            continue
        got = [(a.data, a.ttl) for a in reply.answers if a.type == rtype]
        if rtype == "CNAME":
            got = got[:1]
        want = []
        for r in group:
            data = r.data
            if rtype == "MX":
                data = (r.data[0], r.data[1])
            elif rtype == "TXT":
                data = [s.encode("utf-8") for s in r.data]
            want.append((data, r.ttl if r.ttl is not None else 300))
        if reply.rcode != "NOERROR" or got != want:
            problems.append(f"{asked} {qtype}: {reply.rcode} {got}, want {want}")
    try:
        reply = query("nx.example.test", "A", server, timeout=2)
        if reply.rcode != "NXDOMAIN":
            problems.append(f"nx.example.test A: {reply.rcode}, want NXDOMAIN")
    except OSError as error:
        problems.append(f"nx.example.test A: {error}")
    return problems


_QUERY_LINE = re.compile(r"query\[(\w+)\] (\S+) from ")


class TestDNS:
    """The test zone (corpus/test-zone) on 127.0.0.1:`port` of the sandbox: dnsmasq, logging
    every query, and the scripted server on SERVFAIL_PORT that answers what dnsmasq forwards
    there with SERVFAIL. Both are harness Daemons: killed at exit on every path. start()
    checks that every record is served as written (order and TTL included)."""

    def __init__(self, sandbox, directory: Path, port: int = 53, zone_file: Path = ZONE_FILE):
        # harness is imported here, not at the top: the server process (`testdns.py serve`)
        # must not install harness's exit and signal handlers.
        import harness as h
        self.h = h
        self.sandbox = sandbox
        self.directory = Path(directory)
        self.port = port
        self.zone_file = Path(zone_file)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / "dnsmasq.log"
        self.config_path = self.directory / "dnsmasq.conf"
        self.dnsmasq = None
        self.servfail = None

    def start(self) -> "TestDNS":
        h = self.h
        records = parse_zone(self.zone_file.read_text(), str(self.zone_file))
        self.config_path.write_text(render_dnsmasq(records))
        if self.servfail is None or not self.servfail.alive():
            self.servfail = ScriptedServer.daemon(self.directory / "servfail.log",
                                                  SERVFAIL_PORT, ["--default", "servfail"])
        argv = dnsmasq_argv(self.config_path, self.port)
        if self.port == 53 and self.sandbox is not None:
            self.dnsmasq = self.sandbox.start_dns(argv, self.log_path)
        else:
            self.dnsmasq = h.Daemon(argv, self.log_path).start()
            wait_for_udp(self.port, self.dnsmasq)
        problems = check_served(records, ("127.0.0.1", self.port))
        if problems:
            raise h.HarnessError("the test DNS does not serve corpus/test-zone as written:\n  "
                                 + "\n  ".join(problems))
        return self

    def stop(self) -> None:
        """Stops dnsmasq; the scripted server stays (start() brings dnsmasq back)."""
        if self.dnsmasq is not None:
            self.dnsmasq.kill()
            self.dnsmasq = None

    def mark(self) -> int:
        return self.h.LogFile(self.log_path).mark()

    def queries(self, since: int = 0) -> list[tuple[str, str]]:
        """(name, type) of every query dnsmasq received after `since` (log-queries lines),
        once the log has been quiet for a moment (dnsmasq writes it asynchronously)."""
        log = self.h.LogFile(self.log_path)
        log.settle(quiet=0.2, timeout=5)
        text = log.read(since)
        return [(m.group(2), m.group(1)) for m in _QUERY_LINE.finditer(text)]

    def count(self, name: str, rtype: str, since: int = 0) -> int:
        """How many queries for `name` (case-insensitive) of type `rtype` dnsmasq received."""
        return sum(1 for n, t in self.queries(since)
                   if n.lower() == name.lower() and t == rtype)


def dnsmasq_argv(zone_file: Path, port: int) -> list[str]:
    """dnsmasq in the foreground on 127.0.0.1:`port`, logging every query to stderr (the
    Daemon's log), with `zone_file` and nothing else: no /etc/hosts, no resolv.conf, no
    upstream except the scripted servers the zone names, no DHCP, no pid file."""
    return [DNSMASQ, "--keep-in-foreground", "--log-facility=-", "--log-queries",
            f"--conf-file={zone_file}", "--pid-file=", "--user=root", "--group=root",
            "--listen-address=127.0.0.1", "--bind-interfaces", f"--port={port}"]


def wait_for_udp(port: int, daemon, timeout: float = 10) -> None:
    """Waits until something has bound 127.0.0.1:`port`/udp (`daemon` must stay alive)."""
    import harness as h

    def bound() -> bool:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        finally:
            probe.close()
        if not daemon.alive():
            raise h.HarnessError(f"{daemon.argv[0]} exited early: {daemon.log()}")
        return False

    h.wait_until(bound, timeout, what=f"a DNS server on 127.0.0.1:{port}")


# --------------------------------------------------------------------------------------------
# The scripted server
# --------------------------------------------------------------------------------------------

class ScriptedServer:
    """What `testdns.py serve` runs: asyncio UDP and TCP listeners on 127.0.0.1:`port`."""

    def __init__(self, port: int, rules: dict[str, str], default: str, delay: float,
                 ttl: int):
        self.port = port
        self.rules = {suffix.lower().rstrip("."): action for suffix, action in rules.items()}
        self.default = default
        self.delay = delay
        self.ttl = ttl
        self.pool = concurrent.futures.ThreadPoolExecutor(64)
        for action in [default, *rules.values()]:
            parse_action(action)        # fail at start, not at the first query

    @staticmethod
    def daemon(log_path: Path, port: int, arguments: list[str]):
        """Starts `testdns.py serve --port PORT ARGUMENTS` as a harness Daemon and waits until
        it listens."""
        import harness as h
        daemon = h.Daemon([sys.executable, str(Path(__file__).resolve()), "serve",
                           "--port", str(port), *arguments], log_path).start()
        h.wait_until(lambda: "listening" in daemon.log() or not daemon.alive(), 10,
                     what=f"the scripted DNS server on port {port}")
        if not daemon.alive():
            raise h.HarnessError(f"the scripted DNS server exited: {daemon.log()}")
        return daemon

    def action_for(self, name: str) -> str:
        name = name.lower().rstrip(".")
        best = None
        for suffix in self.rules:
            if name == suffix or name.endswith("." + suffix):
                if best is None or len(suffix) > len(best):
                    best = suffix
        return self.rules[best] if best is not None else self.default

    async def answer(self, packet: bytes) -> bytes | None:
        """The reply to one query (None: stay silent), after the configured delay."""
        try:
            name, offset = decode_name(packet, 12)
            qtype = struct.unpack("!H", packet[offset:offset + 2])[0]
        except (IndexError, ValueError, struct.error):
            return None
        print(f"query {name} {TYPE_NAMES.get(qtype, qtype)}", flush=True)
        kind, argument = parse_action(self.action_for(name))
        if kind == "forward":
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self.pool, forward, packet, argument)
        elif kind == "a":
            answers = []
            if qtype == 1:
                answers = [encode_name(name) + struct.pack("!HHIH", 1, 1, self.ttl, 4)
                           + ipaddress.IPv4Address(argument).packed]
            reply = build_reply(packet, 0, answers)
        elif kind == "silent":
            reply = None
        else:
            reply = build_reply(packet, {"servfail": 2, "nxdomain": 3, "refused": 5}[kind])
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        return reply

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        server = self

        class UDP(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, address):
                async def respond():
                    reply = await server.answer(data)
                    if reply is not None:
                        self.transport.sendto(reply, address)
                loop.create_task(respond())

        async def tcp_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
            try:
                while True:
                    length = struct.unpack("!H", await reader.readexactly(2))[0]
                    reply = await server.answer(await reader.readexactly(length))
                    if reply is None:
                        await reader.read()     # silent: hold the connection until closed
                        return
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        await loop.create_datagram_endpoint(UDP, local_addr=("127.0.0.1", self.port))
        tcp = await asyncio.start_server(tcp_client, "127.0.0.1", self.port, reuse_address=True)
        print(f"listening on 127.0.0.1:{self.port} (udp, tcp)", flush=True)
        async with tcp:
            await tcp.serve_forever()


def parse_action(action: str) -> tuple[str, object]:
    kind, _, argument = action.partition(":")
    if kind in ("servfail", "refused", "nxdomain", "silent") and not argument:
        return kind, None
    if kind == "a":
        ipaddress.IPv4Address(argument)
        return kind, argument
    if kind == "forward":
        host, _, port = argument.rpartition(":")
        return kind, (host, int(port))
    raise ValueError(f"unknown action {action!r}")


def forward(packet: bytes, upstream: tuple[str, int], timeout: float = 5) -> bytes | None:
    """Asks `upstream` the same question (UDP) and returns its reply, None on timeout."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, upstream)
        try:
            while True:
                reply, _ = sock.recvfrom(65535)
                if reply[:2] == packet[:2]:
                    return reply
        except socket.timeout:
            return None


def main() -> int:
    parser = argparse.ArgumentParser(description="test DNS: scripted server and query tool")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the scripted DNS server")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--rule", action="append", default=[], metavar="SUFFIX=ACTION")
    serve.add_argument("--default", default="nxdomain", metavar="ACTION")
    serve.add_argument("--delay-ms", type=float, default=0)
    serve.add_argument("--ttl", type=int, default=300, help="TTL of a:ADDRESS answers")
    ask = commands.add_parser("query", help="ask one question and print the answer")
    ask.add_argument("name")
    ask.add_argument("type", choices=sorted(TYPES))
    ask.add_argument("--server", default="127.0.0.1:53")
    commands.add_parser("render", help="print the dnsmasq configuration of corpus/test-zone")
    args = parser.parse_args()

    if args.command == "render":
        print(render_dnsmasq(parse_zone(ZONE_FILE.read_text(), str(ZONE_FILE))), end="")
        return 0

    if args.command == "query":
        host, _, port = args.server.rpartition(":")
        reply = query(args.name, args.type, (host, int(port)))
        print(f"{reply.rcode}, {len(reply.answers)} answer(s)")
        for record in reply.answers:
            print(f"  {record}")
        return 0
    rules = dict(rule.split("=", 1) for rule in args.rule)
    server = ScriptedServer(args.port, rules, args.default, args.delay_ms / 1000, args.ttl)
    try:
        asyncio.run(server.serve())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
