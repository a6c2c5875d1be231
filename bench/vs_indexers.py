"""Archive + index CPU against notmuch and mu on the same maildir of real mail (issue 16).

    python -m bench.vs_indexers --corpus /work/shared/corpus --rounds 3

Why: indexing mail is what notmuch and mu do for a living, so their CPU on the same messages is
the yardstick for mailark's import + search index. The maildir holds every distinct message the
corpus yields through mailark's own file readers (.eml files, mbox messages, PST items and .msg
files converted to MIME), one file each, so all three tools see the same bytes.

Each round runs, in a rotated order, in fresh homes:
- mailark: `mailark org create` and `mailark stats` (not counted: the catalogue exists, as in a
  deployment), `mailark import <maildir> --no-index`, `mailark search index`;
- mailark-1p: the same with `mailark import <maildir>` alone, which indexes in its own process;
- notmuch: `notmuch new` (a fresh config and database);
- mu: `mu init --maildir <maildir>` and `mu index`.
CPU is the user+sys time of the child processes (RUSAGE_CHILDREN around each command), disk is
what each tool's home holds afterwards (for mailark also the index alone). The parse-only
baseline is `email.message_from_bytes(raw, policy=compat32)` of every maildir file in this
process (CPU, reading not timed); "import / baseline" compares messages per CPU second of the
whole `mailark import` process (start-up included) with it.

notmuch and mu are installed with apt-get when missing (run as root).

`--before COMMIT` adds mailark as of that commit (its files from `git archive`, run through the
same venv) to the same rounds, so a change is measured against its parent in one run; a commit
whose `mailark import` indexes by itself (`--no-index` exists) runs both ways, as this checkout.
"""

from __future__ import annotations

import argparse
import compileall
import email
import email.policy
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out" / "vs-indexers"
REPO = Path(__file__).resolve().parent.parent


def ensure_tools() -> None:
    """Install notmuch and maildir-utils (mu) with apt-get if they are missing."""
    if shutil.which("notmuch") and shutil.which("mu"):
        return
    cmd = ["apt-get", "install", "-y", "-q", "notmuch", "maildir-utils"]
    if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(cmd, check=True, capture_output=True)


def build_maildir(corpus: Path, maildir: Path) -> int:
    """One file per distinct message the corpus yields (mailark's readers); returns the count."""
    from mailark.sources.files.model import SourceMessage
    from mailark.sources.files.walk import iter_source

    marker = maildir / ".complete"
    if marker.exists():
        return int(marker.read_text())
    shutil.rmtree(maildir, ignore_errors=True)
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    seen: set[str] = set()
    for item in iter_source(corpus):
        if not isinstance(item, SourceMessage):
            continue
        digest = hashlib.sha256(item.raw).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        (maildir / "cur" / f"{len(seen):06d}.{digest[:12]}.bench:2,S").write_bytes(item.raw)
    marker.write_text(str(len(seen)))
    return len(seen)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def child_cpu(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, str]:
    """Run `cmd`; returns the user+sys CPU seconds it (and its children) used, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), p.stdout


# Runs the CLI from another checkout: the editable install's finder is pointed at its folders.
_BOOT = """import runpy, sys
import __editable___mailark_0_1_0_finder as f
root = sys.argv.pop(1)
f.MAPPING.update({k: root + v[len(f.MAPPING['mailark']) - len('/mailark'):] for k, v in f.MAPPING.items()})
sys.argv[0] = 'mailark'
runpy.run_module('mailark.cli', run_name='__main__')
"""


def compiled(tree: Path) -> Path:
    """`tree`'s packages with a current .pyc for each module, so that no side pays for compiling its
    sources in every timed process (a `git archive` checkout has no __pycache__, and with
    PYTHONDONTWRITEBYTECODE set a modified module of this checkout would be compiled in each one)."""
    for d in sorted(tree.iterdir()):
        if (d / "__init__.py").is_file() and d.name not in ("tests", "bench", "build"):
            compileall.compile_dir(str(d), quiet=1)
    return tree


def checkout(commit: str) -> Path:
    """The files of `commit` in bench/out (git archive), for a before/after run."""
    dest = OUT / f"code-{commit}"
    if not (dest / ".complete").exists():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", commit], cwd=REPO, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        (dest / ".complete").write_text(commit)
    return compiled(dest)


def fresh_home(home: Path, code: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """A new home with organization `bench` (not counted): the `mailark` command line of this
    checkout (or of `code`) and the environment to run it in."""
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"}
    cli = [sys.executable, "-m", "mailark.cli"] if code is None else [sys.executable, "-c", _BOOT, str(code)]
    child_cpu([*cli, "org", "create", "bench"], env, code or REPO)
    # An existing deployment: its catalogue made and opened once before, as after `mailark up`;
    # the first process of a new home also creates the lake's tables and verifies the DuckDB
    # extensions' signatures (catalog/lake.py).
    child_cpu([*cli, "stats", "--org", "bench", "--json"], env, code or REPO)
    return cli, env


def run_mailark(maildir: Path, home: Path, code: Path | None = None, *, one_process: bool = False,
                no_index: bool = False) -> dict[str, float]:
    """`mailark import` then `mailark search index` (two processes; `no_index` passes `--no-index`
    to an import that would index by itself), or with `one_process` the import alone, which indexes
    what it archived in the same process."""
    cli, env = fresh_home(home, code)
    flags = ["--no-index"] if no_index and not one_process else []
    imp, _ = child_cpu([*cli, "import", str(maildir), "--org", "bench", "--mailbox", "a@bench", "--json", *flags],
                       env, code or REPO)
    idx = 0.0
    if not one_process:
        idx, _ = child_cpu([*cli, "search", "index", "--org", "bench", "--json"], env, code or REPO)
    # the same call again, with nothing to do: what a CLI process costs before any mail
    floor, out = child_cpu([*cli, "search", "index", "--org", "bench", "--json"], env, code or REPO)
    if '"indexed": 0' not in out:
        raise SystemExit(f"mailark left messages unindexed: {out}")
    return {"cpu": imp + idx, "import": imp, "index": idx, "startup": floor, "disk": du(home),
            "index_disk": du(home / "db" / "search")}


def run_notmuch(maildir: Path, home: Path) -> dict[str, float]:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    cfg = home / "notmuch-config"
    cfg.write_text(f"[database]\npath={maildir}\nmail_root={maildir}\n[new]\ntags=unread;inbox;\n"
                   f"[user]\nname=Bench\nprimary_email=bench@example.org\n[maildir]\nsynchronize_flags=false\n")
    env = {**os.environ, "NOTMUCH_CONFIG": str(cfg), "NOTMUCH_DATABASE": str(home / "db"), "HOME": str(home)}
    (home / "db").mkdir()
    cpu, _ = child_cpu(["notmuch", "new", "--quiet"], env)
    return {"cpu": cpu, "disk": du(home), "index_disk": du(home)}


def run_mu(maildir: Path, home: Path) -> dict[str, float]:
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}
    muhome = str(home / "mu")
    init, _ = child_cpu(["mu", "init", "--muhome", muhome, "--maildir", str(maildir)], env)
    idx, _ = child_cpu(["mu", "index", "--muhome", muhome, "--quiet"], env)
    return {"cpu": init + idx, "disk": du(home), "index_disk": du(home)}


def parse_baseline_cpu(maildir: Path) -> tuple[int, float]:
    """compat32 parse of every maildir file, CPU seconds of the parse calls only."""
    raws = [p.read_bytes() for p in sorted((maildir / "cur").iterdir())]
    t = time.process_time()
    for raw in raws:
        try:
            email.message_from_bytes(raw, policy=email.policy.compat32)
        except Exception:  # noqa: BLE001, S110 - a bad file must not stop the baseline
            pass
    return len(raws), time.process_time() - t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILARK_TEST_CORPUS", "/work/shared/corpus")))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=["mailark", "notmuch", "mu"])
    ap.add_argument("--before", help="also run mailark as of this commit (before/after in one run)")
    args = ap.parse_args(argv)
    ensure_tools()
    compiled(REPO)
    maildir = OUT / "maildir"
    n = build_maildir(args.corpus, maildir)
    runners: dict[str, Callable[[Path, Path], dict[str, float]]] = {
        "mailark": lambda m, h: run_mailark(m, h, no_index=True),
        "mailark-1p": lambda m, h: run_mailark(m, h, one_process=True),
        "notmuch": run_notmuch, "mu": run_mu}
    if args.before:
        code = checkout(args.before)
        rev = args.before[:7]
        if "--no-index" in (code / "mailark" / "cli" / "archive.py").read_text():
            # A revision whose import indexes by itself runs both ways too, like this checkout.
            runners[f"mailark@{rev}"] = lambda m, h: run_mailark(m, h, code, no_index=True)
            runners[f"mailark-1p@{rev}"] = lambda m, h: run_mailark(m, h, code, one_process=True)
        else:
            runners[f"mailark@{rev}"] = lambda m, h: run_mailark(m, h, code)
    names = [k for k in runners if k in args.only or k.startswith(("mailark@", "mailark-1p@"))
             or (k == "mailark-1p" and "mailark" in args.only)]
    results: dict[str, list[dict[str, float]]] = {k: [] for k in names}
    baselines: list[float] = []
    for r in range(args.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        _, base = parse_baseline_cpu(maildir)
        baselines.append(base)
        for name in order:
            res = runners[name](maildir, OUT / f"home-{name}")
            results[name].append(res)
            print(f"round {r + 1} {name}: " + ", ".join(f"{k} {v:,.2f}" for k, v in res.items()), flush=True)
    base = statistics.median(baselines)
    mb = du(maildir / "cur") / 1e6
    print(f"\n{n:,} distinct messages, {mb:.1f} MB; compat32 parse-only: {base:.2f} s CPU ({n / base:,.0f} msg/s); "
          f"median of {args.rounds} rounds, order rotated")
    print("\n| tool | CPU s (median) | CPU per round | / mu | / notmuch | disk MB | index MB |")
    print("|---|---|---|---|---|---|---|")
    med = {k: statistics.median(x["cpu"] for x in v) for k, v in results.items()}
    for name in names:
        v = results[name]
        per = ", ".join(f"{x['cpu']:.1f}" for x in v)
        ratios = [f"{med[name] / med[o]:.2f}" if o in med else "-" for o in ("mu", "notmuch")]
        print(f"| {name} | {med[name]:.2f} | {per} | {ratios[0]} | {ratios[1]} | {v[-1]['disk'] / 1e6:.1f} | "
              f"{v[-1]['index_disk'] / 1e6:.1f} |")
    for name in [k for k in names if k.startswith("mailark")]:
        v = results[name]
        if name.startswith("mailark-1p"):
            one = statistics.median(x["import"] for x in v)
            print(f"\n{name}: `mailark import` archiving and indexing in one process {one:.2f} s CPU (median)")
            continue
        imp = statistics.median(x["import"] for x in v)
        idx = statistics.median(x["index"] for x in v)
        floor = statistics.median(x["startup"] for x in v)
        print(f"\n{name}: import {imp:.2f} s CPU, index {idx:.2f} s CPU, a CLI call with nothing to do {floor:.2f} s (medians); "
              f"import rate {n / imp:,.0f} msg/CPU s = {base / imp:.3f} of the compat32 parse-only rate (goal >= 0.40); "
              f"without the start-up {base / max(imp - floor, 1e-9):.3f}")


if __name__ == "__main__":
    main()
