"""`mailark search query`: its quick path against the Typer command, in one run, on either control plane.

The quick path (mailark/cli/search_query.py) answers a plain search without Typer and the ORM; the
Typer command is what every search cost before it (and what the quick path hands over to). Both
search one home: an organization `bench` with the sample mail archived and indexed. With
`--control postgres` the control plane and the catalogue live in a throw-away PostgreSQL server
(tests/peers/postgres.py). The runs alternate (quick, Typer, quick, ...) so drift hits both.

    python -m bench.search_cli --control sqlite --runs 7
    python -m bench.search_cli --control postgres --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MAILARK = str(Path(sys.executable).parent / "mailark")
TYPER_ONLY = [sys.executable, "-c", "from mailark.cli import app; app(prog_name='mailark')"]
QUERY = ["search", "query", "--org", "bench", "report", "--json"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--control", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="mailark-search-cli-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARK_")}
    env.update({"MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"})
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, home, ignore_errors=True)
        if a.control == "postgres":
            sys.path.insert(0, str(REPO))
            from tests.peers.postgres import start_postgres

            server = start_postgres()
            stack.callback(server.stop)
            env["MAILARK_CONTROL_URL"] = server.url(server.create_database("control_bench"))
            env["MAILARK_LAKE_CATALOG"] = "postgres:" + server.libpq(server.create_database("lake_bench"))
        for args in (["org", "create", "bench"], ["import", str(REPO / "samples" / "mail"), "--org", "bench", "--mailbox",
                                                  "archive@bench"], ["search", "index", "--org", "bench"]):
            subprocess.run([MAILARK, *args], env=env, capture_output=True, check=True)
        runs: dict[str, list[float]] = {"quick path": [], "Typer command": []}
        commands = {"quick path": [MAILARK, *QUERY], "Typer command": [*TYPER_ONLY, *QUERY]}
        answers = {name: subprocess.run(cmd, env=env, capture_output=True, check=True).stdout  # warm-up, same answer
                   for name, cmd in commands.items()}
        assert json.loads(answers["quick path"]) == json.loads(answers["Typer command"])
        load = os.getloadavg()[0]
        for _ in range(a.runs):
            for name, cmd in commands.items():
                t = time.perf_counter()
                subprocess.run(cmd, env=env, capture_output=True, check=True)
                runs[name].append(time.perf_counter() - t)
        ratios = [t / q for q, t in zip(runs["quick path"], runs["Typer command"], strict=True)]
        print(json.dumps({"control": a.control, "runs": a.runs, "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
                          **{name: {"median_s": round(statistics.median(v), 3), "min_s": round(min(v), 3)}
                             for name, v in runs.items()},
                          "typer_over_quick_median": round(statistics.median(ratios), 2)}, indent=2))


if __name__ == "__main__":
    main()
