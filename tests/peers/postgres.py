"""Start a throw-away PostgreSQL server (the Debian ``postgresql`` package) for tests.

The server lives in a temporary directory: initdb with trust authentication, a Unix socket in
the same directory, TCP on 127.0.0.1 and a free port, durability off (fsync) because nothing
outlives the test session. initdb and postgres refuse to run as root, so as root (CI) they run
as the ``postgres`` user through ``runuser`` and the directory is handed to that user.

``scripts/install-test-deps.sh`` installs the package; ``find_bindir()`` returns None when it is
missing, and the fixtures then skip with that reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from tests.peers import free_port  # noqa: F401 - also imported from here by tests

HOST = "127.0.0.1"
SUPERUSER = "mailark"


def find_bindir() -> Path | None:
    """The directory holding initdb and postgres (the newest Debian version), or None."""
    env = os.environ.get("MAILARK_TEST_PG_BINDIR")
    candidates = [Path(env)] if env else []
    candidates += sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for c in candidates:
        if (c / "initdb").is_file() and (c / "postgres").is_file():
            return c
    return None


@dataclass
class PostgresServer:
    """A running server: connection details and helpers to make databases."""

    port: int
    host: str = HOST
    user: str = SUPERUSER
    _stop: Callable[[], None] = field(default=lambda: None, repr=False)

    def libpq(self, dbname: str = "postgres") -> str:
        """A libpq key=value string (DuckLake: ``postgres:`` + this)."""
        return f"dbname={dbname} host={self.host} port={self.port} user={self.user}"

    def url(self, dbname: str = "postgres") -> str:
        """A SQLAlchemy URL with the psycopg 3 driver."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(self.libpq(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        """Drop it, ending any session still connected (a test's pooled connections)."""
        import psycopg

        with psycopg.connect(self.libpq(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self._stop()


def _as_postgres_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix and uid/gid that initdb and postgres must run with."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError as e:
        raise RuntimeError("running as root but there is no 'postgres' user to run the server as") from e
    return ["runuser", "-u", "postgres", "--"], pw.pw_uid, pw.pw_gid


def _accepts(server: PostgresServer) -> bool:
    import psycopg

    try:
        with psycopg.connect(server.libpq(), connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def _shutdown(proc: subprocess.Popen[bytes], prefix: list[str], bindir: Path, data: Path) -> None:
    """Fast shutdown (clients are disconnected), then kill the postmaster if it lingers."""
    if proc.poll() is not None:
        return
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "15"],
        stdin=subprocess.DEVNULL, capture_output=True, cwd=data.parent,
    )
    try:
        proc.wait(10)
        return
    except subprocess.TimeoutExpired:
        pass
    # runuser does not pass SIGKILL on: kill the postmaster by its pid file, then runuser.
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
    except (OSError, ValueError, IndexError):
        pass
    proc.kill()
    proc.wait()


def start_postgres(timeout: float = 30.0, attempts: int = 3) -> PostgresServer:
    """initdb a cluster in a temporary directory and start postgres on a free 127.0.0.1 port.

    Returns a PostgresServer; its ``stop()`` shuts the server down (fast mode, then kill) and
    removes the directory. Raises RuntimeError with the output when it does not come up.
    """
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; see scripts/install-test-deps.sh)")
    prefix, uid, gid = _as_postgres_user()
    # As root, /tmp: the postgres user must reach the directory (a root-only TMPDIR would not do);
    # it also keeps the socket path short (Unix socket paths are limited to ~107 bytes).
    base = Path(tempfile.mkdtemp(prefix="mailark-pg-", dir="/tmp" if uid is not None else None))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if uid is not None:
        for p in (base, sock):
            os.chown(p, uid, gid)  # type: ignore[arg-type]
    os.chmod(base, 0o700)
    init = subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
         "--encoding=UTF8", "--locale=C", "--no-sync"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=base,
    )
    if init.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")

    last_output = ""
    for _ in range(attempts):
        port = free_port()
        log_path = base / "server.log"
        log = open(log_path, "ab")
        proc = subprocess.Popen(
            [*prefix, str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(sock),
             "-c", f"listen_addresses={HOST}", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=base,
        )

        def stop(proc: subprocess.Popen[bytes] = proc, log=log) -> None:
            _shutdown(proc, prefix, bindir, data)
            log.close()
            shutil.rmtree(base, ignore_errors=True)

        server = PostgresServer(port=port, _stop=stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _accepts(server):
                return server
            time.sleep(0.1)
        last_output = log_path.read_text(errors="replace")[-2000:]
        _shutdown(proc, prefix, bindir, data)
        log.close()
    shutil.rmtree(base, ignore_errors=True)
    raise RuntimeError(f"postgres did not start on {HOST} after {attempts} tries:\n{last_output}")
