"""A milter tap: a unix-socket relay between an MTA and a milter that counts and names the
milter packets going each way, per connection. Used by scripts/lib/milter_bench.py (packets
per session type) and scripts/e2e/postfix-accept-scope (which events Postfix sends).

A packet is a 4-byte big-endian length, then that many bytes, the first of which is the
command (MTA to milter: SMFIC_*) or reply (milter to MTA: SMFIR_*) letter. The tap relays
the bytes unchanged, as they come; it only reads the packet boundaries.

    tap = MilterTap(listen_path, upstream_path).start()
    ... Postfix's smtpd_milters = unix:<listen_path> ...
    tap.wait_for_connections(n)
    tap.connections      # [Connection(...)], in the order they closed
    tap.stop()
"""

import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

# Names of the letters, for readable transcripts.
COMMANDS = {
    "A": "ABORT", "B": "BODY", "C": "CONNECT", "D": "MACRO", "E": "BODYEOB", "H": "HELO",
    "K": "QUIT_NC", "L": "HEADER", "M": "MAIL", "N": "EOH", "O": "OPTNEG", "Q": "QUIT",
    "R": "RCPT", "T": "DATA", "U": "UNKNOWN",
}
REPLIES = {
    "+": "ADDRCPT", "-": "DELRCPT", "2": "ADDRCPT_PAR", "4": "SHUTDOWN", "a": "ACCEPT",
    "b": "REPLBODY", "c": "CONTINUE", "d": "DISCARD", "e": "CHGFROM", "f": "CONN_FAIL",
    "h": "ADDHEADER", "i": "INSHEADER", "l": "SETSYMLIST", "m": "CHGHEADER", "O": "OPTNEG",
    "p": "PROGRESS", "q": "QUARANTINE", "r": "REJECT", "s": "SKIP", "t": "TEMPFAIL",
    "y": "REPLYCODE",
}


@dataclass
class Connection:
    """One MTA connection through the tap: the packets in the order they passed, each as
    ">NAME" (MTA to milter; a macro packet as ">MACRO:X", X the command it belongs to) or
    "<NAME" (milter to MTA)."""
    packets: list[str] = field(default_factory=list)
    bytes_to_milter: int = 0
    bytes_to_mta: int = 0

    @property
    def to_milter(self) -> int:
        return sum(1 for p in self.packets if p.startswith(">"))

    @property
    def to_mta(self) -> int:
        return sum(1 for p in self.packets if p.startswith("<"))

    def events(self) -> list[str]:
        """The MTA's commands other than macro packets, in order."""
        return [p[1:] for p in self.packets if p.startswith(">") and not p.startswith(">MACRO")]


class _Direction:
    """Finds packet boundaries in one direction's byte stream."""

    def __init__(self, connection: Connection, lock: threading.Lock, prefix: str, names: dict):
        self.connection = connection
        self.lock = lock
        self.prefix = prefix
        self.names = names
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 5:
            (length,) = struct.unpack(">I", self.buffer[:4])
            if length == 0 or len(self.buffer) < 4 + length:
                break
            letter = chr(self.buffer[4])
            name = self.names.get(letter, repr(letter))
            if letter == "D" and self.prefix == ">" and length >= 2:
                inner = chr(self.buffer[5])
                name += ":" + COMMANDS.get(inner, repr(inner))
            with self.lock:
                self.connection.packets.append(self.prefix + name)
            self.buffer = self.buffer[4 + length:]


class MilterTap:
    def __init__(self, listen_path: Path, upstream_path: Path):
        self.listen_path = Path(listen_path)
        self.upstream_path = Path(upstream_path)
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = threading.Condition(self._lock)
        self._listener: socket.socket | None = None
        self._stopping = False

    def start(self) -> "MilterTap":
        if self.listen_path.exists():
            self.listen_path.unlink()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.listen_path))
        # Postfix's smtpd runs as the unprivileged `postfix` user.
        os.chmod(self.listen_path, 0o666)
        self._listener.listen(64)
        threading.Thread(target=self._accept_loop, daemon=True).start()
        return self

    @property
    def milter_spec(self) -> str:
        return f"unix:{self.listen_path}"

    def stop(self) -> None:
        self._stopping = True
        if self._listener is not None:
            self._listener.close()
        if self.listen_path.exists():
            self.listen_path.unlink()

    def take(self) -> list[Connection]:
        """The connections closed so far, forgetting them."""
        with self._lock:
            taken, self.connections = self.connections, []
        return taken

    def wait_for_connections(self, count: int, timeout: float = 10) -> list[Connection]:
        """Waits until `count` connections have closed; returns and forgets them."""
        with self._closed:
            if not self._closed.wait_for(lambda: len(self.connections) >= count, timeout):
                raise TimeoutError(f"{len(self.connections)} of {count} milter connections closed "
                                   f"within {timeout} s")
        return self.take()

    def skip_startup_probe(self, quiet: float = 0.3) -> None:
        """Forgets the milter connection a Postfix start-up probe makes (harness.PrivatePostfix
        checks that smtpd answers by reading its banner, and smtpd connects to the milter)."""
        self.wait_for_connections(1)
        time.sleep(quiet)
        self.take()

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                mta, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(mta,), daemon=True).start()

    def _relay(self, mta: socket.socket) -> None:
        connection = Connection()
        milter = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            milter.connect(str(self.upstream_path))
        except OSError:
            mta.close()
            return
        to_milter = _Direction(connection, self._lock, ">", COMMANDS)
        to_mta = _Direction(connection, self._lock, "<", REPLIES)

        def pump(source, sink, direction, attribute):
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    with self._lock:
                        setattr(connection, attribute, getattr(connection, attribute) + len(data))
                    direction.feed(data)
                    sink.sendall(data)
            except OSError:
                pass
            finally:
                # Either side closing ends the relay for both.
                for s in (source, sink):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        back = threading.Thread(target=pump, args=(milter, mta, to_mta, "bytes_to_mta"), daemon=True)
        back.start()
        pump(mta, milter, to_milter, "bytes_to_milter")
        back.join(timeout=10)
        mta.close()
        milter.close()
        with self._closed:
            self.connections.append(connection)
            self._closed.notify_all()
