"""A service started detached from the CLI (the demo's Prefect server and web app): start it, wait
until it answers, stop it by its pid file.

`mailark up` supervises its children itself; these are for `mailark demo` and `mailark server`, whose
command returns while the service keeps running, so the pid lives in a file of the home's db/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def start(argv: list[str], *, env: dict[str, str], log_path: Path, pid_file: Path, answers: Callable[[], bool],
          what: str, wait: float, poll: float = 0.5, exit_hint: str = "") -> None:
    """Start `argv` in its own session and return once `answers()`; a clear error if it exits or stays silent."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    pid_file.write_text(str(proc.pid))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pid_file.unlink(missing_ok=True)
            raise RuntimeError(f"{what} exited at start (code {proc.returncode}{exit_hint}); see {log_path}")
        if answers():
            return
        time.sleep(poll)
    raise RuntimeError(f"{what} did not answer within {wait:.0f}s; see {log_path}")


def stop(pid_file: Path, sig: signal.Signals) -> bool:
    """Stop the process group of the pid in `pid_file` with `sig` (then SIGKILL after 15 s); False if none ran."""
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        os.killpg(pid, sig)
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
