"""End-to-end test harness for heloguard: a sealed loopback-only sandbox, private Postfix
instances, the heloguard milter process and a raw SMTP client. Python 3 standard library only.

Typical use (a runner script next to this file)::

    import harness as h

    def main():
        sandbox = h.enter_sandbox()          # re-executes this script inside the sandbox
        binary = h.heloguard_binary(sys.argv[1:])
        with h.TempDir("parity") as tmp:
            pf = h.PrivatePostfix(tmp.path / "postfix")
            pf.configure(["smtpd_helo_restrictions = reject_non_fqdn_helo_hostname"])
            pf.start()
            exchanges = h.run_session(pf.address, ["EHLO foo", "MAIL FROM:<a@example.org>",
                                                   "RCPT TO:<b@example.com>", "QUIT"])
            print(exchanges[3].reply.text)   # 504 5.5.2 <foo>: Helo command rejected: ...

API (kept stable; new things are only ever added):

* ``enter_sandbox(hostname=..., extra_hosts=()) -> Sandbox`` -- must be the first thing a runner
  does. Outside the sandbox it re-executes ``sys.argv`` under ``unshare --net --mount --uts
  --fork`` and never returns; inside it brings ``lo`` up, makes mounts private, bind-mounts a
  private resolv.conf (``nameserver 127.0.0.1``), hosts and nsswitch.conf over /etc's, sets
  the host name, and checks that only the loopback interface exists. ``Sandbox.start_dns()``
  is the hook for a DNS server on 127.0.0.1:53 (nothing listens there by default, so every
  lookup fails at once); testdns.py beside this file puts the test zone there.
* ``TempDir(label)`` -- a temporary directory (``.path``), removed at exit unless
  ``HELOGUARD_E2E_KEEP=1``; readable by Postfix's unprivileged user.
* ``PrivatePostfix(directory, port=None, ...)`` -- a private Postfix instance: ``configure()``,
  ``start()``, ``reload()``, ``stop()``, ``postmap()``, ``maillog()``, ``log_mark()``,
  ``wait_for_log()``. Always stopped at exit.
* ``Heloguard(binary, config, socket, stderr_path)`` -- ``heloguard run --foreground``
  (socket mode 666 unless told otherwise, so that Postfix's smtpd can connect):
  ``start()`` (waits until the socket accepts), ``reload()`` (SIGUSR1),
  ``reload_and_wait()`` (SIGUSR1, returns heloguard's log line about it), ``terminate()``
  (SIGTERM, returns the exit code), ``kill()``, ``alive()``, ``log()``, ``wait_for_log()``.
  Always killed at exit.
* ``Daemon(argv, stderr_path)`` -- any other helper process, tracked and killed at exit.
* ``LogFile(path)`` -- a log being written: ``mark()``, ``read(since)``, ``wait_for()``,
  ``settle()`` (what Daemon's and PrivatePostfix's log methods use).
* ``SMTPClient(address, source=None, timeout=10)`` and ``run_session(address, commands,
  source=None, timeout=10) -> [Exchange]`` -- a raw-socket SMTP client that records every
  reply exactly (multi-line replies included). A command is ``str``/``bytes`` (one line, CRLF
  added), ``Message(text)`` (the message after ``DATA``'s 354), or ``Pause(seconds)``.
* ``heloguard_binary(argv)`` -- the binary named by ``argv[0]`` or ``$HELOGUARD_BINARY``.
* ``write_file(path, text)`` -- writes a config or table file dated 10 s back (Postfix waits
  ~2 s before it reads a file modified just now).
* ``run_main(main)`` -- ``sys.exit(main())``, a HarnessError exiting 2 with its message.
* ``Checks()`` -- named pass/fail checks of a runner: ``check(name, ok, detail)`` prints one
  line each (the detail only on failure), ``failed`` lists the names that failed.
* ``is_socket(path)`` -- whether a path is a socket.
* ``cleanup()`` -- stop everything started so far (also registered with atexit and run on
  SIGTERM/SIGINT/SIGHUP).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

__all__ = [
    "DEFAULT_HOSTNAME", "HarnessError", "Sandbox", "enter_sandbox", "in_sandbox", "TempDir",
    "PrivatePostfix", "Heloguard", "Daemon", "Reply", "Exchange", "Message", "Pause",
    "SMTPClient", "run_session", "heloguard_binary", "write_file", "wait_until", "cleanup",
    "LogFile", "run_main", "is_socket", "Checks",
]

DEFAULT_HOSTNAME = "mx.e2e.test"
_SANDBOX_ENV = "HELOGUARD_E2E_SANDBOX"
_KEEP_ENV = "HELOGUARD_E2E_KEEP"


class HarnessError(Exception):
    """Something the harness itself could not do (start Postfix, reach a socket, ...)."""


# --------------------------------------------------------------------------------------------
# Cleanup: everything started is stopped at exit, in reverse order, also on failure.
# --------------------------------------------------------------------------------------------

_cleanups: list[Callable[[], None]] = []
_cleanup_lock = threading.Lock()


def _register_cleanup(action: Callable[[], None]) -> Callable[[], None]:
    with _cleanup_lock:
        _cleanups.append(action)
    return action


def _unregister_cleanup(action: Callable[[], None]) -> None:
    with _cleanup_lock:
        if action in _cleanups:
            _cleanups.remove(action)


def cleanup() -> None:
    """Stops every process and removes every temporary directory registered so far (last first).
    Safe to call more than once."""
    while True:
        with _cleanup_lock:
            if not _cleanups:
                return
            action = _cleanups.pop()
        try:
            action()
        except Exception as error:  # cleanup must go on
            print(f"harness: cleanup: {error}", file=sys.stderr)


def _exit_on_signal(signum, _frame):
    # Turn the first signal into SystemExit so that finally blocks and atexit run; ignore
    # further ones (Ctrl-C reaches unshare too, which then signals us again) so that they do
    # not interrupt the cleanup.
    for other in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(other, signal.SIG_IGN)
    raise SystemExit(128 + signum)


atexit.register(cleanup)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    try:
        signal.signal(_sig, _exit_on_signal)
    except ValueError:  # not the main thread
        pass


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.02,
               what: str = "condition") -> object:
    """Calls predicate until it returns something true or `timeout` seconds have passed;
    returns that value, or raises HarnessError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def _run(argv: Sequence[str], timeout: float = 60, check: bool = True,
         env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as error:
        raise HarnessError(f"{' '.join(argv)}: no exit within {timeout:g} s") from error
    if check and result.returncode != 0:
        raise HarnessError(f"{' '.join(argv)} exited {result.returncode}:\n"
                           f"{result.stdout}{result.stderr}")
    return result


# --------------------------------------------------------------------------------------------
# Sandbox
# --------------------------------------------------------------------------------------------

_NSSWITCH = """\
# private nsswitch.conf of the heloguard end-to-end sandbox
passwd:         files
group:          files
shadow:         files
gshadow:        files
hosts:          files dns
networks:       files
protocols:      files
services:       files
ethers:         files
rpc:            files
"""


@dataclass
class Sandbox:
    """The sandbox this process runs in (returned by enter_sandbox())."""
    hostname: str
    etc_dir: Path               # where the private resolv.conf, hosts, nsswitch.conf live
    dns: "Daemon | None" = None

    def start_dns(self, argv: Sequence[str], log_path: Path, port: int = 53,
                  timeout: float = 10) -> "Daemon":
        """Hook for a DNS server (e.g. dnsmasq from dnsmasq-base) answering on 127.0.0.1:`port`
        (53 is what the private resolv.conf names). Starts `argv`, waits until the UDP port is
        bound, and returns the Daemon (stopped at exit)."""
        daemon = Daemon(argv, log_path).start()

        def bound() -> bool:
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return True     # someone has it
            finally:
                probe.close()
            if not daemon.alive():
                raise HarnessError(f"DNS server exited early: {daemon.log()}")
            return False

        wait_until(bound, timeout, what=f"a DNS server on 127.0.0.1:{port}")
        self.dns = daemon
        return daemon


def in_sandbox() -> bool:
    """True when this process runs inside the sandbox enter_sandbox() sets up."""
    return os.environ.get(_SANDBOX_ENV) == "1"


def enter_sandbox(hostname: str = DEFAULT_HOSTNAME,
                  extra_hosts: Iterable[str] = ()) -> Sandbox:
    """Outside the sandbox: re-executes this script (sys.argv) inside
    `unshare --net --mount --uts --fork` and exits with its status (never returns).
    Inside: finishes setting the sandbox up and returns it.

    The private /etc/hosts maps `hostname` (and its first label) to 127.0.1.1 and holds
    `extra_hosts` lines; 127.0.0.1 is deliberately not named, so Postfix shows local clients
    as unknown[127.0.0.x]. Requires root."""
    if not in_sandbox():
        if os.geteuid() != 0:
            raise SystemExit("harness: the end-to-end sandbox needs root (unshare, mount)")
        unshare = shutil.which("unshare")
        if unshare is None:
            raise SystemExit("harness: unshare not found (package util-linux)")
        sys.stdout.flush()
        sys.stderr.flush()
        env = dict(os.environ, **{_SANDBOX_ENV: "1"})
        script = os.path.abspath(sys.argv[0])
        # --kill-child=SIGTERM: if unshare is killed, this script still gets to stop Postfix
        # (whose daemons would otherwise outlive the sandbox).
        os.execve(unshare, [unshare, "--net", "--mount", "--uts", "--fork",
                            "--kill-child=SIGTERM", "--", sys.executable, script,
                            *sys.argv[1:]], env)
    return _set_sandbox_up(hostname, list(extra_hosts))


def _set_sandbox_up(hostname: str, extra_hosts: list[str]) -> Sandbox:
    _run(["ip", "link", "set", "lo", "up"])
    _run(["mount", "--make-rprivate", "/"])
    links = _run(["ip", "-o", "link", "show"]).stdout.splitlines()
    names = [line.split(":")[1].strip().split("@")[0] for line in links if ":" in line]
    if names != ["lo"]:
        raise HarnessError(f"sandbox: expected only the loopback interface, found {names}")

    etc = TempDir("etc").path
    short = hostname.split(".")[0]
    files = {
        "resolv.conf": "# heloguard end-to-end sandbox: loopback only\n"
                       "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        "hosts": "\n".join([f"127.0.1.1 {hostname} {short}", *extra_hosts]) + "\n",
        "nsswitch.conf": _NSSWITCH,
    }
    for name, text in files.items():
        (etc / name).write_text(text)
        (etc / name).chmod(0o644)
        _run(["mount", "--bind", str(etc / name), f"/etc/{name}"])
    Path("/proc/sys/kernel/hostname").write_text(hostname)
    if socket.gethostname() != hostname:
        raise HarnessError(f"sandbox: could not set the host name to {hostname}")
    if Path("/etc/resolv.conf").read_text() != files["resolv.conf"]:
        raise HarnessError("sandbox: /etc/resolv.conf is not the private one")
    return Sandbox(hostname=hostname, etc_dir=etc)


# --------------------------------------------------------------------------------------------
# Temporary directories
# --------------------------------------------------------------------------------------------

class TempDir:
    """A temporary directory, mode 0755 (Postfix's unprivileged user must traverse it),
    removed at exit unless HELOGUARD_E2E_KEEP=1 (then its path is printed)."""

    def __init__(self, label: str = "tmp"):
        self.path = Path(tempfile.mkdtemp(prefix=f"heloguard-e2e-{label}."))
        self.path.chmod(0o755)
        self._cleanup = _register_cleanup(self.remove)

    def remove(self) -> None:
        _unregister_cleanup(self._cleanup)
        if os.environ.get(_KEEP_ENV) == "1":
            print(f"harness: kept {self.path}", file=sys.stderr)
        else:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "TempDir":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


# --------------------------------------------------------------------------------------------
# Log files
# --------------------------------------------------------------------------------------------

class LogFile:
    """A log file that is still being written: read it from an offset (a `mark()` taken
    earlier), wait for a line, wait until it stops growing. A missing file reads as empty."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def mark(self) -> int:
        """The current size; pass it as `since` to read only what comes later."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def read(self, since: int = 0) -> str:
        try:
            with open(self.path, "rb") as f:
                f.seek(since)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern: str, timeout: float = 10, since: int = 0) -> re.Match:
        """Waits until the text after offset `since` matches the regular expression `pattern`
        (multi-line mode: ^ and $ match at each line); returns the match."""
        regex = re.compile(pattern, re.M)
        return wait_until(lambda: regex.search(self.read(since)), timeout,
                          what=f"{pattern!r} in {self.path}")

    def settle(self, quiet: float = 0.3, timeout: float = 10) -> None:
        """Waits until the file has not grown for `quiet` seconds (at most `timeout`)."""
        deadline = time.monotonic() + timeout
        size, since = self.mark(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.mark()
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return


# --------------------------------------------------------------------------------------------
# Helper processes
# --------------------------------------------------------------------------------------------

class Daemon:
    """A long-running helper process with stdout+stderr captured to `log_path`; killed at exit."""

    def __init__(self, argv: Sequence[str], log_path: Path, env: dict | None = None):
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.env = env
        self.process: subprocess.Popen | None = None
        self._cleanup: Callable[[], None] | None = None

    def start(self) -> "Daemon":
        if self.alive():
            raise HarnessError(f"{self.argv[0]} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=self.env,
                                            start_new_session=True)
        if self._cleanup is None:
            self._cleanup = _register_cleanup(self.kill)
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if not self.alive():
            raise HarnessError(f"{self.argv[0]} is not running (exit code {self.exit_code()})")
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """Waits up to `timeout` seconds for the exit; returns the exit code (negative: killed by
        that signal) or None if it is still running."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self, timeout: float = 10) -> int | None:
        """SIGTERM, then waits up to `timeout` s. Returns the exit code, or None if it did not
        exit in time (it is then still running: call kill())."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        """Kills the process (and its process group) if it still runs, and reaps it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=10)
        if self._cleanup is not None:
            _unregister_cleanup(self._cleanup)
            self._cleanup = None

    def log(self) -> str:
        return LogFile(self.log_path).read()

    def log_mark(self) -> int:
        """The current size of the log; pass it as `since` to read only what comes later."""
        return LogFile(self.log_path).mark()

    def log_since(self, mark: int) -> str:
        return LogFile(self.log_path).read(mark)

    def wait_for_log(self, pattern: str, timeout: float = 10, since: int = 0) -> re.Match:
        """Waits until a line of the log (after offset `since`) matches the regular expression
        `pattern`; returns the match."""
        return LogFile(self.log_path).wait_for(pattern, timeout, since)


def _socket_accepts(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


class Heloguard(Daemon):
    """`heloguard run --foreground --config CONFIG --socket unix:SOCKET`, stderr to
    `log_path`. `extra_args` are appended to the command line."""

    def __init__(self, binary: str | Path, config: Path, socket_path: Path, log_path: Path,
                 extra_args: Sequence[str] = (), socket_mode: str | None = "666"):
        self.binary = Path(binary)
        self.config = Path(config)
        self.socket_path = Path(socket_path)
        # Postfix's smtpd runs as the unprivileged `postfix` user: it needs write access to
        # the socket that heloguard, running as root here, creates.
        mode = ["--socket-mode", socket_mode] if socket_mode else []
        super().__init__([str(self.binary), "run", "--foreground", "--config", str(self.config),
                          "--socket", f"unix:{self.socket_path}", *mode, *extra_args], log_path)

    @property
    def milter_spec(self) -> str:
        """What Postfix's smtpd_milters needs to reach this milter."""
        return f"unix:{self.socket_path}"

    def pin_state_directory(self) -> None:
        """Keeps heloguard's state (penalty box, HELO log) beside its config, never in the
        system's default directory: appends `state_directory` unless the config sets it."""
        text = self.config.read_text()
        if not re.search(r"^state_directory\s*=", text, re.M):
            if text and not text.endswith("\n"):
                text += "\n"
            self.config.write_text(text + f"state_directory = {self.config.parent / 'heloguard-state'}\n")

    def start(self, timeout: float = 15) -> "Heloguard":
        """Starts heloguard and waits until its socket accepts connections."""
        self.pin_state_directory()
        super().start()

        def ready() -> bool:
            if not self.alive():
                raise HarnessError(f"heloguard exited with {self.exit_code()} before its socket "
                                   f"accepted connections:\n{self.log()}")
            return _socket_accepts(self.socket_path)

        wait_until(ready, timeout, what=f"heloguard's socket {self.socket_path}")
        return self

    def reload(self) -> None:
        """Asks heloguard to reload its configuration and tables (SIGUSR1)."""
        self.pin_state_directory()
        self.signal(signal.SIGUSR1)

    def reload_and_wait(self, timeout: float = 10) -> str:
        """SIGUSR1, then waits for heloguard's log line about that reload (success and
        refusal lines both contain `reload`) and returns it."""
        mark = self.log_mark()
        self.reload()
        return self.wait_for_log(r"^.*reload.*$", timeout=timeout, since=mark).group(0)


# --------------------------------------------------------------------------------------------
# Private Postfix
# --------------------------------------------------------------------------------------------

# Services of the private instance: all unchrooted; smtpd on the loopback port is added
# by PrivatePostfix. Columns: service type private unpriv chroot wakeup maxproc command.
_MASTER_SERVICES = """\
pickup     unix  n  -  n  60    1  pickup
cleanup    unix  n  -  n  -     0  cleanup
qmgr       unix  n  -  n  300   1  qmgr
rewrite    unix  -  -  n  -     -  trivial-rewrite
bounce     unix  -  -  n  -     0  bounce
defer      unix  -  -  n  -     0  bounce
trace      unix  -  -  n  -     0  bounce
verify     unix  -  -  n  -     1  verify
flush      unix  n  -  n  1000? 0  flush
proxymap   unix  -  -  n  -     -  proxymap
proxywrite unix  -  -  n  -     1  proxymap
smtp       unix  -  -  n  -     -  smtp
relay      unix  -  -  n  -     -  smtp
showq      unix  n  -  n  -     -  showq
error      unix  -  -  n  -     -  error
retry      unix  -  -  n  -     -  error
discard    unix  -  -  n  -     -  discard
local      unix  -  n  n  -     -  local
virtual    unix  -  n  n  -     -  virtual
lmtp       unix  -  -  n  -     -  lmtp
anvil      unix  -  -  n  -     1  anvil
scache     unix  -  -  n  -     1  scache
postlog    unix-dgram n - n -   1  postlogd
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _main_cf_names(lines: Iterable[str]) -> list[str]:
    """The parameter names that main.cf-syntax `lines` define (continuations and comments
    skipped)."""
    names = []
    for line in lines:
        for physical in line.splitlines():
            if not physical.strip() or physical.lstrip().startswith("#") or physical[0].isspace():
                continue
            name = physical.split("=", 1)[0].strip()
            if name:
                names.append(name)
    return names


class PrivatePostfix:
    """A private Postfix instance under `directory` (config in `directory`/etc, queue in
    `directory`/queue, data in `directory`/data, log in `directory`/maillog), smtpd listening on
    127.0.0.1:`port` (a free port when None).

    The base main.cf accepts mail for `mydestination` (`$myhostname, localhost, example.com`,
    any local part), delivers everything to `discard:`, answers without delays or error
    sleeps, allows XCLIENT from 127.0.0.0/8, and enables SASL (Cyrus, nothing to log in with)
    so that `XCLIENT LOGIN=user` authenticates a session. `configure()` adds main.cf lines that
    override the base parameters of the same name.

    `smtpd_maxproc`: smtpd process limit (concurrent sessions). `fresh_smtpd=True` gives each
    smtpd process one session only (`max_use = 1`), so a changed main.cf applies to the very
    next session, without a reload."""

    def __init__(self, directory: Path, port: int | None = None, hostname: str | None = None,
                 smtpd_maxproc: int = 100, fresh_smtpd: bool = False,
                 command_timeout: float = 60):
        self.directory = Path(directory)
        self.config_dir = self.directory / "etc"
        self.queue_dir = self.directory / "queue"
        self.data_dir = self.directory / "data"
        self.maillog_path = self.directory / "maillog"
        self.port = port or _free_port()
        self.hostname = hostname or socket.gethostname()
        self.smtpd_maxproc = smtpd_maxproc
        self.fresh_smtpd = fresh_smtpd
        self.command_timeout = command_timeout
        self.extra_lines: list[str] = []
        self.milters = ""
        self.milter_default_action = "tempfail"
        self.milter_protocol = "6"
        self._running = False
        self._cleanup: Callable[[], None] | None = None
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)
        self.config_dir.mkdir(exist_ok=True)
        self._write_master_cf()
        self._write_main_cf()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) of the SMTP listener."""
        return ("127.0.0.1", self.port)

    # -- configuration -----------------------------------------------------------------------

    def base_parameters(self) -> dict[str, str]:
        """The base main.cf parameters (before configure()'s lines)."""
        domain = self.hostname.split(".", 1)[1] if "." in self.hostname else "e2e.test"
        return {
            "compatibility_level": "3.6",
            "config_directory": str(self.config_dir),
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": self.hostname,
            "mydomain": domain,
            "myorigin": "$myhostname",
            "mydestination": "$myhostname, localhost, example.com",
            "local_recipient_maps": "",
            "local_transport": "discard:",
            "default_transport": "discard:",
            "relay_transport": "discard:",
            "alias_maps": "",
            "alias_database": "",
            # master.cf binds smtpd to 127.0.0.1; "all" (the default) only makes Postfix's own
            # addresses (mynetworks_style = host) every address of the sandbox: 127.0.0.1, ::1.
            "inet_interfaces": "all",
            "inet_protocols": "all",
            "maillog_file": str(self.maillog_path),
            "maillog_file_prefixes": str(self.directory),
            "in_flow_delay": "0",
            "smtpd_error_sleep_time": "0",
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
            "smtpd_junk_command_limit": "1000",
            "smtpd_recipient_limit": "1000",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_authorized_xclient_hosts": "127.0.0.0/8",
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_milters": self.milters,
            "milter_default_action": self.milter_default_action,
            "milter_protocol": self.milter_protocol,
            "biff": "no",
            "append_dot_mydomain": "no",
            "readme_directory": "no",
            "smtpd_timeout": "30s",
        }

    def configure(self, lines: Iterable[str] = (), milters: str | None = None,
                  milter_default_action: str | None = None,
                  milter_protocol: str | None = None) -> None:
        """Sets the extra main.cf lines (main.cf syntax, continuation lines allowed; a parameter
        named here replaces the base one) and the milter settings (`milters`: the value of
        smtpd_milters, "" for none). Rewrites main.cf; a running instance needs reload() (or
        fresh_smtpd) to see it."""
        self.extra_lines = list(lines)
        if milters is not None:
            self.milters = milters
        if milter_default_action is not None:
            self.milter_default_action = milter_default_action
        if milter_protocol is not None:
            self.milter_protocol = milter_protocol
        self._write_main_cf()

    def _write_main_cf(self) -> None:
        overridden = set(_main_cf_names(self.extra_lines))
        text = ["# private Postfix instance of the heloguard end-to-end tests"]
        text += [f"{k} = {v}" for k, v in self.base_parameters().items() if k not in overridden]
        text += ["", "# test configuration"]
        text += [line.rstrip("\n") for line in self.extra_lines]
        write_file(self.config_dir / "main.cf", "\n".join(text) + "\n")

    def _write_master_cf(self) -> None:
        options = " -o max_use=1" if self.fresh_smtpd else ""
        smtpd = f"127.0.0.1:{self.port} inet n - n - {self.smtpd_maxproc} smtpd{options}\n"
        write_file(self.config_dir / "master.cf",
                   "# private Postfix instance of the heloguard end-to-end tests\n" + smtpd
                   + _MASTER_SERVICES)

    def postconf(self, *args: str) -> str:
        return _run(["postconf", "-c", str(self.config_dir), *args]).stdout

    def postmap(self, path: Path, table_type: str = "hash") -> None:
        """Builds the indexed file of a table source (`postmap -c DIR type:path`)."""
        _run(["postmap", "-c", str(self.config_dir), f"{table_type}:{path}"])

    # -- life cycle ----------------------------------------------------------------------------

    def _postfix(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        return _run(["postfix", "-c", str(self.config_dir), command],
                    timeout=self.command_timeout, check=check)

    def master_pid(self) -> int | None:
        try:
            pid = int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def _listening(self) -> bool:
        try:
            with socket.create_connection(self.address, timeout=1) as probe:
                probe.settimeout(5)
                return probe.recv(512).startswith(b"220")
        except OSError:
            return False

    def start(self, timeout: float = 30) -> "PrivatePostfix":
        """`postfix -c DIR start`, then waits until smtpd answers with a 220 banner."""
        if self._cleanup is None:
            self._cleanup = _register_cleanup(self.stop)
        self._write_main_cf()
        self.queue_dir.mkdir(mode=0o755, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(self.data_dir, "postfix", "postfix")
        self._postfix("check")      # creates the queue's subdirectories with their owners
        self._postfix("start")
        self._running = True
        wait_until(self._listening, timeout, interval=0.05,
                   what=f"Postfix's smtpd on 127.0.0.1:{self.port}")
        return self

    def reload(self, settle: float = 0.5) -> None:
        """`postfix -c DIR reload`; then waits until a new session is served by the new
        configuration. Postfix gives no completion signal, so this waits `settle` seconds
        (idle smtpd processes end at their next wake-up) and checks smtpd answers."""
        self._write_main_cf()
        mark = self.log_mark()
        self._postfix("reload")
        self.wait_for_log(r"reload -- version", timeout=10, since=mark)
        time.sleep(settle)
        wait_until(self._listening, 10, what="smtpd after reload")

    def stop(self, timeout: float = 20) -> None:
        """`postfix -c DIR stop`, waits for the master to exit; kills it after `timeout`."""
        if self._cleanup is not None:
            _unregister_cleanup(self._cleanup)
            self._cleanup = None
        pid = self.master_pid()
        if pid is None:
            self._running = False
            return
        self._postfix("stop", check=False)
        try:
            wait_until(lambda: self.master_pid() is None, timeout, interval=0.05,
                       what="Postfix's master to exit")
        except HarnessError:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._running = False

    def __enter__(self) -> "PrivatePostfix":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- log -------------------------------------------------------------------------------------

    def maillog(self, since: int = 0) -> str:
        return LogFile(self.maillog_path).read(since)

    def log_mark(self) -> int:
        """The current size of the maillog; pass it as `since` to read only later lines."""
        return LogFile(self.maillog_path).mark()

    def wait_for_log(self, pattern: str, timeout: float = 10, since: int = 0) -> re.Match:
        """Waits until the maillog (after offset `since`) matches the regular expression."""
        return LogFile(self.maillog_path).wait_for(pattern, timeout, since)

    def settle_log(self, quiet: float = 0.3, timeout: float = 10) -> None:
        """Waits until the maillog has not grown for `quiet` seconds (postlogd writes
        asynchronously), so that a following maillog() sees the lines of finished sessions."""
        LogFile(self.maillog_path).settle(quiet, timeout)


# --------------------------------------------------------------------------------------------
# SMTP client
# --------------------------------------------------------------------------------------------

@dataclass
class Reply:
    """One SMTP reply: its lines without CRLF (`lines`), the code of the last line (`code`,
    None when the connection closed or timed out instead), and `text`, the lines joined by
    newlines -- exactly what the server sent, byte for byte (decoded as UTF-8, undecodable
    bytes as surrogate escapes)."""
    lines: list[str]
    code: int | None
    error: str | None = None     # "connection closed", "timeout", ...

    @property
    def text(self) -> str:
        if self.error is not None:
            return "<" + self.error + ">" + ("\n" + "\n".join(self.lines) if self.lines else "")
        return "\n".join(self.lines)

    def __str__(self) -> str:
        return self.text


@dataclass
class Message:
    """The message to send after DATA's 354 reply: dot-stuffed, lines end in CRLF, then
    `.` CRLF."""
    text: str = "Subject: heloguard end-to-end test\r\n\r\ntest\r\n"


@dataclass
class Pause:
    """Waits `seconds` before the next command (no reply)."""
    seconds: float


@dataclass
class Exchange:
    command: str | bytes | Message | Pause   # "<banner>" for the greeting
    reply: Reply | None

    def command_text(self) -> str:
        if isinstance(self.command, bytes):
            return self.command.decode("utf-8", "backslashreplace")
        if isinstance(self.command, Message):
            return "<message>"
        if isinstance(self.command, Pause):
            return f"<pause {self.command.seconds:g} s>"
        return self.command


class SMTPClient:
    """A raw-socket SMTP client: every reply is read line by line until its last line
    (`NNN ` rather than `NNN-`), with a deadline for each reply. `source` binds the client
    side to that local address first (any 127.x.y.z works on loopback)."""

    def __init__(self, address: tuple[str, int], source: str | None = None,
                 timeout: float = 10):
        self.address = address
        self.source = source
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._buffer = b""
        self.closed = False

    def connect(self) -> Reply:
        """Connects and returns the banner."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        if self.source:
            self.sock.bind((self.source, 0))
        self.sock.connect(self.address)
        return self.read_reply()

    def read_reply(self) -> Reply:
        lines: list[str] = []
        deadline = time.monotonic() + self.timeout
        while True:
            line = self._read_line(deadline)
            if line is None:
                return Reply(lines, None, "connection closed" if self.closed else "timeout")
            text = line.decode("utf-8", "surrogateescape")
            lines.append(text)
            if len(line) < 4 or line[3:4] != b"-":
                code = int(text[:3]) if text[:3].isdigit() else None
                return Reply(lines, code, None if code is not None else "malformed reply")

    def _read_line(self, deadline: float) -> bytes | None:
        while b"\r\n" not in self._buffer:
            if self.closed or self.sock is None:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            except OSError:
                chunk = b""
            if not chunk:
                self.closed = True
                if self._buffer:   # a last line without CRLF
                    line, self._buffer = self._buffer, b""
                    return line
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def send_raw(self, data: bytes) -> None:
        if self.sock is None or self.closed:
            return
        try:
            self.sock.sendall(data)
        except OSError:
            self.closed = True

    def command(self, line: str | bytes) -> Reply:
        """Sends one command line (CRLF appended) and returns its reply."""
        if self.closed:
            return Reply([], None, "connection closed")
        data = line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")
        self.send_raw(data + b"\r\n")
        return self.read_reply()

    def message(self, message: Message) -> Reply:
        """Sends a message body (after a 354) and returns the reply to its final dot."""
        if self.closed:
            return Reply([], None, "connection closed")
        body = message.text.replace("\r\n", "\n").split("\n")
        if body and body[-1] == "":
            body.pop()
        stuffed = ["." + line if line.startswith(".") else line for line in body]
        self.send_raw(("\r\n".join(stuffed) + "\r\n.\r\n").encode("utf-8"))
        return self.read_reply()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self.closed = True

    def __enter__(self) -> "SMTPClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_session(address: tuple[str, int], commands: Iterable[str | bytes | Message | Pause],
                source: str | None = None, timeout: float = 10) -> list[Exchange]:
    """Connects (from `source` if given), plays `commands` and returns one Exchange per step:
    the banner first (command "<banner>"), then each command with its reply. After the server
    closed the connection, the remaining commands get a "connection closed" reply."""
    client = SMTPClient(address, source=source, timeout=timeout)
    exchanges: list[Exchange] = []
    try:
        exchanges.append(Exchange("<banner>", client.connect()))
        for command in commands:
            if isinstance(command, Pause):
                time.sleep(command.seconds)
                exchanges.append(Exchange(command, None))
            elif isinstance(command, Message):
                # Only after DATA's 354: otherwise the body would be read as commands.
                previous = exchanges[-1].reply if exchanges else None
                if previous is not None and previous.code == 354:
                    exchanges.append(Exchange(command, client.message(command)))
                else:
                    exchanges.append(Exchange(command, Reply([], None, "not sent: no 354")))
            else:
                exchanges.append(Exchange(command, client.command(command)))
    finally:
        client.close()
    return exchanges


# --------------------------------------------------------------------------------------------
# Misc
# --------------------------------------------------------------------------------------------

def write_file(path: Path, text: str | bytes, mode: int = 0o644) -> Path:
    """Writes a file for Postfix (or heloguard) to read and dates it 10 s back: Postfix does
    not read a configuration or table file modified within the last second or two (it waits,
    in case the file is still being written), which would stall every test by ~2 s."""
    path = Path(path)
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    path.chmod(mode)
    past = time.time() - 10
    os.utime(path, (past, past))
    return path


def run_main(main: Callable[[], int]) -> None:
    """Runs a runner's main() and exits with its status; a HarnessError (the harness could not
    do its part: Postfix would not start, ...) is printed and exits 2."""
    try:
        status = main()
    except HarnessError as error:
        print(f"harness error: {error}", file=sys.stderr)
        status = 2
    sys.exit(status)


class Checks:
    """Named checks with a pass/fail line each, for runners that assert rather than compare."""

    def __init__(self):
        self.results: list[tuple[str, bool]] = []

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append((name, ok))
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f"\n       {detail}" if detail and not ok
                                                       else ""), flush=True)
        return ok

    @property
    def failed(self) -> list[str]:
        return [name for name, ok in self.results if not ok]


def heloguard_binary(argv: Sequence[str]) -> Path:
    """The heloguard binary: `argv[0]` if given, else $HELOGUARD_BINARY. Exits with a usage
    message when neither names an executable file."""
    value = argv[0] if argv else os.environ.get("HELOGUARD_BINARY", "")
    if not value:
        raise SystemExit(f"usage: {os.path.basename(sys.argv[0])} HELOGUARD_BINARY "
                         "(or set HELOGUARD_BINARY)")
    path = Path(value).resolve()
    if not path.is_file() or not os.access(path, os.X_OK):
        raise SystemExit(f"not an executable file: {value}")
    return path


def is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except FileNotFoundError:
        return False
