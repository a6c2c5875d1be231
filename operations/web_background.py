"""The web app in the background for `mailark demo`: start it, is it up, stop it (with the Prefect server).

`mailark up` runs the web app under its supervisor; the demo only needs the pages to look at, so it
starts `mailark web` detached, with its pid in db/web.pid and its log in logs/web.log.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import httpx

from mailark.config.settings import Settings
from mailark.operations import detached


def web_url(settings: Settings) -> str:
    return f"http://{settings.web_host}:{settings.web_port}"


def is_up(settings: Settings, timeout: float = 0.5) -> bool:
    try:
        return httpx.get(web_url(settings) + "/login", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _pid_file(settings: Settings) -> Path:
    return settings.db_dir / "web.pid"


def start_background(settings: Settings, wait: float = 90.0) -> bool:
    """Start the web app unless one answers on its port; True if this call started it."""
    if is_up(settings):
        return False
    settings.ensure_dirs()
    detached.start([sys.executable, "-m", "mailark.cli", "web"], env={**os.environ, "MAILARK_HOME": str(settings.home)},
                   log_path=settings.logs_dir / "web.log", pid_file=_pid_file(settings),
                   answers=lambda: is_up(settings), what="the web app", wait=wait, poll=0.3,
                   exit_hint=f"; is port {settings.web_port} taken? set MAILARK_WEB_PORT")
    return True


def stop_background(settings: Settings) -> bool:
    """Stop the web app this home started in the background; False if none was running."""
    return detached.stop(_pid_file(settings), signal.SIGTERM)
