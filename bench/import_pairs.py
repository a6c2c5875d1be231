"""`mailark import` alone, this checkout against a commit, in alternating pairs (issue 16).

    python -m bench.import_pairs --before 006d607 --pairs 15

Why: `bench.vs_indexers` runs five tools a round, so a round spans half a minute in which this
machine's speed drifts by 10-20 %. Here each pair is the compat32 parse-only baseline and both
imports back to back (their order alternating), so the ratio of each pair is measured within a
few seconds; the medians of the pairs are printed. Same maildir, same fresh homes and the same
child-process CPU accounting as `bench.vs_indexers` (its functions).
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

from bench.vs_indexers import OUT, REPO, build_maildir, checkout, child_cpu, compiled, fresh_home, parse_baseline_cpu


def import_cpu(maildir: Path, home: Path, code: Path | None) -> float:
    """CPU of one `mailark import --no-index` of the maildir into a fresh home (its catalogue made before)."""
    cli, env = fresh_home(home, code)
    cpu, _ = child_cpu([*cli, "import", str(maildir), "--org", "bench", "--mailbox", "a@bench", "--json", "--no-index"],
                       env, code or REPO)
    return cpu


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILARK_TEST_CORPUS", "/work/shared/corpus")))
    ap.add_argument("--before", required=True, help="the commit to compare with")
    ap.add_argument("--pairs", type=int, default=15)
    args = ap.parse_args(argv)
    compiled(REPO)
    maildir = OUT / "maildir"
    n = build_maildir(args.corpus, maildir)
    sides = {"now": None, args.before[:7]: checkout(args.before)}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    ratio: dict[str, list[float]] = {k: [] for k in sides}
    for i in range(args.pairs):
        _, base = parse_baseline_cpu(maildir)
        for name in (list(sides) if i % 2 == 0 else list(sides)[::-1]):
            c = import_cpu(maildir, OUT / f"pairs-{name}", sides[name])
            cpu[name].append(c)
            ratio[name].append(base / c)
        print(f"pair {i + 1}: parse-only {base:.2f} s, " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in cpu.items()),
              flush=True)
    print(f"\n{n:,} messages, {args.pairs} pairs; medians:")
    print("\n| mailark | import CPU s | import / compat32 parse-only, per pair (goal >= 0.40) |")
    print("|---|---|---|")
    for name in sides:
        print(f"| {name} | {statistics.median(cpu[name]):.3f} | {statistics.median(ratio[name]):.3f} |")
    now, before = (statistics.median(cpu[k]) for k in sides)
    print(f"\nnow / {args.before[:7]}: {now / before:.3f} (median CPU)")


if __name__ == "__main__":
    main()
