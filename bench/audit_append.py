"""CPU of one audit append and its commit (`control.audit.record`), an older revision against this one.

Every audited read (a search, a message view) appends one event in its request's transaction. Each
revision is installed as a user gets it (bench.startup.install) and measured in a fresh process of
its own: `--appends` appends of a search event, each in its own write transaction on a new SQLite
home, after a warm-up; rounds alternate A B A B. The chain is verified after each run.

    python -m bench.audit_append --before bd9417e --rounds 3
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
from pathlib import Path

from bench.startup import install

PROBE = """
import json, os, sys, tempfile, time
from pathlib import Path
from mailark.config.settings import Settings
from mailark.control import audit
from mailark.control.principals import Principal
from mailark.runtime import open_runtime
rt = open_runtime(Settings(home=Path(tempfile.mkdtemp())))
p = Principal.deployment_operator()
def run(n):
    for _ in range(n):
        with rt.session(write=True) as s:
            audit.record(s, p, "content.search", org_id="x", target="q", details={"total": 5})
run(50)  # warm-up: statement compilation, the first transactions
n = int(sys.argv[1])
t = time.process_time()
run(n)
ms = (time.process_time() - t) / n * 1000
with rt.session() as s:
    ok = audit.verify_chain(s).ok
print(json.dumps({"ms": ms, "ok": ok}))
"""


def measure(site: Path | None, appends: int) -> float:
    env = None if site is None else {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", PROBE, str(appends)], capture_output=True, text=True, env=env,
                          cwd=tempfile.gettempdir(), check=True)
    doc = json.loads(done.stdout)
    assert doc["ok"], "the chain does not verify"
    return float(doc["ms"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default="HEAD")
    ap.add_argument("--appends", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mailark-audit-bench-"))
    try:
        sites = {"before": install(a.before, work / "before"), "after": install(a.after, work / "after")}
        runs: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(a.rounds):
            for rev in ("before", "after"):
                runs[rev].append(measure(sites[rev], a.appends))
        print(json.dumps({"before": a.before, "after": a.after, "load_average": os.getloadavg()[0],
                          **{f"{rev}_ms_cpu_per_append": [round(x, 3) for x in v] for rev, v in runs.items()},
                          "before_over_after_median": round(statistics.median(runs["before"]) /
                                                            statistics.median(runs["after"]), 2)}, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
