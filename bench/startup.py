"""Start-up: wall time of whole `mailark` processes, an older revision against this one, in one run.

Both revisions are installed the way a user gets them (`pip install --no-deps --target`, no
editable finder), into a temp directory each, and run with the same interpreter against one home
(an organization `bench` with a small search index). Each command runs `--runs` times per
revision, alternately (A B A B ...) so drift of a shared machine hits both; medians, and the
median of the pairwise ratios, are reported.

    python -m bench.startup --before 97ace4a --runs 15
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMMANDS = {
    "python (no mailark)": ["-c", "pass"],
    "mailark --help": ["-m", "mailark.cli", "--help"],
    "mailark search query": ["-m", "mailark.cli", "search", "query", "--org", "bench", "report", "--json"],
    "mailark org list": ["-m", "mailark.cli", "org", "list", "--json"],
    "mailark stats (opens the catalogue)": ["-m", "mailark.cli", "stats", "--org", "bench", "--json"],
}


def install(rev: str, into: Path) -> Path:
    """`rev` of this repository, installed as a user would get it; returns its directory."""
    src, target = into / "src", into / "site"
    src.mkdir(parents=True)
    tar = subprocess.run(["git", "-C", str(REPO), "archive", rev], capture_output=True, check=True).stdout
    tarfile.open(fileobj=BytesIO(tar)).extractall(src)  # noqa: S202 - our own repository
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(src)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"cannot install {rev}: {done.stderr[-2000:]}")
    without_later_dependencies(rev, target)
    return target


def _dependencies(pyproject: str) -> set[str]:
    import re
    import tomllib

    deps = tomllib.loads(pyproject)["project"]["dependencies"]
    return {re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0].lower().replace("-", "_") for d in deps}


def without_later_dependencies(rev: str, site: Path) -> None:
    """Hide from `rev`'s installation the packages this checkout depends on and `rev` did not
    (--no-deps takes them from this checkout's environment): uvicorn, say, picks httptools up by
    itself, which `rev` as a user installed it would not have had."""
    old = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:pyproject.toml"], capture_output=True, text=True,
                         check=True).stdout
    for name in sorted(_dependencies((REPO / "pyproject.toml").read_text()) - _dependencies(old)):
        (site / f"{name}.py").write_text(f'raise ImportError("{name} is not a dependency of {rev} (bench.startup)")\n')


def prepare_home(home: Path, site: Path) -> None:
    """An organization `bench` with 100 mailboxes and a 20,000-document index (made with `site`'s code)."""
    script = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from bench.generate import generate_org_mail
from bench.search import build
from mailark.catalog.search.index import index_dir
from mailark.catalog.search.text import message_text
from mailark.config.settings import Settings
from mailark.control.orgs import create_org, ensure_mailbox
from mailark.runtime import open_runtime
rt = open_runtime(Settings(home=Path({str(home)!r})))
with rt.session() as s:
    created = create_org(s, "bench", rt.master_key, users=10, mailboxes_per_user=20)
    domain = created.admin_login.split("@", 1)[1]
    ids = [ensure_mailbox(s, created.org, f"mb{{i:03d}}@{{domain}}")[0].id for i in range(100)]
    org_id = created.org.id
texts = [message_text(c.raw) for c in generate_org_mail(50, 300, seed=11) if c.folder == "Sent"]
build(index_dir(rt.settings.db_dir, org_id), texts, 20000, 2, 128, ids)
rt.lake.execute("SELECT 1")
rt.close()
"""
    done = subprocess.run([sys.executable, "-c", script], env=env_for(site, home), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"cannot prepare the home: {done.stderr[-3000:]}")


def env_for(site: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILARK_")}
    env.update({"PYTHONPATH": str(site), "MAILARK_HOME": str(home), "COLUMNS": "100",
                "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"})  # no Prefect server: the plain code runs
    return env


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", default="97ace4a", help="the older revision (default: before issue 16's start-up work)")
    ap.add_argument("--after", default="HEAD")
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mailark-startup-bench-"))
    try:
        sites = {"before": install(a.before, work / "before"), "after": install(a.after, work / "after")}
        home = work / "home"
        prepare_home(home, sites["after"])
        out: dict[str, object] = {"before": a.before, "after": a.after, "runs": a.runs,
                                  "load_average": os.getloadavg()[0]}
        for label, args in COMMANDS.items():
            runs: dict[str, list[float]] = {"before": [], "after": []}
            for rev in ("before", "after"):  # warm-up: page cache, __pycache__
                timed(args, env_for(sites[rev], home), work)
            for _ in range(a.runs):
                for rev in ("before", "after"):
                    runs[rev].append(timed(args, env_for(sites[rev], home), work))
            ratios = [b / x for b, x in zip(runs["before"], runs["after"], strict=True)]
            out[label] = {"before_median_s": round(statistics.median(runs["before"]), 3),
                          "after_median_s": round(statistics.median(runs["after"]), 3),
                          "after_min_s": round(min(runs["after"]), 3),
                          "before_over_after_median": round(statistics.median(ratios), 2)}
        out["load_average_end"] = os.getloadavg()[0]
        print(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
