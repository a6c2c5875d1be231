"""Which queries make the search p95 at 1 M documents, with and without the `pairs` field, in one run.

On the home `bench.search_api --keep DIR` built (its index must be of schema version 2), each query
of bench.search_api's mix runs in process for each principal twice: compiled with the pairs (as the
searcher does for a schema-2 index) and without them (the phrase alone, as before schema 2), best of
`--repeat` each, A and B alternated. Prints the slowest queries and p50/p95 both ways.

    python -m bench.search_tail --keep /tmp/sapi-1m-v2 --queries 60
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import tantivy

from bench.search_api import queries, sample_texts
from mailark.catalog.search.index import PAIRS_SINCE, index_dir, open_index, read_state
from mailark.catalog.search.query import compile_query


def pct(v: list[float], p: float) -> float:
    s = sorted(v)
    return round(s[int(p * (len(s) - 1))], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", type=Path, required=True, help="the work directory of bench.search_api --keep")
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--sample", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--show", type=int, default=12)
    a = ap.parse_args()
    home = a.keep / "home"
    info = json.loads((home / "bench.json").read_text())
    path = index_dir(home / "db", info["org_id"])
    state = read_state(path)
    if state is None or state.schema_version < PAIRS_SINCE:
        raise SystemExit(f"{path} is not an index of schema version {PAIRS_SINCE} or later: build it again")
    if state.parts > 1:
        raise SystemExit(f"{path} is in {state.parts} parts; this bench times queries on one index: build one "
                         "with `python -m bench.search_api --parts 1 ...` (bench.search_parts compares the two)")
    searcher = open_index(path).searcher()
    ids = list(info["mailbox_ids"])
    indexed = frozenset(state.mailboxes or ids)
    principals = {"reader": (set(ids[:3]), False), "admin": (set(ids[10:]), False), "compliance": (set(ids), True)}
    qs = queries(sample_texts(a.sample), a.queries)

    def timed(q: tantivy.Query) -> tuple[float, int]:
        best, count = float("inf"), 0
        for _ in range(a.repeat):
            t = time.perf_counter()
            r = searcher.search(q, limit=25, count=True, order_by_field="ts", order=tantivy.Order.Desc)
            best, count = min(best, time.perf_counter() - t), int(r.count or 0)
        return best * 1000, count

    rows = []
    for role, (allowed, every) in principals.items():
        for i, text in enumerate(qs):
            ways = (True, False) if i % 2 == 0 else (False, True)  # A B, then B A
            got = {}
            for pairs in ways:
                got[pairs] = timed(compile_query(text, allowed, every_mailbox=every, indexed_mailboxes=indexed,
                                                 pairs=pairs))
            if got[True][1] != got[False][1]:
                raise SystemExit(f"{role} {text!r}: {got[True][1]} matches with the pairs, {got[False][1]} without")
            rows.append((role, text, got[True][0], got[False][0], got[True][1]))
    print(f"slowest without the pairs ({len(qs)} queries per principal, best of {a.repeat}, ms):")
    for role, text, on, off, n in sorted(rows, key=lambda r: -r[3])[:a.show]:
        print(f"  {off:6.1f} -> {on:6.1f}  {n:>8} matches  {role:10} {text!r}")
    print("slowest with the pairs:")
    for role, text, on, off, n in sorted(rows, key=lambda r: -r[2])[:a.show]:
        print(f"  {on:6.1f}  {n:>8} matches  {role:10} {text!r}")
    print("index alone, p50 / p95 ms, without the pairs -> with them:")
    for role in principals:
        on = [r[2] for r in rows if r[0] == role]
        off = [r[3] for r in rows if r[0] == role]
        print(f"  {role:10} {pct(off, 0.5)} / {pct(off, 0.95)} -> {pct(on, 0.5)} / {pct(on, 0.95)}")


if __name__ == "__main__":
    main()
