"""Ingest benchmark: end-to-end archive rate against a parse-only baseline, measured in one run.

    python -m bench.ingest --users 50 --messages 20000            # generated organization mail
    python -m bench.ingest --corpus ../shared/corpus --messages 0 # the real-mail corpus only

Both sides run pinned to one core on the same bytes, read from the same files (the page cache
is warmed first): the baseline parses each file with `email.message_from_bytes(...,
policy=compat32)` and does nothing else; ingest runs the whole pipeline (parse, split, dedup,
compress, encrypt, store, catalogue) in a child process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.baseline import parse_baseline

OUT = Path(__file__).resolve().parent / "out"


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def message_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def baseline(files: list[Path]) -> dict[str, float]:
    """compat32 parse of every file's bytes; reading is not timed."""
    return asdict(parse_baseline(p.read_bytes() for p in files))


def generate(users: int, messages: int, seed: int) -> Path:
    from bench.generate import generate_org_mail, write_tree

    tree = OUT / f"gen-u{users}-m{messages}-s{seed}"
    if (tree / ".complete").exists():
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    t = time.perf_counter()
    write_tree(generate_org_mail(users, messages, seed=seed), tree)
    (tree / ".complete").write_text(f"{time.perf_counter() - t:.1f}s\n")
    return tree


def run_ingest_child(tree: Path, home: Path, per_mailbox: bool) -> dict[str, object]:
    """Archive `tree` into a fresh home in a child process (one core); returns its figures."""
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"}
    cmd = [sys.executable, "-m", "bench.ingest", "--child", str(tree)] + (["--per-mailbox"] if per_mailbox else [])
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    if p.returncode != 0:
        raise SystemExit(f"ingest child failed:\n{p.stderr}")
    return json.loads(p.stdout)


def child(tree: Path, per_mailbox: bool) -> None:
    pin_one_core()
    from mailark.catalog.stats import org_stats
    from mailark.control.orgs import create_org
    from mailark.sources.files.importing import run_import
    from mailark.runtime import open_runtime

    rt = open_runtime()
    with rt.session() as s:
        create_org(s, "bench", rt.master_key, users=10_000, storage_gb=1000)
    jobs = (
        [(f"{d.name}", [d]) for d in sorted(tree.iterdir()) if d.is_dir()]
        if per_mailbox
        else [("archive@bench", [tree])]
    )
    # Steady state: pay imports and catalogue start-up before the clock starts.
    import extract_msg  # noqa: F401
    import pyarrow as pa
    import pypff  # noqa: F401

    rt.archive_for(rt.org("bench"))
    rt.lake.register("_warm", pa.table({"v": ["x"]}))
    rt.lake.execute("SELECT * FROM _warm").fetchall()
    rt.lake.unregister("_warm")

    seen = archived = dup = quar = nbytes = 0
    t = time.perf_counter()
    for mailbox, srcs in jobs:
        r = run_import(rt, "bench", mailbox if "@" in mailbox else f"{mailbox}@bench", srcs)
        c = r.counts
        seen, archived, dup, quar, nbytes = seen + c.seen, archived + c.archived, dup + c.duplicates, quar + c.quarantined, nbytes + r.bytes
    seconds = time.perf_counter() - t
    st = org_stats(rt.archive_for(rt.org("bench")))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    json.dump(
        {
            "seen": seen, "archived": archived, "duplicates": dup, "quarantined": quar, "bytes": nbytes,
            "seconds": seconds, "messages_per_s": seen / seconds, "mb_per_s": nbytes / seconds / 1e6,
            "peak_rss_mb": rss / 2**20, **{f"stats_{k}": v for k, v in st.items()},
        },
        sys.stdout,
    )


def report(name: str, base: dict[str, float], ing: dict[str, object]) -> dict[str, object]:
    ratio = float(ing["messages_per_s"]) / base["messages_per_s"]  # type: ignore[arg-type]
    stored = int(ing["stats_stored_bytes"])  # type: ignore[arg-type]
    raw = int(ing["stats_raw_bytes"]) + int(ing["stats_quarantined_bytes"])  # type: ignore[arg-type]
    print(f"\n== {name}")
    print(f"  baseline (compat32 parse only): {base['messages_per_s']:9.0f} msg/s {base['mb_per_s']:7.1f} MB/s  ({base['messages']} files)")
    print(f"  mailark ingest (end to end):   {ing['messages_per_s']:9.0f} msg/s {ing['mb_per_s']:7.1f} MB/s  peak RSS {ing['peak_rss_mb']:.0f} MB")
    print(f"  ingest / baseline rate:         {ratio:6.1%}   (goal >= 33 %)")
    print(f"  stored / raw bytes:             {stored / raw:6.1%}   ({stored:,} of {raw:,}; {ing['stats_messages']} messages, {ing['stats_copies']} copies)")
    return {"name": name, "baseline": base, "ingest": ing, "rate_ratio": ratio, "stored_ratio": stored / raw}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--messages", type=int, default=20000, help="logical messages to generate (0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corpus", type=Path, help="also measure on this corpus of real mail")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--per-mailbox", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.per_mailbox)
        return
    pin_one_core()
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    if a.messages:
        tree = generate(a.users, a.messages, a.seed)
        files = message_files(tree)
        base = baseline(files)  # also warms the page cache for the ingest run
        ing = run_ingest_child(tree, OUT / "home-generated", per_mailbox=True)
        results.append(report(f"generated: {a.users} users, {a.messages} messages, {len(files)} copies", base, ing))
    if a.corpus:
        files = message_files(a.corpus)
        base = baseline(files)
        ing = run_ingest_child(a.corpus, OUT / "home-corpus", per_mailbox=False)
        results.append(report(f"corpus {a.corpus}", base, ing))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"ingest-{stamp}.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
