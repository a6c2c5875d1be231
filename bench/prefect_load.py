"""What a Prefect server on this machine sustains: flow runs and task runs per second (issue 17).

    python -m bench.prefect_load --seconds 20            # SQLite, then PostgreSQL
    python -m bench.prefect_load --db sqlite --seconds 10

For each database it starts a real `prefect server start` (its own PREFECT_HOME in a temporary
directory, analytics off, UI off; on PostgreSQL a throw-away server from tests/peers/postgres.py
and the asyncpg driver), then a client process (PREFECT_API_URL pointing at it) runs, each for
--seconds:

1. ``subflows``: one parent flow calling an empty subflow again and again -- today's shape, one
   subflow per due source (flows/imap_sync.py);
2. ``tasks``: one flow mapping an empty task over lists of --map items, again and again -- the
   batched shape (one task per source with work).

It reports runs created per second by the client, runs the server had recorded as COMPLETED when
the client ended (per second of the client's run), how many it recorded in the end (task runs are
recorded from events, asynchronously: it waits until the count stands still for 10 s, at most
90 s), and the CPU seconds the server (and PostgreSQL) used per second of wall time (settling
included). A third workload, ``api``, makes flow runs straight through the REST API (create,
Running, Completed; 8 at once): the server's own ceiling for flow runs. Results go to
bench/out/prefect_load.json and print as a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

OUT = Path(__file__).resolve().parent / "out"
HERE = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ client (runs in its own process)

def _client(mode: str, seconds: float, width: int) -> dict[str, Any]:
    """Run the workload against PREFECT_API_URL for `seconds`; count what was created."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    @task(name="noop-task", cache_policy=NO_CACHE, persist_result=False)
    def noop_task(i: int) -> int:
        return i

    @flow(name="noop-subflow", persist_result=False)
    def noop_subflow(i: int) -> int:
        return i

    @flow(name="load-subflows", persist_result=False)
    def load_subflows(seconds: float) -> int:
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            noop_subflow(n)
            n += 1
        return n

    @flow(name="load-tasks", persist_result=False)
    def load_tasks(seconds: float, width: int) -> int:
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            noop_task.map(list(range(width))).result()
            n += width
        return n

    t0 = time.monotonic()
    if mode == "api":
        n = asyncio.run(_api_flow_runs(seconds, min(width, 8)))
    else:
        n = load_subflows(seconds) if mode == "subflows" else load_tasks(seconds, width)
    wall = time.monotonic() - t0
    cpu = psutil.Process().cpu_times()
    return {"mode": mode, "runs": n, "wall_s": round(wall, 2), "client_cpu_s": round(cpu.user + cpu.system, 2)}


async def _api_flow_runs(seconds: float, concurrency: int) -> int:
    """Flow runs made straight through the API (create, Running, Completed), `concurrency` at once."""
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Running

    async with get_client() as client:
        fid = await client.create_flow_from_name("api-load")
        end, n = time.monotonic() + seconds, 0

        async def worker() -> None:
            nonlocal n
            while time.monotonic() < end:
                fr = await client._client.post("/flow_runs/", json={"flow_id": str(fid), "name": f"api-{n}"})
                fr.raise_for_status()
                run_id = fr.json()["id"]
                await client.set_flow_run_state(run_id, Running(), force=True)
                await client.set_flow_run_state(run_id, Completed(), force=True)
                n += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n


# ------------------------------------------------------------------ server side

def _get(url: str, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def _completed(api: str, kind: str) -> int:
    """How many flow or task runs the server holds in the COMPLETED state."""
    return int(_get(f"{api}/{kind}/count", {f"{kind[:-1]}s": {"state": {"type": {"any_": ["COMPLETED"]}}}}))


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


def _tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _postgres_procs(port: int) -> list[psutil.Process]:
    """The postmaster listening on `port` and its backends."""
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if p.info["name"] == "postgres" and "-p" in cmd and str(port) in cmd:
            return _tree(p.pid)
    return []


def _start_server(home: Path, db_url: str | None) -> tuple[subprocess.Popen[bytes], str]:
    from tests.peers import free_port

    port = free_port()
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_UI_ENABLED="false", PREFECT_LOGGING_LEVEL="WARNING")
    env.pop("PREFECT_API_URL", None)
    if db_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = db_url
    log = open(home / "server.log", "ab")  # noqa: SIM115 - the server writes to it until it stops
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port), "--no-ui"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("prefect server exited:\n" + (home / "server.log").read_text()[-3000:])
        try:
            _get(f"{api}/health")
            return proc, api
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("prefect server did not answer within 120 s:\n" + (home / "server.log").read_text()[-3000:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_db(db: str, seconds: float, width: int) -> list[dict[str, Any]]:
    """Start a server on `db`, run both workloads against it, stop it."""
    pg = None
    home = Path(tempfile.mkdtemp(prefix=f"mailark-prefect-{db}-"))
    db_url = None
    if db == "postgres":
        import asyncpg  # noqa: F401 - Prefect's PostgreSQL driver; fail early and clearly if missing

        from tests.peers.postgres import start_postgres

        pg = start_postgres()
        pg.create_database("prefect")
        db_url = f"postgresql+asyncpg://{pg.user}@{pg.host}:{pg.port}/prefect"
    proc, api = _start_server(home, db_url)
    rows = []
    try:
        for mode in ("subflows", "api", "tasks"):
            kind = "task_runs" if mode == "tasks" else "flow_runs"
            before = _completed(api, kind)
            server = _tree(proc.pid) + (_postgres_procs(pg.port) if pg else [])
            cpu0, t0 = _cpu(server), time.monotonic()
            env = dict(os.environ, PREFECT_API_URL=api, PREFECT_HOME=str(home / "client"),
                       PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_ANALYTICS_ENABLED="false")
            out = subprocess.run([sys.executable, "-m", "bench.prefect_load", "--client", mode,
                                  "--seconds", str(seconds), "--map", str(width)],
                                 env=env, cwd=HERE, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                raise RuntimeError(f"client {mode} failed:\n{out.stderr[-3000:]}")
            res = json.loads(out.stdout.strip().splitlines()[-1])
            # Task runs are recorded from events, asynchronously: how many are recorded when the client
            # ends, and how many once the count stops moving (unchanged for 10 s, at most 90 s).
            at_end = _completed(api, kind) - before
            done, last, still, settle_end = at_end, -1, 0, time.monotonic() + 90
            while time.monotonic() < settle_end and done < res["runs"]:
                time.sleep(2)
                done = _completed(api, kind) - before
                still = still + 1 if done == last else 0
                if still >= 5:
                    break
                last = done
            wall = time.monotonic() - t0
            server = _tree(proc.pid) + (_postgres_procs(pg.port) if pg else [])
            cpu = _cpu(server) - cpu0
            rows.append({"db": db, **res, "completed_at_end": at_end, "completed": done, "created_per_s": round(res["runs"] / res["wall_s"], 1),
                         "completed_per_s": round(at_end / res["wall_s"], 1),
                         "server_cpu_per_s": round(cpu / wall, 2)})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        _stop(proc)
        if pg:
            pg.stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long each workload runs")
    ap.add_argument("--map", type=int, default=50, help="tasks per .map call (tasks), concurrent API clients (api)")
    ap.add_argument("--client", choices=["subflows", "api", "tasks"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        print(json.dumps(_client(a.client, a.seconds, a.map)))
        return
    rows = []
    for db in a.db.split(","):
        rows += run_db(db.strip(), a.seconds, a.map)
    OUT.mkdir(exist_ok=True)
    (OUT / "prefect_load.json").write_text(json.dumps(rows, indent=2))
    print(f"\n{'db':<9} {'workload':<9} {'runs':>6} {'created/s':>10} {'recorded/s':>11} {'recorded later':>15} {'server CPU/s':>13}")
    for r in rows:
        print(f"{r['db']:<9} {r['mode']:<9} {r['runs']:>6} {r['created_per_s']:>10} {r['completed_per_s']:>11} "
              f"{r['completed']:>15} {r['server_cpu_per_s']:>13}")


if __name__ == "__main__":
    main()
