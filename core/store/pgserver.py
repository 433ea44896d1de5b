"""A throw-away local PostgreSQL server (tests, `negaudit bench store`): initdb + pg_ctl in a temp dir.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user (Debian's
package creates it) or else `nobody`. It listens on 127.0.0.1 on a free port and on a unix socket
in its own directory, trusts local connections, and is removed with its data on `stop()`.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Python 3.10 has no typing.Self
    from typing_extensions import Self

SUPERUSER = "negaudit"
# Speed over durability: a test server's data is thrown away anyway.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


_WATCHDOG = """
import os, shutil, signal, sys, time
pid, folder = int(sys.argv[1]), sys.argv[2]
sys.stdin.read()  # returns at EOF: the process that started the server has ended
try:
    os.kill(pid, signal.SIGQUIT)  # the postmaster's immediate shutdown
    for _ in range(100):
        time.sleep(0.1)
        os.kill(pid, 0)
except OSError:
    pass
shutil.rmtree(folder, ignore_errors=True)
"""


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the server would not start (the message says which)."""


def find_bindir() -> Path | None:
    """Where initdb/pg_ctl live: $NEGAUDIT_PG_BINDIR, then PATH, then Debian's versioned folders."""
    env = os.environ.get("NEGAUDIT_PG_BINDIR")
    if env:  # an explicit choice is the only one looked at
        ok = (Path(env) / "initdb").is_file() and (Path(env) / "pg_ctl").is_file()
        return Path(env) if ok else None
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)

    def version(p: str) -> int:
        m = re.search(r"/(\d+)/bin$", p)
        return int(m.group(1)) if m else 0

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version,
                                           reverse=True)]
    candidates.append(Path("/usr/local/pgsql/bin"))
    for c in candidates:
        if (c / "initdb").is_file() and (c / "pg_ctl").is_file():
            return c
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account the server runs under when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and neither a `postgres` nor a `nobody` user "
                              "exists to run the server as")


class TempPostgres:
    """One local server in a temp dir; `url(db)` gives SQLAlchemy URLs for its databases."""

    def __init__(self, bindir: Path | None = None, fast: bool = True,
                 settings: dict[str, str] | None = None):
        self.bindir = bindir or find_bindir()
        if self.bindir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian "
                "package `postgresql` (scripts/install_postgres.sh) or set NEGAUDIT_PG_BINDIR")
        self.settings = {**(FAST_SETTINGS if fast else {}), **(settings or {})}
        self.user = _run_as()
        self.dir: Path | None = None
        self.port = 0

    # ---- lifecycle -----------------------------------------------------------------------------
    def _cmd(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        kw: dict = {}
        if self.user is not None:
            kw = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PGTZ": "UTC"}
        if self.user is not None:
            env["HOME"] = str(self.dir)
        return subprocess.run(list(args), cwd=self.dir, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False, **kw)

    def start(self) -> TempPostgres:
        base = "/tmp" if self.user is not None and os.path.isdir("/tmp") else None
        self.dir = Path(tempfile.mkdtemp(prefix="negaudit-pg-", dir=base))
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        data = self.dir / "data"
        r = self._cmd(str(self.bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust",
                      "-E", "UTF8", "--locale=C", "--no-sync")
        if r.returncode != 0:
            self._cleanup()
            raise PostgresUnavailable(f"initdb failed: {(r.stderr or r.stdout).strip()[-500:]}")
        last = ""
        for _ in range(3):  # a free port can be taken between the probe and the bind
            self.port = _free_port()
            opts = {"listen_addresses": "127.0.0.1", "port": str(self.port),
                    "unix_socket_directories": str(self.dir), "max_connections": "200",
                    **self.settings}
            o = " ".join(f"-c {k}={v}" for k, v in opts.items())
            r = self._cmd(str(self.bindir / "pg_ctl"), "-D", str(data), "-l",
                          str(self.dir / "server.log"), "-o", o, "-w", "-t", "60", "start")
            if r.returncode == 0:
                atexit.register(self.stop)
                self._watch()
                return self
            log = self.dir / "server.log"
            last = log.read_text(errors="replace")[-500:] if log.exists() else r.stderr
        self._cleanup()
        raise PostgresUnavailable(f"pg_ctl start failed: {last.strip()}")

    def _watch(self) -> None:
        """A watchdog in its own session: when this process ends however it ends (SIGKILL, a
        timeout's SIGTERM that skips atexit), the pipe closes and the watchdog stops the server."""
        pid = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(pid), str(self.dir)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        if self.dir is None:
            return
        if (self.dir / "data" / "postmaster.pid").exists():
            self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                      "-w", "stop", timeout=60)
        self._cleanup()
        watchdog = getattr(self, "_watchdog", None)
        if watchdog is not None:
            watchdog.stdin.close()  # nothing left to do for it: it exits
            watchdog.wait(timeout=30)
            self._watchdog = None

    def _cleanup(self) -> None:
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- databases -----------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """A new empty (or copied from `template`) database; returns its SQLAlchemy URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        sql = f'CREATE DATABASE "{name}"'
        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            if template:
                sql += f' TEMPLATE "{template}"'
            if conn.info.server_version >= 150000:
                sql += " STRATEGY FILE_COPY"  # with fsync off, faster than WAL-logging a copy
            conn.execute(sql)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
