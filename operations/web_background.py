"""The web app in the background for `mailark demo`: start it, is it up, stop it (with the Prefect server).

`mailark up` runs the web app under its supervisor; the demo only needs the pages to look at, so it
starts `mailark web` detached, with its pid in db/web.pid and its log in logs/web.log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mailark.config.settings import Settings


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
    log = (settings.logs_dir / "web.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "mailark.cli", "web"], env={**os.environ, "MAILARK_HOME": str(settings.home)},
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    _pid_file(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _pid_file(settings).unlink(missing_ok=True)
            raise RuntimeError(f"the web app exited at start (code {proc.returncode}; is port {settings.web_port} "
                               f"taken? set MAILARK_WEB_PORT); see {settings.logs_dir / 'web.log'}")
        if is_up(settings):
            return True
        time.sleep(0.3)
    raise RuntimeError(f"the web app did not answer within {wait:.0f}s; see {settings.logs_dir / 'web.log'}")


def stop_background(settings: Settings) -> bool:
    """Stop the web app this home started in the background; False if none was running."""
    pid_file = _pid_file(settings)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
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
