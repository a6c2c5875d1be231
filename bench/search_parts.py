"""The same documents searched as one index and as parts, in process, query by query alternated.

Two homes made by bench.search_api from the same generator (the same organization, users and
documents), one whose index is in one part and one in parts (`--parts`). Each query of the API
bench's mix runs once on each, for a Reader, an Admin and a Compliance officer, in alternating
order; the totals and the dates of every page must be equal, and the p50 / p95 of the single
measurements are printed as JSON.

    python -m bench.search_api --docs 1000000 --queries 1 --keep /tmp/sapi-1m-v2 --parts 1
    python -m bench.search_api --docs 1000000 --queries 1 --keep /tmp/sapi-1m-p2b --parts 2
    python -m bench.search_parts --one /tmp/sapi-1m-v2/home --in-parts /tmp/sapi-1m-p2b/home --queries 300
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bench.search_api import pct, queries, sample_texts
from mailark.catalog.search.index import index_dir, read_state
from mailark.catalog.search.searcher import IndexCache, search


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--one", type=Path, required=True, help="the home whose index is in one part")
    ap.add_argument("--in-parts", type=Path, required=True, help="the home with the same documents in parts")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--sample", type=int, default=3000)
    a = ap.parse_args()
    homes = {"one part": a.one, "parts": a.in_parts}
    infos = {k: json.loads((h / "bench.json").read_text()) for k, h in homes.items()}
    ids = {k: list(i["mailbox_ids"]) for k, i in infos.items()}
    scopes = {"reader": (slice(0, 3), False), "admin": (slice(10, None), False), "compliance": (slice(None), True)}
    caches = {k: IndexCache() for k in homes}
    lat: dict[tuple[str, str], list[float]] = {(r, k): [] for r in scopes for k in homes}
    differ = 0

    def run(role: str, k: str, q: str) -> tuple[int, list[object]]:
        cut, every = scopes[role]
        t = time.perf_counter()
        page = search(homes[k] / "db", str(infos[k]["org_id"]), q, set(ids[k][cut]), every_mailbox=every, cache=caches[k])
        lat[(role, k)].append((time.perf_counter() - t) * 1000)
        return page.total, [h.date for h in page.hits]

    for role in scopes:
        for k in homes:
            run(role, k, "warmup")
            lat[(role, k)].clear()
    for i, q in enumerate(queries(sample_texts(a.sample), a.queries)):
        for role in scopes:
            order = list(homes) if i % 2 else list(homes)[::-1]
            got = {k: run(role, k, q) for k in order}
            differ += got["one part"] != got["parts"]
    print(json.dumps({
        "parts": {k: getattr(read_state(index_dir(h / "db", str(infos[k]["org_id"]))), "parts", None) for k, h in homes.items()},
        "queries_per_principal": a.queries, "load_average": os.getloadavg()[0], "pages_that_differ": differ,
        "by_principal": {role: {k: {"p50_ms": pct(lat[(role, k)], 0.5), "p95_ms": pct(lat[(role, k)], 0.95),
                                    "mean_ms": round(statistics.mean(lat[(role, k)]), 2)} for k in homes}
                         for role in scopes},
    }, indent=2))


if __name__ == "__main__":
    main()
