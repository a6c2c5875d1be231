"""The embedded Prefect server: is one running, start one in the background, stop it.

Its database lives in db/prefect (the key room); its log in logs/. The CLI asks `is_up()` to
decide whether work runs as a flow (visible in the UI) or directly (no temporary server).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from mailark.config.settings import Settings
from mailark.operations import detached


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
    """Does a Prefect server answer its health check at `api_url`?

    Most CLI calls find no server: a refused TCP connection says so without importing httpx and
    building its TLS context (0.25-0.3 s of CPU, more than the rest of a small import).
    """
    u = urlparse(api_url)
    if u.hostname:
        try:
            socket.create_connection((u.hostname, u.port or (443 if u.scheme == "https" else 80)), timeout=timeout).close()
        except OSError:
            return False
    import httpx

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
    detached.start([sys.executable, "-m", "prefect", "server", "start", "--host", u.hostname or "127.0.0.1",
                    "--port", str(u.port or 4200)],
                   env={**os.environ, **prefect_env(settings)}, log_path=settings.logs_dir / "prefect-server.log",
                   pid_file=_pid_file(settings), answers=lambda: is_up(settings.prefect_api_url),
                   what="the Prefect server", wait=wait)
    return True


def stop_background(settings: Settings) -> bool:
    # A Prefect server (and a worker) stops cleanly on SIGINT, not SIGTERM.
    return detached.stop(_pid_file(settings), signal.SIGINT)
