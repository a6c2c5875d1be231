"""A real `prefect server start` subprocess, optionally on PostgreSQL, shared by several nodes.

`prefect_test_harness` runs the server inside the test process; a cluster test needs the server a
real deployment has: its own process, its own home, every node (worker, CLI) talking to it over HTTP.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.peers import free_port

HOST = "127.0.0.1"


@dataclass
class PrefectServer:
    api_url: str
    log: Path
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def stop(self) -> None:
        """SIGINT (the server shuts down its services cleanly), then kill after 15 s."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start_prefect_server(home: Path, database_url: str | None = None, timeout: float = 120.0) -> PrefectServer:
    """Start the server on a free port with its own PREFECT_HOME; `database_url` (SQLAlchemy, asyncpg
    driver) puts it on PostgreSQL. Raises RuntimeError with the log's tail when it does not answer."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MAILARK_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_UI_ENABLED="false",
               PREFECT_API_URL=f"http://{HOST}:{port}/api")
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    log = home / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", HOST, "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    server = PrefectServer(f"http://{HOST}:{port}/api", log, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(server.api_url + "/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError(f"prefect server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")
