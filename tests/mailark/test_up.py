"""`mailark up` starts the embedded stack, runs deployments on its worker, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.peers.moto_server import free_port

MAILARK = str(Path(sys.executable).parent / "mailark")


def _wait_for(proc: subprocess.Popen, log: Path, text: str, timeout: float) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(f"mailark up exited ({proc.returncode}):\n{log.read_text()}")
        time.sleep(0.5)
    pytest.fail(f"no {text!r} within {timeout}s:\n{log.read_text()}")


def _port_open(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_up_runs_everything_and_stops_on_ctrl_c(tmp_path: Path, corpus: Path) -> None:
    prefect_port, web_port, smtp_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILARK_", "PREFECT_"))}
    env.update(
        MAILARK_HOME=str(tmp_path / "home"), MAILARK_PREFECT_API_URL=f"http://127.0.0.1:{prefect_port}/api",
        MAILARK_WEB_PORT=str(web_port), MAILARK_SMTP_PORT=str(smtp_port),
    )
    log = tmp_path / "up.out"
    with log.open("wb") as out:
        # Started as `nohup mailark up &` or by a CI script: with SIGINT ignored. Ctrl-C (SIGINT)
        # must stop it all the same.
        proc = subprocess.Popen([MAILARK, "up"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        _wait_for(proc, log, "mailark is up", 240)
        said = log.read_text()
        assert f"http://127.0.0.1:{prefect_port}" in said and f"http://127.0.0.1:{web_port}" in said
        assert httpx.get(f"http://127.0.0.1:{web_port}/openapi.json").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{prefect_port}/api/health").status_code == 200

        status = json.loads(subprocess.run([MAILARK, "status", "--json"], env=env, capture_output=True, check=True).stdout)
        assert status["up"] and all(s["running"] for s in status["services"])
        deployments = {r["deployment"] for r in status["last_runs"]}
        assert "import-files" in deployments  # every deployment of prefect.yaml is deployed

        # The worker runs a deployment: an import through the Prefect API, not the CLI's shortcut.
        subprocess.run([MAILARK, "org", "create", "acme"], env=env, capture_output=True, check=True)
        penv = {**env, "PREFECT_API_URL": env["MAILARK_PREFECT_API_URL"],
                "PREFECT_HOME": str(tmp_path / "home" / "db" / "prefect")}
        ran = subprocess.run(
            [sys.executable, "-m", "prefect", "deployment", "run", "import-files/import-files",
             "--param", "org=acme", "--param", "mailbox=archive@acme",
             "--param", f'sources=["{corpus / "cpython-test_email"}"]', "--watch", "--watch-timeout", "180"],
            env=penv, capture_output=True, text=True, timeout=240,
        )
        assert ran.returncode == 0 and "Completed" in ran.stdout, ran.stdout + ran.stderr
        status = json.loads(subprocess.run([MAILARK, "status", "--json"], env=env, capture_output=True, check=True).stdout)
        [imp] = [r for r in status["last_runs"] if r["deployment"] == "import-files"]
        assert imp["state"] == "Completed"
        pids = [s["pid"] for s in status["services"]]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(90)  # two grace periods of 20 s at most, then the children are killed
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("mailark up did not stop within 90 s of Ctrl-C:\n" + log.read_text()[-3000:]) from None
    assert code == 0, log.read_text()
    assert "stopped" in log.read_text()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not _port_open(prefect_port) and not _port_open(web_port)
    assert not (tmp_path / "home" / "db" / "up.json").exists()
