"""Start moto's standalone S3 server as a subprocess, for tests that need a real S3 over HTTP.

There is no MinIO binary on our machines; moto speaks the same wire protocol, so the real
``minio`` SDK is exercised end to end (signing, ranged GETs, multipart, conditional writes).
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from tests.peers import free_port  # noqa: F401 - also imported from here by tests

HOST = "127.0.0.1"


def _answers(port: int) -> bool:
    """True once the server answers HTTP (not just accepts TCP)."""
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=1)
        conn.request("GET", "/moto-api/")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


def start_moto_server(timeout: float = 30.0, attempts: int = 3) -> tuple[str, Callable[[], None]]:
    """Start ``python -m moto.server`` on a free 127.0.0.1 port and wait until it answers.

    Returns ``(endpoint, stop)``: endpoint is "127.0.0.1:PORT" (for ``Minio(endpoint,
    secure=False)``), ``stop()`` terminates the process (idempotent; kill after 5 s).
    Raises RuntimeError with the server's output if it does not come up.
    """
    last_output = ""
    for _ in range(attempts):
        port = free_port()
        log = tempfile.TemporaryFile()
        env = dict(os.environ)
        # moto must not pick up real credentials or config; it accepts any key anyway.
        for var in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(var, None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )

        def stop(proc: subprocess.Popen[bytes] = proc, log=log) -> None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(port):
                return f"{HOST}:{port}", stop
            time.sleep(0.1)
        log.seek(0)
        last_output = log.read().decode(errors="replace")[-2000:]
        stop()
    raise RuntimeError(f"moto server did not start on {HOST} after {attempts} tries:\n{last_output}")
