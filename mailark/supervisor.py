"""`mailark up`: the embedded stack on one machine, as child processes of one supervisor.

The Prefect server, a process worker for the `mailark` work pool (it runs every deployment of
prefect.yaml), the SMTP journal endpoint and the web app. Each is a child process started in its
own process group; Ctrl-C (or SIGTERM to the supervisor) stops them with SIGINT (a Prefect worker
finishes on SIGINT, not SIGTERM), the Prefect server last, then SIGKILL after a grace period. A child
that dies is restarted with a growing pause. `up.json` in db/ says what runs where, for
`mailark status`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

import httpx

from mailark.operations import prefect_server
from mailark.config.settings import Settings

WORK_POOL = "mailark"
STOP_GRACE = 20.0
MAX_RESTART_PAUSE = 30.0
# A flow run whose process dies with its machine (or a SIGKILL, or the OOM killer) would stay "Running"
# for ever: nothing on the Prefect server notices. Every flow run sends a heartbeat (Prefect's shortest
# interval, 30 s); an automation on the server puts a run that has missed them for this long back in the
# queue as AwaitingRetry, and the next free worker of the pool, on any machine, runs it again. Every
# deployment of prefect.yaml resumes safely (the ledger makes what was archived a duplicate; cursors,
# leases and progress rows do the same for the others).
HEARTBEAT_SECONDS = 30
LOST_AFTER_SECONDS = int(os.environ.get("MAILARK_RUN_LOST_AFTER_SECONDS", "90"))
RECOVERY_AUTOMATION = "mailark: run again a flow run whose process died"
# A run can also die before its first heartbeat: its worker took it (Pending) and the machine died
# before the run's process started. Such a run would stay Pending for ever, and hold its deployment's
# concurrency slot until Prefect's lease runs out (300 s): index-mail, for one, would wait that long.
PENDING_RECOVERY_AUTOMATION = "mailark: run again a flow run whose worker died before it started"


def source_dir() -> Path:
    """Where `flows/` lives (a checkout or site-packages): the working directory of flow runs."""
    from mailark import flows

    return Path(flows.__file__).resolve().parent.parent


def prefect_file() -> Path:
    """prefect.yaml: beside the flows in a checkout, inside the mailark package when installed."""
    for candidate in (source_dir() / "prefect.yaml", Path(__file__).parent / "prefect.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("prefect.yaml is missing from this installation: reinstall mailark")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ok(url: str, verify: bool = True) -> bool:
    try:
        return httpx.get(url, timeout=1.0, verify=verify).status_code < 500
    except httpx.HTTPError:
        return False


@dataclass
class Service:
    """One long-running child: how to start it and how to tell that it serves."""

    name: str
    argv: list[str]
    listens: str  # where it listens, for people
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _mailark_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mailark.cli", *args]


def child_env(settings: Settings) -> dict[str, str]:
    """What every child sees: this deployment's home and Prefect, and where the flows' code is."""
    return {
        **os.environ,
        **prefect_server.prefect_env(settings),
        "MAILARK_HOME": str(settings.home),
        "MAILARK_SOURCE_DIR": str(source_dir()),
        "PYTHONUNBUFFERED": "1",
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
    }


def _requeue_when_silent(name: str, description: str, after: str, within: int, why: str) -> dict[str, Any]:
    """A Prefect automation that puts a flow run back in the queue (AwaitingRetry, so any worker of the
    pool runs it) when, after an event `after` of that run, no other event of it comes `within` s."""
    return {
        "name": name, "description": description, "enabled": True,
        "trigger": {
            "type": "event", "posture": "Proactive", "after": [after], "expect": ["prefect.flow-run.*"],
            "match": {"prefect.resource.id": "prefect.flow-run.*"}, "for_each": ["prefect.resource.id"],
            "threshold": 1, "within": within,
        },
        "actions": [{
            "type": "change-flow-run-state", "state": "SCHEDULED", "name": "AwaitingRetry", "force": True,
            "message": f"{why}; queued to run again on any worker",
        }],
    }


def recovery_automation(lost_after: int = LOST_AFTER_SECONDS) -> dict[str, Any]:
    """The Prefect automation that re-queues a flow run whose heartbeats stopped (see LOST_AFTER_SECONDS)."""
    return _requeue_when_silent(
        RECOVERY_AUTOMATION, "A flow run that sent no heartbeat for a while lost its process (a machine or worker "
        "died): back to the queue, any worker of the pool runs it again. Installed by mailark up.",
        "prefect.flow-run.heartbeat", lost_after, f"no heartbeat for {lost_after} s: its process died")


def pending_recovery_automation(lost_after: int = LOST_AFTER_SECONDS) -> dict[str, Any]:
    """The Prefect automation that re-queues a flow run left Pending by a worker that died (a started
    run moves on to Running within seconds; its heartbeats are the other automation's concern)."""
    return _requeue_when_silent(
        PENDING_RECOVERY_AUTOMATION, "A flow run a worker took but never started (the worker or its machine died "
        "meanwhile): back to the queue, any worker of the pool runs it. Installed by mailark up.",
        "prefect.flow-run.Pending", lost_after, f"pending for {lost_after} s without starting: its worker died")


def ensure_recovery_automation(api_url: str) -> None:
    """Create or update the automations on the deployment's Prefect server (each worker node does it at start)."""
    api = api_url.rstrip("/")
    with httpx.Client(timeout=30) as c:
        r = c.post(f"{api}/automations/filter", json={})
        r.raise_for_status()
        existing = {a.get("name"): a["id"] for a in r.json()}
        for wanted in (recovery_automation(), pending_recovery_automation()):
            if wanted["name"] in existing:
                c.put(f"{api}/automations/{existing[wanted['name']]}", json=wanted).raise_for_status()
            else:
                c.post(f"{api}/automations/", json=wanted).raise_for_status()


def journal_available() -> bool:
    """The SMTP journal endpoint ships with the sources; `up` starts it when it is installed."""
    try:
        import mailark.sources.journal  # noqa: F401
    except ImportError:
        return False
    return True


# What one node of a deployment runs (`mailark up --role ...`): "all" is the single-machine default.
ROLES = ("all", "server", "worker", "smtp", "web")


def check_roles(roles: list[str]) -> set[str]:
    """The roles as a set; "all" alone, or any of the others together."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role {', '.join(unknown)}: use {', '.join(ROLES)}")
    chosen = set(roles) or {"all"}
    if "all" in chosen and len(chosen) > 1:
        raise ValueError("--role all already runs everything: name it alone, or name the parts")
    return {"server", "worker", "smtp", "web"} if "all" in chosen else chosen


def plan(settings: Settings, *, with_prefect_server: bool = True, roles: set[str] | None = None) -> list[Service]:
    """The processes of this node: every part (the default), or only the roles named, so that several
    machines sharing PostgreSQL, S3 and one Prefect server each run their share."""
    roles = roles or {"server", "worker", "smtp", "web"}
    api = urlparse(settings.prefect_api_url)
    services: list[Service] = []
    if with_prefect_server and "server" in roles:
        services.append(Service(
            "prefect-server",
            [sys.executable, "-m", "prefect", "server", "start", "--host", api.hostname or "127.0.0.1",
             "--port", str(api.port or 4200)],
            prefect_server.ui_url(settings),
            lambda: prefect_server.is_up(settings.prefect_api_url),
        ))
    if "worker" in roles:
        services.append(Service(
            "prefect-worker",
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL, "--type", "process",
             "--name", f"mailark-{socket.gethostname()}-{os.getpid()}"],
            f"work pool {WORK_POOL!r}",
            lambda: True,
        ))
    if "smtp" in roles and journal_available():
        host, port = settings.smtp_host, settings.smtp_port
        services.append(Service(
            "smtp-journal", _mailark_cmd("journal", "serve"), f"smtp://{host}:{port}",
            lambda: port_open(host, port),
        ))
    tls = settings.web.tls_cert is not None and settings.web.tls_key is not None
    web = f"{'https' if tls else 'http'}://{settings.web_host}:{settings.web_port}"
    web_args = ["--tls-cert", str(settings.web.tls_cert), "--tls-key", str(settings.web.tls_key)] if tls else []
    if "web" in roles:
        services.append(Service(
            # Readiness asks our own child on this machine whether it answers; the certificate is for the
            # public name, which the probe does not use, so it is not verified here.
            "web", _mailark_cmd("web", *web_args), web, lambda: http_ok(web + "/api/health", verify=not tls),
        ))
    return services


class Supervisor:
    def __init__(self, settings: Settings, say: Callable[[str], None], *, wait: float = 120.0,
                 roles: set[str] | None = None) -> None:
        self.settings = settings
        self.roles = roles or {"server", "worker", "smtp", "web"}
        self.say = say
        self.wait = wait
        self.services: list[Service] = []
        self._log: IO[bytes] | None = None
        self._stopping = False

    # ---- starting ----------------------------------------------------------------------------

    def _spawn(self, svc: Service) -> None:
        assert self._log is not None
        svc.proc = subprocess.Popen(
            svc.argv, env={**child_env(self.settings), **svc.env}, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(source_dir()),
        )

    def _await_ready(self, svc: Service) -> None:
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            if svc.proc is not None and svc.proc.poll() is not None:
                raise RuntimeError(f"{svc.name} exited at start (code {svc.proc.returncode}); see {self.log_path}")
            if svc.ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"{svc.name} did not answer within {self.wait:.0f}s; see {self.log_path}")

    @property
    def log_path(self) -> Path:
        return self.settings.logs_dir / "up.log"

    def _prefect(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "prefect", "--no-prompt", *args], env=child_env(self.settings),
            cwd=str(source_dir()), stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            timeout=600, check=False,
        )

    def deploy(self) -> None:
        """The work pool and every deployment of prefect.yaml (idempotent: run at each start)."""
        if self._prefect("work-pool", "inspect", WORK_POOL).returncode != 0:
            created = self._prefect("work-pool", "create", WORK_POOL, "--type", "process")
            if created.returncode != 0:
                raise RuntimeError(f"could not create the Prefect work pool {WORK_POOL!r}; see {self.log_path}")
        # The queues' priorities and limits (journal first, bulk imports last; mailark/work_queues.py).
        queues = subprocess.run([sys.executable, "-m", "mailark.work_queues"], env=child_env(self.settings),
                                cwd=str(source_dir()), stdout=self._log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, timeout=120, check=False)
        if queues.returncode != 0:
            raise RuntimeError(f"could not set the work queues of {WORK_POOL!r}; see {self.log_path}")
        done = self._prefect("deploy", "--all", "--prefect-file", str(prefect_file()))
        if done.returncode != 0:
            raise RuntimeError(f"deploying prefect.yaml failed; see {self.log_path}")
        try:
            ensure_recovery_automation(self.settings.prefect_api_url)
        except httpx.HTTPError as e:
            raise RuntimeError(f"could not install the automation that re-runs flow runs of dead workers on the "
                               f"Prefect server at {self.settings.prefect_api_url} ({e}); is it Prefect 3.x?") from None

    def start(self) -> None:
        s = self.settings
        s.ensure_dirs()
        s.prefect_home.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        reuse = prefect_server.is_up(s.prefect_api_url)
        if "worker" in self.roles and "server" not in self.roles and not reuse:
            raise RuntimeError(f"a worker node needs the deployment's Prefect server, and none answers at "
                               f"{s.prefect_api_url}: start the node with --role server first, or set "
                               f"MAILARK_PREFECT_API_URL to the server's address")
        self.services = plan(s, with_prefect_server=not reuse, roles=self.roles)
        if reuse and "server" in self.roles:
            self.say(f"using the Prefect server already answering at {prefect_server.ui_url(s)}")
        for svc in self.services:
            if svc.name == "prefect-worker":
                self.say("deploying prefect.yaml...")
                self.deploy()
            self.say(f"starting {svc.name}...")
            self._spawn(svc)
            self._await_ready(svc)
        self.write_state()

    def write_state(self) -> None:
        state = {
            "supervisor_pid": os.getpid(),
            "started_at": time.time(),
            "services": [
                {"name": svc.name, "pid": svc.proc.pid if svc.proc else None, "listens": svc.listens}
                for svc in self.services
            ],
        }
        state_path(self.settings).write_text(json.dumps(state))

    # ---- running -----------------------------------------------------------------------------

    def watch(self, poll: float = 1.0) -> None:
        """Restart children that die until asked to stop."""
        while not self._stopping:
            now = time.monotonic()
            for svc in self.services:
                if svc.proc is not None and svc.proc.poll() is not None and not self._stopping:
                    if svc.next_start == 0.0:
                        svc.restarts += 1
                        pause = min(MAX_RESTART_PAUSE, 2.0 ** min(svc.restarts, 5))
                        svc.next_start = now + pause
                        self.say(f"{svc.name} exited (code {svc.proc.returncode}); restarting in {pause:.0f}s "
                                 f"(see {self.log_path})")
                    elif now >= svc.next_start:
                        svc.next_start = 0.0
                        self._spawn(svc)
                        self.write_state()
            time.sleep(poll)

    def request_stop(self, *_: Any) -> None:
        self._stopping = True

    def stop(self) -> None:
        """The worker, the endpoint and the web app together, then the Prefect server they report
        to: one grace period for each of the two steps, however loaded the machine is."""
        self._stopping = True
        running = [svc for svc in self.services if svc.running]
        server = [svc for svc in running if svc.name == "prefect-server"]
        for step in ([svc for svc in running if svc not in server], server):
            for svc in step:
                assert svc.proc is not None
                self.say(f"stopping {svc.name}...")
                _signal_group(svc.proc, signal.SIGINT)
            deadline = time.monotonic() + STOP_GRACE
            for svc in step:
                assert svc.proc is not None
                try:
                    svc.proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.say(f"{svc.name} did not stop within {STOP_GRACE:.0f} s: killed")
                    _signal_group(svc.proc, signal.SIGKILL)
                    svc.proc.wait()
        state_path(self.settings).unlink(missing_ok=True)
        if self._log:
            self._log.close()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def state_path(settings: Settings) -> Path:
    return settings.db_dir / "up.json"


def run_up(settings: Settings, say: Callable[[str], None], roles: set[str] | None = None) -> None:
    """Start this node's share (everything by default), print where it listens, keep it running until
    Ctrl-C or SIGTERM."""
    sup = Supervisor(settings, say, roles=roles)
    signal.signal(signal.SIGTERM, sup.request_stop)
    # A process started in the background of a non-interactive shell (nohup, CI scripts) inherits
    # SIGINT ignored, and Python then never raises KeyboardInterrupt. Catch it explicitly; the
    # children then start with SIGINT at its default (a caught signal is reset on exec), so the
    # worker can still be stopped the way it wants to be.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sup.start()
        for svc in sup.services:
            say(f"  {svc.name:<15} {svc.listens}")
        say("mailark is up; Ctrl-C stops it")
        sup.watch()
    except KeyboardInterrupt:
        pass
    finally:
        sup.stop()
        say("stopped")
