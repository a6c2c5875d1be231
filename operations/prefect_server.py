"""The embedded Prefect server: is one running, start one in the background, stop it.

Its database lives in db/prefect (the key room); its log in logs/. The CLI asks `is_up()` to
decide whether work runs as a flow (visible in the UI) or directly (no temporary server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

from mailark.config.settings import Settings


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment for Prefect processes and clients of this deployment."""
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_API_URL": settings.prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "true",
        # Message content never goes into Prefect's database.
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
    }


def is_up(api_url: str, timeout: float = 0.5) -> bool:
    try:
        return httpx.get(api_url.rstrip("/") + "/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def ui_url(settings: Settings) -> str:
    u = urlparse(settings.prefect_api_url)
    return f"{u.scheme}://{u.netloc}"


def _pid_file(settings: Settings) -> Path:
    return settings.db_dir / "prefect-server.pid"


def start_background(settings: Settings, wait: float = 90.0) -> bool:
    """Start a server unless one answers; returns True if this call started it."""
    if is_up(settings.prefect_api_url):
        return False
    settings.ensure_dirs()
    settings.prefect_home.mkdir(parents=True, exist_ok=True)
    u = urlparse(settings.prefect_api_url)
    log = (settings.logs_dir / "prefect-server.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", u.hostname or "127.0.0.1", "--port", str(u.port or 4200)],
        env={**os.environ, **prefect_env(settings)},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    _pid_file(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the Prefect server exited at start (code {proc.returncode}); see {settings.logs_dir / 'prefect-server.log'}"
            )
        if is_up(settings.prefect_api_url):
            return True
        time.sleep(0.5)
    raise RuntimeError(f"the Prefect server did not answer within {wait:.0f}s; see {settings.logs_dir / 'prefect-server.log'}")


def stop_background(settings: Settings) -> bool:
    pid_file = _pid_file(settings)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGINT)
    except ProcessLookupError:
        return False
    for _ in range(60):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.25)
    os.killpg(pid, signal.SIGKILL)
    return True
