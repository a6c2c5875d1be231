"""Memory of a large import: peak RSS of `mailark import` on a multi-GB mbox of generated mail.

    python -m bench.memory --gb 2

Writes the mbox once (bench/out/), then imports it in a fresh home in a child process and
reports the child's peak RSS; the goal is under 500 MB whatever the input size.
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
from pathlib import Path

from bench.generate import generate_org_mail

OUT = Path(__file__).resolve().parent / "out"


def write_mbox(path: Path, target_bytes: int) -> tuple[int, int]:
    if path.exists() and path.with_suffix(".complete").exists():
        return int(path.with_suffix(".complete").read_text()), path.stat().st_size
    n = 0
    with path.open("wb") as f:
        for c in generate_org_mail(50, 10**9, seed=7):
            if c.folder != "Inbox":
                continue
            body = b"\n".join(b">" + ln if ln.lstrip(b">").startswith(b"From ") else ln for ln in c.raw.split(b"\n"))
            f.write(b"From mailark@bench Mon Jan  1 00:00:00 2024\n" + body + b"\n\n")
            n += 1
            if f.tell() >= target_bytes:
                break
    path.with_suffix(".complete").write_text(str(n))
    return n, path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=2.0)
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    mbox = OUT / f"bench-{a.gb:g}gb.mbox"
    n, size = write_mbox(mbox, int(a.gb * 1e9))
    home = OUT / "home-memory"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "MAILARK_HOME": str(home), "MAILARK_PREFECT_API_URL": "http://127.0.0.1:9/api"}
    mailark = [sys.executable, "-m", "mailark.cli"]
    repo = Path(__file__).resolve().parents[1]
    subprocess.run([*mailark, "org", "create", "bench"], env=env, check=True, capture_output=True, cwd=repo)
    t = time.perf_counter()
    p = subprocess.run([*mailark, "import", str(mbox), "--org", "bench", "--mailbox", "a@bench", "--json"],
                       env=env, capture_output=True, text=True, cwd=repo)
    seconds = time.perf_counter() - t
    if p.returncode:
        raise SystemExit(p.stderr)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    doc = json.loads(p.stdout)
    print(f"mbox {size / 1e9:.2f} GB, {n} messages: {doc['archived']} archived in {seconds:.0f} s; "
          f"peak RSS of the import {rss:.0f} MB (goal < 500 MB; batch bytes {os.environ.get('MAILARK_BATCH_BYTES', 'default')})")


if __name__ == "__main__":
    main()
