"""Search every replica can read (issue 17): the tantivy index shipped through the object store vs
PostgreSQL full-text search, side by side in one run, at each `--docs` size.

* shipped (what `search.shared` does): the index is built on home A (bench.search.build, the same
  documents as bench/search.py), published as a sealed generation to a local object store
  (catalog.search.shipping), then a replica B with an empty db/ serves its first query (the pull of
  the whole index included: "cold"), then `--queries` queries warm (refresh checks included).
* postgres: the same documents in a table with a `tsvector` (config 'simple', the fields weighted
  like ours) under a GIN index, on a real server (tests/peers/postgres.py); the same query mix, with
  the mailbox permission clause and newest-first paging (LIMIT 25 plus the total count, as the API).

    python -m bench.shared_search --docs 100000 300000 --sample 2000 --queries 300
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


def _texts(sample: int) -> list:  # type: ignore[type-arg]
    from bench.generate import generate_org_mail
    from mailark.catalog.search.text import message_text

    return [message_text(c.raw) for c in generate_org_mail(200, sample, seed=11) if c.folder == "Sent"]


def _queries(texts: list, n: int) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    """(kind, word-or-phrase) pairs both engines can answer: words, two-word phrases, sender names."""
    words = [w for t in texts[:200] for w in t.subject.split() if w.isalpha() and len(w) > 4][:50] or ["report"]
    r = random.Random(9)
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(("word", r.choice(words).lower()))
        elif i % 3 == 1:
            out.append(("phrase", " ".join(r.choice(texts).subject.split()[:2]).lower()))
        else:
            out.append(("word", r.choice(words).lower()))
    return out


def shipped(texts: list, docs: int, queries: list[tuple[str, str]], work: Path) -> dict[str, float]:  # type: ignore[type-arg]
    import os

    from bench.search import build, dir_bytes
    from mailark.catalog.search import shipping
    from mailark.catalog.search.index import index_dir
    from mailark.catalog.search.searcher import IndexCache, search
    from mailark.storage.crypto import DataKey, Sealer
    from mailark.storage.local import LocalObjectStore

    store = LocalObjectStore(work / "objects")
    key = DataKey(os.urandom(8), os.urandom(32))
    shelf = shipping.Shelf(store, Sealer("bench-org", key), lambda b: __import__("hashlib").sha256(b).digest())
    a_db, b_db = work / "a" / "db", work / "b" / "db"
    path = index_dir(a_db, "bench-org")
    index_s = build(path, texts, docs, 2, 256)
    t = time.monotonic()
    shipping.publish(shelf, "bench-org", path, None)
    publish_s = time.monotonic() - t
    stored = sum(i.size for i in store.list(shipping.prefix("bench-org")))
    shipping.registry.register(b_db, lambda: store, lambda _org: shelf, 10.0)
    allowed = {f"mb{i:03d}" for i in (3, 17, 42)}
    cache = IndexCache()
    t = time.perf_counter()
    search(b_db, "bench-org", queries[0][1], allowed, cache=cache)
    cold_ms = (time.perf_counter() - t) * 1000
    lat = []
    for kind, q in queries:
        text = f'"{q}"' if kind == "phrase" else q
        t = time.perf_counter()
        search(b_db, "bench-org", text, allowed, cache=cache)
        lat.append((time.perf_counter() - t) * 1000)
    shipping.registry.unregister(b_db)
    return {"index_s": index_s, "docs_per_s": docs / index_s, "publish_s": publish_s,
            "local_mb": dir_bytes(path) / 1e6, "store_mb": stored / 1e6, "cold_ms": cold_ms,
            "p50": statistics.median(lat), "p95": _pct(lat, 0.95)}


def postgres(texts: list, docs: int, queries: list[tuple[str, str]], libpq: str) -> dict[str, float]:  # type: ignore[type-arg]
    import psycopg

    rng = random.Random(5)
    with psycopg.connect(libpq, autocommit=True) as con:
        con.execute("DROP TABLE IF EXISTS docs")
        con.execute("CREATE TABLE docs (item_id text PRIMARY KEY, mailbox_id text, ts bigint, subject text, "
                    "sender text, tsv tsvector)")
        t = time.monotonic()
        # The tsvector is computed by the server (to_tsvector), as a deployment would: staged as text first.
        con.execute("CREATE UNLOGGED TABLE IF NOT EXISTS stage (item_id text, mailbox_id text, ts bigint, "
                    "subject text, sender text, rcpt text, body text)")
        con.execute("TRUNCATE stage")
        with con.cursor() as cur, cur.copy("COPY stage FROM STDIN") as cp:
            for n in range(docs):
                tx = texts[n % len(texts)]
                cp.write_row((f"item{n:08d}", f"mb{rng.randrange(100):03d}", 1577836800 + rng.randrange(157680000),
                              tx.subject, " ".join(tx.from_), " ".join(tx.to + tx.cc),
                              tx.body + " " + (tx.attachment_text or "")))
        con.execute("INSERT INTO docs SELECT item_id, mailbox_id, ts, subject, sender, "
                    "setweight(to_tsvector('simple', coalesce(subject,'')), 'A') || "
                    "setweight(to_tsvector('simple', coalesce(sender,'')), 'B') || "
                    "setweight(to_tsvector('simple', coalesce(rcpt,'')), 'C') || "
                    "to_tsvector('simple', coalesce(body,'')) FROM stage")
        con.execute("CREATE INDEX docs_tsv ON docs USING gin (tsv)")
        con.execute("CREATE INDEX docs_mb_ts ON docs (mailbox_id, ts DESC)")
        con.execute("ANALYZE docs")
        index_s = time.monotonic() - t
        con.execute("DROP TABLE stage")
        size = con.execute("SELECT pg_total_relation_size('docs')").fetchone()[0]  # type: ignore[index]
        allowed = ["mb003", "mb017", "mb042"]
        lat = []
        for kind, q in queries:
            fn = "phraseto_tsquery" if kind == "phrase" else "plainto_tsquery"
            t1 = time.perf_counter()
            con.execute(f"SELECT item_id, subject, sender, ts FROM docs WHERE tsv @@ {fn}('simple', %s) "
                        "AND mailbox_id = ANY(%s) ORDER BY ts DESC LIMIT 25", [q, allowed]).fetchall()
            con.execute(f"SELECT count(*) FROM docs WHERE tsv @@ {fn}('simple', %s) AND mailbox_id = ANY(%s)",
                        [q, allowed]).fetchone()
            lat.append((time.perf_counter() - t1) * 1000)
        con.execute("DROP TABLE docs")
    return {"index_s": index_s, "docs_per_s": docs / index_s, "store_mb": size / 1e6,
            "p50": statistics.median(lat), "p95": _pct(lat, 0.95)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--sample", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--no-postgres", action="store_true")
    args = ap.parse_args()
    texts = _texts(args.sample)
    queries = _queries(texts, args.queries)
    pg = None
    if not args.no_postgres:
        from tests.peers.postgres import start_postgres

        pg = start_postgres()
    rows = []
    try:
        for docs in args.docs:
            work = Path(tempfile.mkdtemp(prefix="shared-search-"))
            try:
                s = shipped(texts, docs, queries, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            rows.append((docs, "tantivy shipped", s))
            print(docs, "tantivy shipped", {k: round(v, 2) for k, v in s.items()}, flush=True)
            if pg is not None:
                p = postgres(texts, docs, queries, pg.libpq())
                rows.append((docs, "postgres tsvector", p))
                print(docs, "postgres tsvector", {k: round(v, 2) for k, v in p.items()}, flush=True)
    finally:
        if pg is not None:
            pg.stop()
    print("\n| docs | engine | p50 ms | p95 ms | cold first query ms | docs/s indexed | publish s | storage MB |")
    print("|---|---|---|---|---|---|---|---|")
    for docs, name, r in rows:
        print(f"| {docs:,} | {name} | {r['p50']:.1f} | {r['p95']:.1f} | {r.get('cold_ms', float('nan')):.0f} | "
              f"{r['docs_per_s']:,.0f} | {r.get('publish_s', float('nan')):.1f} | {r['store_mb']:.0f} |")


if __name__ == "__main__":
    main()
