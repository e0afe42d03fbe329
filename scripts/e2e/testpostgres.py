"""A throwaway PostgreSQL server for the end-to-end tests (Python 3 standard library only).

    import testpostgres
    db = testpostgres.Cluster(tmp / "pg").create()      # initdb, start, role and database
    url = db.url()                                        # postgresql://heloguard:...@127.0.0.1:PORT/heloguard?sslmode=disable
    db.psql("SELECT count(*) FROM helo_log")              # as the superuser, over the socket
    db.stop(); db.start()                                 # an outage and its end

The cluster lives in its own directory (owned by the `postgres` system user: initdb refuses to
run as root, so its programs run through `runuser`), listens on 127.0.0.1 at a free port and on a
unix socket in that directory only, with fsync off. TCP logins need the role's password
(scram-sha-256); the superuser logs in over the socket. The server is stopped at exit
(harness cleanup), also when a check fails. Missing PostgreSQL programs are a HarnessError
naming the package (scripts/setup installs it).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
from pathlib import Path

import harness as h

USER = "heloguard"
PASSWORD = "e2e-not-secret-5150"
DATABASE = "heloguard"


def server_binaries() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin with initdb, pg_ctl, postgres and psql."""
    base = Path("/usr/lib/postgresql")
    found = []
    for entry in base.glob("*/bin"):
        if all(os.access(entry / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres", "psql")):
            version = re.match(r"\d+", entry.parent.name)
            if version:
                found.append((int(version.group(0)), entry))
    if not found:
        raise h.HarnessError(f"PostgreSQL server programs not found under {base}/*/bin: "
                             "install Debian's postgresql package (scripts/setup does)")
    return max(found)[1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    def __init__(self, directory: Path, port: int | None = None):
        self.directory = Path(directory)
        self.data = self.directory / "data"
        self.log_path = self.directory / "server.log"
        self.port = port or _free_port()
        self.bin = server_binaries()
        self.running = False
        self._cleanup = None

    def _as_server_user(self, program: str, *args: str, timeout: float = 60) -> str:
        argv = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            runuser = shutil.which("runuser", path="/usr/sbin:/sbin:/usr/bin:/bin")
            if runuser is None:
                raise h.HarnessError("runuser not found (package util-linux)")
            argv = [runuser, "-u", "postgres", "--", *argv]
        try:
            result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=timeout,
                                    cwd=self.directory, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
        except subprocess.TimeoutExpired as error:
            raise h.HarnessError(f"{program}: no exit within {timeout:g} s") from error
        if result.returncode != 0:
            log = self.log_path.read_text(errors="replace")[-2000:] if self.log_path.exists() else ""
            raise h.HarnessError(f"{program} {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\nserver log:\n{log}")
        return result.stdout

    def create(self) -> "Cluster":
        """initdb, start, then the role and its database."""
        self.directory.mkdir(parents=True, mode=0o700)
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.directory, account.pw_uid, account.pw_gid)
        self._as_server_user("initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8",
                             "--no-locale", "--auth-local=trust", "--auth-host=scram-sha-256",
                             "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            # synchronous_commit stays on: the test stops the server with -m immediate and
            # expects every committed row back.
            conf.write("\n# heloguard end-to-end test: loopback and a private socket only\n"
                       f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                       f"unix_socket_directories = '{self.directory}'\n"
                       "fsync = off\nfull_page_writes = off\n")
        self.start()
        self.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        return self

    def start(self) -> None:
        if self._cleanup is None:
            self._cleanup = h._register_cleanup(self.destroy)
        self._as_server_user("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w",
                             "-t", "30", "start")
        self.running = True

    def stop(self) -> None:
        """Stops the server at once (-m immediate): open connections break as in a crash."""
        if self.running:
            self._as_server_user("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w",
                                 "-t", "30", "stop")
            self.running = False

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            if self._cleanup is not None:
                h._unregister_cleanup(self._cleanup)
                self._cleanup = None

    def url(self, port: int | None = None) -> str:
        return (f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port or self.port}/{DATABASE}"
                "?sslmode=disable")

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Runs `sql` as the superuser over the socket; unaligned, tuples only."""
        return self._as_server_user("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                    "-h", str(self.directory), "-p", str(self.port),
                                    "-U", "postgres", "-d", database, "-c", sql).strip()

    def query(self, sql: str) -> str:
        """`sql` in heloguard's database."""
        return self.psql(sql, DATABASE)
