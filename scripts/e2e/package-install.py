#!/usr/bin/env python3
"""The Debian package on a clean Debian 12 root with Debian's own Postfix (called by
package-install, which makes the root). Inside harness.py's loopback-only sandbox:

1. `dpkg -i` the .deb into the root (no Swift there): the user and group, postfix in group
   heloguard, the socket directory inside Postfix's queue directory, the files and conffiles.
2. Postfix: Debian's stock main.cf (/usr/share/postfix/main.cf.debian) plus exactly the
   package's /usr/share/doc/heloguard/postfix-main.cf, the stock master.cf (smtpd chrooted);
   only `maillog_file` is added, because the root has no syslog daemon.
3. heloguard started exactly as the unit's ExecStartPre=/ExecStart= say, as User=/Group=,
   chrooted into the root, with $NOTIFY_SOCKET and $WATCHDOG_USEC as systemd would set them:
   READY=1 must come.
4. SMTP sessions through that Postfix: impersonators (our host name, [our address], our bare
   address, upper case with a trailing dot) refused with heloguard's text at RCPT; postmaster,
   mynetworks and an honest stranger accepted; no milter warning in Postfix's log.
5. --load SECONDS: 500 concurrent SMTP sessions for that long; every reply as expected and no
   "connect to Milter service" warning (the figures are printed).
6. Upgrade over itself keeps an edited conffile; `dpkg -r` keeps conffiles and state, `dpkg -P`
   removes them.

    package-install.py ROOT DEB [--load SECONDS]
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

HOSTNAME = "mx.e2e.test"
# "Our" public address: put on lo inside the sandbox; clients connect to it, so Postfix's
# {daemon_addr} is this address, and heloguard's default impersonation_addresses (every
# non-loopback address of the machine) has it too.
OUR_ADDRESS = "192.0.2.25"
# Postfix's own settings that heloguard reads (impersonation_postfix_config): a domain we
# receive mail for, and the public address of a NAT in front of us.
OUR_DOMAIN = "shop.e2e.test"
NAT_ADDRESS = "198.51.100.7"
RECIPIENT = f"<root@{HOSTNAME}>"
OK = "250 2.1.5 Ok"
NOTIFY_PATH = "/run/heloguard-notify"    # inside the root


def impersonation(helo: str) -> str:
    return f"550 5.7.1 <{helo}>: Helo command rejected: Host impersonates this server"


def non_fqdn(helo: str) -> str:
    return f"504 5.5.2 <{helo}>: Helo command rejected: need fully-qualified hostname"


class Root:
    """The Debian root: commands run chrooted into it."""

    def __init__(self, path: Path):
        self.path = path

    def run(self, *argv: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(["chroot", str(self.path), *argv], capture_output=True, text=True,
                                stdin=subprocess.DEVNULL, env=env, timeout=timeout)
        if check and result.returncode != 0:
            raise h.HarnessError(f"in the root: {' '.join(argv)} exited {result.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")

    def prepare(self) -> None:
        """Name resolution pinned to the sandbox's loopback DNS; /proc for the tools."""
        h.write_file(self.file("/etc/resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        h.write_file(self.file("/etc/hosts"), f"127.0.0.1 localhost\n{OUR_ADDRESS} {HOSTNAME} mx\n")
        h.write_file(self.file("/etc/hostname"), HOSTNAME + "\n")
        h.write_file(self.file("/etc/mailname"), HOSTNAME + "\n")
        subprocess.run(["mount", "-t", "proc", "proc", str(self.file("/proc"))], check=True)
        # No service may start from a maintainer script (Debian's policy-rc.d convention).
        h.write_file(self.file("/usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", mode=0o755)


def unit_settings(unit: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


class NotifySocket:
    """systemd's side of $NOTIFY_SOCKET: a datagram socket collecting what heloguard says."""

    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if path.exists():
            path.unlink()
        self.sock.bind(str(path))
        os.chmod(path, 0o666)      # heloguard runs as its own user
        self.messages: list[str] = []

    def wait_for(self, field: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                message = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            self.messages.append(message)
            if field in message.split("\n"):
                return message
        raise h.HarnessError(f"no {field} from heloguard within {timeout:g} s; got {self.messages}")


def start_heloguard(root: Root, tmp: Path, notify: NotifySocket) -> h.Daemon:
    """ExecStartPre= then ExecStart= of the installed unit, as its User=/Group=, with the
    environment systemd gives a Type=notify service with WatchdogSec=."""
    unit = unit_settings(root.file("/lib/systemd/system/heloguard.service"))
    user, group = unit["User"][0], unit["Group"][0]
    as_user = ["chroot", str(root.path), "setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups", "--"]
    for pre in unit.get("ExecStartPre", []):
        result = subprocess.run(as_user + shlex.split(pre), capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise h.HarnessError(f"ExecStartPre={pre} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    watchdog = unit.get("WatchdogSec", ["0"])[0]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "NOTIFY_SOCKET": NOTIFY_PATH}
    if watchdog not in ("0", ""):
        env["WATCHDOG_USEC"] = str(int(watchdog) * 1_000_000)
    daemon = h.Daemon(as_user + shlex.split(unit["ExecStart"][0]), tmp / "heloguard.log", env=env).start()
    try:
        notify.wait_for("READY=1", timeout=30)
    except h.HarnessError as error:
        raise h.HarnessError(f"{error}\nheloguard's log:\n{daemon.log()}") from None
    return daemon


def rcpt_reply(helo: str, source: str, recipient: str = RECIPIENT, timeout: float = 10) -> str:
    """The reply to RCPT TO after EHLO `helo`; when an earlier step went wrong (a timeout, a
    refusal), that step's reply instead, so a late reply is never taken for the next one's."""
    commands = [f"EHLO {helo}", "MAIL FROM:<a@honest.example.net>", f"RCPT TO:{recipient}", "QUIT"]
    exchanges = h.run_session((OUR_ADDRESS, 25), commands, source=source, timeout=timeout)
    for exchange, code in zip(exchanges[:3], (220, 250, 250)):
        if exchange.reply is None or exchange.reply.code != code:
            return f"{exchange.command_text()}: {exchange.reply.text if exchange.reply else '<no reply>'}"
    return exchanges[3].reply.text if len(exchanges) > 3 and exchanges[3].reply else "<no reply>"


# Each case from its own source address: an impersonator goes into the penalty box.
SESSIONS = [
    ("our host name", HOSTNAME, "127.0.0.11", RECIPIENT, impersonation(HOSTNAME)),
    ("[our address]", f"[{OUR_ADDRESS}]", "127.0.0.12", RECIPIENT, impersonation(f"[{OUR_ADDRESS}]")),
    ("our bare address", OUR_ADDRESS, "127.0.0.13", RECIPIENT, impersonation(OUR_ADDRESS)),
    ("our host name in upper case with a trailing dot", HOSTNAME.upper() + ".", "127.0.0.14", RECIPIENT,
     impersonation(HOSTNAME.upper() + ".")),
    # Who we are according to Postfix (the package turns impersonation_postfix_config on).
    ("a domain of mydestination", OUR_DOMAIN, "127.0.0.18", RECIPIENT, impersonation(OUR_DOMAIN)),
    ("our NAT address (proxy_interfaces)", f"[{NAT_ADDRESS}]", "127.0.0.19", RECIPIENT,
     impersonation(f"[{NAT_ADDRESS}]")),
    ("postmaster from an impersonator", HOSTNAME, "127.0.0.15", "<postmaster>", OK),
    ("mynetworks client saying our name", HOSTNAME, "127.0.0.1", RECIPIENT, OK),
    ("honest stranger", "mail.honest.example.net", "127.0.0.16", RECIPIENT, OK),
    ("non-FQDN stranger", "foo", "127.0.0.17", RECIPIENT, non_fqdn("foo")),
]


def milter_warnings(log: str) -> list[str]:
    return [line for line in log.splitlines() if "warning" in line and "milter" in line.lower()]


def load(seconds: float, concurrency: int, checks: h.Checks, postfix_log: h.LogFile) -> None:
    """`concurrency` threads, each running sessions back to back for `seconds`, from distinct
    source addresses (Postfix allows 50 connections per client); honest and non-FQDN HELOs."""
    counts = {"sessions": 0, "unexpected": 0, "in_flight": 0, "peak": 0}
    unexpected: list[str] = []
    lock = threading.Lock()
    # The clients start over a few seconds: Postfix's master spawns one smtpd per client, and
    # 500 at the same instant only measure how fast this machine forks.
    ramp = 10.0
    stop_at = time.monotonic() + ramp + seconds

    def worker(index: int) -> None:
        source = f"127.1.{index // 200}.{index % 200 + 1}"
        time.sleep(ramp * index / concurrency)
        n = 0
        while time.monotonic() < stop_at:
            with lock:
                counts["in_flight"] += 1
                counts["peak"] = max(counts["peak"], counts["in_flight"])
            helo, expected = (("mail.honest.example.net", OK) if (index + n) % 2 else ("foo", non_fqdn("foo")))
            try:
                # A real client waits minutes for a reply (RFC 5321 4.5.3.2); 120 s here.
                reply = rcpt_reply(helo, source, timeout=120)
            except OSError as error:
                reply = f"<{error}>"
            n += 1
            with lock:
                counts["in_flight"] -= 1
                counts["sessions"] += 1
                if reply != expected:
                    counts["unexpected"] += 1
                    if len(unexpected) < 10:
                        unexpected.append(f"{helo} from {source}: {reply!r}")

    mark = postfix_log.mark()
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(ramp + seconds + 180)
    elapsed = time.monotonic() - started
    postfix_log.settle()
    log = postfix_log.read(mark)
    milter_connect = [line for line in log.splitlines() if "connect to Milter service" in line]
    print(f"load: {counts['sessions']} sessions in {elapsed:.1f} s with {concurrency} clients "
          f"(at most {counts['peak']} sessions open at once; {ramp:g} s ramp-up) "
          f"({counts['sessions'] / elapsed:.1f}/s); unexpected replies: {counts['unexpected']}; "
          f"\"connect to Milter service\" warnings: {len(milter_connect)}; "
          f"other milter warnings: {len(milter_warnings(log)) - len(milter_connect)}", flush=True)
    checks.check("load: every reply as expected", counts["unexpected"] == 0, "\n".join(unexpected))
    checks.check("load: no \"connect to Milter service\" warning", not milter_connect, "\n".join(milter_connect[:5]))
    checks.check("load: no other milter warning", not milter_warnings(log), "\n".join(milter_warnings(log)[:5]))
    checks.check("load: sessions ran", counts["sessions"] >= concurrency, str(counts))


def check_install(root: Root, checks: h.Checks, deb_version: str) -> None:
    version = root.run("/usr/sbin/heloguard", "--version").stdout.strip()
    checks.check(f"heloguard --version in the root is the package's ({deb_version})", version == deb_version, version)
    ldd = root.run("ldd", "/usr/sbin/heloguard").stdout
    checks.check("every shared library resolves in a root without Swift",
                 "not found" not in ldd and "swift" not in ldd.lower()
                 and not list(root.path.glob("usr/lib/swift*")), ldd)
    groups = root.run("id", "-nG", "postfix").stdout.split()
    checks.check("postfix is in group heloguard", "heloguard" in groups, str(groups))
    owner = root.run("stat", "-c", "%U:%G %a", "/var/spool/postfix/heloguard").stdout.strip()
    checks.check("socket directory heloguard:heloguard 750", owner == "heloguard:heloguard 750", owner)
    conffiles = root.run("dpkg-query", "-W", "-f=${Conffiles}", "heloguard").stdout
    for name in ("heloguard.conf", "helo_access", "helo_regexp", "helo_cidr"):
        checks.check(f"conffile /etc/heloguard/{name}", f"/etc/heloguard/{name} " in conffiles, conffiles)
    for path in ("/lib/systemd/system/heloguard.service", "/usr/lib/tmpfiles.d/heloguard.conf",
                 "/usr/share/man/man8/heloguard.8.gz", "/usr/share/doc/heloguard/README.md.gz",
                 "/usr/share/doc/heloguard/postfix-main.cf", "/usr/share/doc/heloguard/sendmail-heloguard.mc",
                 "/usr/share/doc/heloguard/copyright"):
        checks.check(f"installed {path}", root.file(path).is_file())


def configure_postfix(root: Root) -> None:
    master = root.file("/etc/postfix/master.cf").read_text()
    if not re.search(r"^smtp\s+inet\s+n\s+-\s+y\s", master, re.M):
        raise h.HarnessError("the root's master.cf does not run smtpd chrooted: not Debian's stock master.cf")
    stock = root.file("/usr/share/postfix/main.cf.debian").read_text()
    fragment = root.file("/usr/share/doc/heloguard/postfix-main.cf").read_text()
    h.write_file(root.file("/etc/postfix/main.cf"),
                 stock + "\n# --- the package's postfix-main.cf ---\n" + fragment
                 + "\n# --- this host's domains and its NAT address ---\n"
                 + f"mydestination = $myhostname, localhost.$mydomain, localhost, {OUR_DOMAIN}\n"
                 + f"proxy_interfaces = {NAT_ADDRESS}\n"
                 + "\n# --- test only: no syslog daemon in this root ---\nmaillog_file = /var/log/postfix.log\n")
    root.run("/usr/lib/postfix/configure-instance.sh", "-")
    root.run("postfix", "start")
    h.wait_until(lambda: _banner(), 30, what="Postfix's smtpd on port 25")


def _banner() -> bool:
    try:
        with socket.create_connection((OUR_ADDRESS, 25), timeout=2) as probe:
            return probe.recv(512).startswith(b"220")
    except OSError:
        return False


def main() -> int:
    sandbox = h.enter_sandbox(hostname=HOSTNAME)
    root = Root(Path(sys.argv[1]))
    deb = Path(sys.argv[2])
    load_seconds = float(sys.argv[sys.argv.index("--load") + 1]) if "--load" in sys.argv else 0
    checks = h.Checks()
    subprocess.run(["ip", "addr", "add", f"{OUR_ADDRESS}/32", "dev", "lo"], check=True)
    tmp = h.TempDir("package").path
    sandbox.start_dns([sys.executable, str(Path(__file__).resolve().parent / "testdns.py"), "serve",
                       "--port", "53", "--default", "nxdomain"], tmp / "dns.log")
    root.prepare()
    postfix_running = False
    try:
        # -- 1. install ------------------------------------------------------------------------
        (root.file("/tmp") / deb.name).write_bytes(deb.read_bytes())
        deb_version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                                     check=True).stdout.strip()
        installed = root.run("dpkg", "-i", f"/tmp/{deb.name}", check=False)
        if not checks.check("dpkg -i into a root with postfix and the Depends: only", installed.returncode == 0,
                            installed.stdout + installed.stderr):
            return 1
        check_install(root, checks, deb_version)

        # -- 2./3. Postfix and heloguard as the unit starts it -----------------------------------
        configure_postfix(root)
        postfix_running = True
        postfix_log = h.LogFile(root.file("/var/log/postfix.log"))
        notify = NotifySocket(root.file(NOTIFY_PATH))
        heloguard = start_heloguard(root, tmp, notify)
        socket_owner = root.run("stat", "-c", "%U:%G %a", "/var/spool/postfix/heloguard/heloguard.sock").stdout.strip()
        checks.check("socket heloguard:heloguard 660", socket_owner == "heloguard:heloguard 660", socket_owner)
        uid = root.run("id", "-u", "heloguard").stdout.strip()
        status = Path(f"/proc/{heloguard.pid}/status").read_text()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        checks.check("heloguard runs as user heloguard (real, effective, saved)", uids[:3] == [uid] * 3, str(uids))

        # -- 4. sessions -----------------------------------------------------------------------
        mark = postfix_log.mark()
        for name, helo, source, recipient, expected in SESSIONS:
            reply = rcpt_reply(helo, source, recipient)
            checks.check(f"{name}: EHLO {helo} from {source}, RCPT {recipient} -> {expected}", reply == expected,
                         f"got {reply!r}\nheloguard:\n{heloguard.log()[-2000:]}")
        postfix_log.settle()
        warnings = milter_warnings(postfix_log.read(mark))
        checks.check("no milter warning in Postfix's log", not warnings, "\n".join(warnings))

        if load_seconds > 0:
            # 500 smtpd processes at once (Debian's default_process_limit is 100).
            with open(root.file("/etc/postfix/main.cf"), "a") as main_cf:
                main_cf.write("# --- test only: room for the load ---\ndefault_process_limit = 600\n")
            root.run("postfix", "reload")
            time.sleep(1)
            load(load_seconds, 500, checks, postfix_log)

        # -- 6. upgrade, remove, purge -----------------------------------------------------------
        checks.check("heloguard stops with status 0 on SIGTERM", heloguard.terminate(15) == 0, heloguard.log()[-2000:])
        checks.check("STOPPING=1 sent", _drain(notify, "STOPPING=1") is not None, str(notify.messages[-5:]))
        conf = root.file("/etc/heloguard/heloguard.conf")
        edited = conf.read_text() + "\n# edited by the package test\n"
        conf.write_text(edited)
        upgrade = root.run("dpkg", "-i", f"/tmp/{deb.name}", check=False)
        checks.check("upgrade over itself", upgrade.returncode == 0, upgrade.stdout + upgrade.stderr)
        checks.check("upgrade keeps the edited conffile", conf.read_text() == edited
                     and not root.file("/etc/heloguard/heloguard.conf.dpkg-dist").exists())
        state = root.file("/var/lib/heloguard")
        checks.check("state written to /var/lib/heloguard", any(state.iterdir()), str(list(state.iterdir())))
        removed = root.run("dpkg", "-r", "heloguard", check=False)
        checks.check("dpkg -r", removed.returncode == 0, removed.stdout + removed.stderr)
        checks.check("dpkg -r removes the binary", not root.file("/usr/sbin/heloguard").exists())
        checks.check("dpkg -r keeps the edited conffile", conf.exists() and conf.read_text() == edited)
        checks.check("dpkg -r keeps the state", state.is_dir() and any(state.iterdir()))
        purged = root.run("dpkg", "-P", "heloguard", check=False)
        checks.check("dpkg -P", purged.returncode == 0, purged.stdout + purged.stderr)
        checks.check("dpkg -P removes /etc/heloguard", not root.file("/etc/heloguard").exists())
        checks.check("dpkg -P removes the state and the socket directory",
                     not state.exists() and not root.file("/var/spool/postfix/heloguard").exists())
    finally:
        if postfix_running:
            root.run("postfix", "stop", check=False)
            h.wait_until(lambda: not _master_running(root), 20, what="Postfix to stop")
        h.cleanup()
        subprocess.run(["umount", "-l", str(root.file("/proc"))], check=False)
    print(f"package-install: {len(checks.results) - len(checks.failed)} of {len(checks.results)} checks passed")
    return 1 if checks.failed else 0


def _drain(notify: NotifySocket, field: str) -> str | None:
    try:
        return notify.wait_for(field, timeout=5)
    except h.HarnessError:
        return None


def _master_running(root: Root) -> bool:
    return root.run("postfix", "status", check=False).returncode == 0


if __name__ == "__main__":
    h.run_main(main)
