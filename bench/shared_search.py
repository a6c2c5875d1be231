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

`--from-index DIR` (session 7) skips building: an existing index (e.g. the 1 M documents of
bench/search_api.py) is hard-linked into home A, published to a local store and to moto (S3 over
HTTP, tests/peers/moto_server.py), and the cold path of replica B is taken apart: LIST + manifest,
transfer, unseal and write per MB (sequentially, part by part), the raw GET rate of moto for one
large object, the whole pull on 1 thread against `shipping.THREADS` (alternated A B A B), the first
query of a fresh replica without and with the start-up pre-warm, and the warm p50/p95.

    python -m bench.shared_search --from-index /tmp/sapi-1m/home/db/search/<org_id> --queries 300
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p * (len(xs) - 1)))]


def _latencies(run: Callable[[str], object], queries: list[tuple[str, str]]) -> list[float]:
    """Milliseconds of each query of the mix (a phrase quoted)."""
    lat = []
    for kind, q in queries:
        t = time.perf_counter()
        run(f'"{q}"' if kind == "phrase" else q)
        lat.append((time.perf_counter() - t) * 1000)
    return lat


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


def _mb(n: float) -> float:
    return n / 1e6


def _stores(which: list[str], work: Path) -> Iterator[tuple[str, object, Callable[[], None]]]:  # type: ignore[type-arg]
    from mailark.storage.local import LocalObjectStore
    from mailark.storage.s3 import S3ObjectStore

    for name in which:
        if name == "local":
            yield name, LocalObjectStore(work / "objects"), lambda: None
        else:
            from tests.peers.moto_server import start_moto_server

            endpoint, stop = start_moto_server()
            yield name, S3ObjectStore(endpoint, "testing", "testing-secret", "bench", secure=False), stop


def _raw_get(store: object, work: Path, mb: int = 256) -> dict[str, float]:  # type: ignore[type-arg]
    """The store's own speed, no unsealing: one `mb` MB object read whole, then the same bytes as
    16 MiB objects read one after the other and `shipping.THREADS` at a time."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from mailark.catalog.search import shipping

    data = os.urandom(mb << 20)
    store.put("bench/raw", data)  # type: ignore[attr-defined]
    parts = [f"bench/raw-{i}" for i in range(mb // 16)]
    for i, n in enumerate(parts):
        store.put(n, data[i << 24:(i + 1) << 24])  # type: ignore[attr-defined]
    del data
    t = time.perf_counter()
    got = len(store.get("bench/raw"))  # type: ignore[attr-defined]
    whole = time.perf_counter() - t
    t = time.perf_counter()
    seq = sum(len(store.get(n)) for n in parts)  # type: ignore[attr-defined]
    one = time.perf_counter() - t
    t = time.perf_counter()
    with ThreadPoolExecutor(shipping.THREADS) as ex:
        par = sum(ex.map(lambda n: len(store.get(n)), parts))  # type: ignore[attr-defined]
    many = time.perf_counter() - t
    for n in ["bench/raw", *parts]:
        store.delete(n)  # type: ignore[attr-defined]
    return {f"raw_get_{mb}MB_MBps": _mb(got) / whole, "raw_get_16MiB_1t_MBps": _mb(seq) / one,
            f"raw_get_16MiB_{shipping.THREADS}t_MBps": _mb(par) / many}


def _breakdown(shelf: object, org: str, out: Path) -> dict[str, float]:  # type: ignore[type-arg]
    """The cold path taken apart, sequentially, one part at a time (what the session-6 pull did per file)."""
    import os

    from mailark.catalog.search import shipping

    t = time.perf_counter()
    seq = shipping.latest_seq(shelf.store, org)  # type: ignore[attr-defined]
    list_s = time.perf_counter() - t
    t = time.perf_counter()
    man = shipping._manifest(shelf, org, seq)  # type: ignore[arg-type]
    manifest_s = time.perf_counter() - t
    out.mkdir(parents=True)
    get_s = open_s = write_s = 0.0
    sealed = plain = 0
    for fname, parts in man.files.items():
        fd = os.open(out / fname, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        at = 0
        for obj in parts:
            t = time.perf_counter()
            blob = shelf.store.get(obj)  # type: ignore[attr-defined]
            t2 = time.perf_counter()
            data = shelf.sealer.open(blob, obj)  # type: ignore[attr-defined]
            t3 = time.perf_counter()
            os.pwrite(fd, data, at)
            t4 = time.perf_counter()
            at += len(data)
            get_s, open_s, write_s = get_s + t2 - t, open_s + t3 - t2, write_s + t4 - t3
            sealed, plain = sealed + len(blob), plain + len(data)
        os.close(fd)
    shutil.rmtree(out)
    return {"list_ms": list_s * 1000, "manifest_ms": manifest_s * 1000, "sealed_MB": _mb(sealed),
            "plain_MB": _mb(plain), "transfer_MBps": _mb(sealed) / get_s, "unseal_MBps": _mb(plain) / open_s,
            "write_MBps": _mb(plain) / write_s, "sequential_s": get_s + open_s + write_s}


def _v1_publish(shelf: object, org: str, path: Path) -> int:  # type: ignore[type-arg]
    """The session-6 publish (format 1): each file read and sealed whole as one object."""
    import json

    from mailark.catalog.search import shipping

    files = {}
    for f in sorted(path.iterdir()):
        if not f.is_file() or f.name == shipping.SHIPPED_FILE or f.name.endswith((".lock", ".tmp")):
            continue
        data = f.read_bytes()
        obj = f"{shipping.prefix(org)}files/{shelf.name_digest(data).hex()}"  # type: ignore[attr-defined]
        shelf.store.put(obj, shelf.sealer.seal(data, obj))  # type: ignore[attr-defined]
        files[f.name] = obj
    name = f"{shipping.prefix(org)}gens/{1:012d}"
    shelf.store.put(name, shelf.sealer.seal(json.dumps({"files": files}).encode(), name))  # type: ignore[attr-defined]
    return 1


def _v1_pull(shelf: object, org: str, path: Path, seq: int) -> None:  # type: ignore[type-arg]
    """The session-6 pull, as it was: every file fetched, unsealed and written whole, one after the other."""
    import json

    from mailark.catalog.search import shipping

    name = f"{shipping.prefix(org)}gens/{seq:012d}"
    files = json.loads(shelf.sealer.open(shelf.store.get(name), name))["files"]  # type: ignore[attr-defined]
    path.mkdir(parents=True, mode=0o700)
    for fname, obj in files.items():
        (path / fname).write_bytes(shelf.sealer.open(shelf.store.get(obj), obj))  # type: ignore[attr-defined]


def _before_after(shelf: object, shelf_v1: object, org: str, org_v1: str, a_path: Path,  # type: ignore[type-arg]
                  work: Path) -> dict[str, float]:
    """Session 6's pull (format 1, sequential, whole files) against this one, A B A B, plus the
    Python-allocated peak of one pull of each (tracemalloc)."""
    import tracemalloc

    from mailark.catalog.search import shipping

    r: dict[str, float] = {}
    t = time.perf_counter()
    _v1_publish(shelf_v1, org_v1, a_path)
    r["v1_publish_s"] = time.perf_counter() - t
    seq = shipping.latest_seq(shelf.store, org)  # type: ignore[attr-defined]
    for rnd in range(2):
        for which in ("v1", "v2"):
            dest = work / f"ab-{which}" / org
            t = time.perf_counter()
            if which == "v1":
                _v1_pull(shelf_v1, org_v1, dest, 1)
            else:
                shipping.pull(shelf, org, dest, seq)  # type: ignore[arg-type]
            r[f"{which}_pull_s_{rnd}"] = time.perf_counter() - t
            shutil.rmtree(dest.parent)
    for which in ("v1", "v2"):
        dest = work / f"mem-{which}" / org
        tracemalloc.start()
        if which == "v1":
            _v1_pull(shelf_v1, org_v1, dest, 1)
        else:
            shipping.pull(shelf, org, dest, seq)  # type: ignore[arg-type]
        r[f"{which}_peak_MB"] = _mb(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        shutil.rmtree(dest.parent)
    for f in list(shelf_v1.store.list(shipping.prefix(org_v1))):  # type: ignore[attr-defined]
        shelf_v1.store.delete(f.name)  # type: ignore[attr-defined]
    return r


def from_index(src: Path, which: list[str], queries: list[tuple[str, str]], work: Path,
               before: bool = True) -> list[tuple[str, dict[str, float]]]:
    """Session 7: the cold and warm replica on an existing index (see the module docstring)."""
    import hashlib
    import json
    import os

    from mailark.catalog.search import shipping
    from mailark.catalog.search.index import index_dir
    from mailark.catalog.search.searcher import IndexCache, search
    from mailark.storage.crypto import DataKey, Sealer

    org = "bench-org"
    a_path = index_dir(work / "a" / "db", org)
    a_path.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and not f.name.endswith(".lock"):
            os.link(f, a_path / f.name)  # the source index is only read (its files are never written)
    mailboxes = json.loads((src / "state.json").read_text())["mailboxes"]
    allowed = {mailboxes[i] for i in (3, 17, 42)}
    key = DataKey(os.urandom(8), os.urandom(32))
    rows = []
    for name, store, stop in _stores(which, work):
        try:
            shelf = shipping.Shelf(store, Sealer(org, key), lambda b: hashlib.sha256(b).digest())  # type: ignore[arg-type]
            (a_path / shipping.SHIPPED_FILE).unlink(missing_ok=True)
            t = time.perf_counter()
            shipping.publish(shelf, org, a_path, None)
            r: dict[str, float] = {"publish_s": time.perf_counter() - t,
                                   "store_MB": _mb(sum(i.size for i in store.list(shipping.prefix(org))))}  # type: ignore[attr-defined]
            seq = shipping.latest_seq(store, org)  # type: ignore[arg-type]
            for rnd in range(2):  # an indexing run's publish with nothing new: every file read (session 6) or none
                for mode in ("read_all", "stats"):
                    if mode == "read_all":
                        doc = json.loads((a_path / shipping.SHIPPED_FILE).read_text())
                        doc.pop("stats", None)
                        (a_path / shipping.SHIPPED_FILE).write_text(json.dumps(doc))
                    t = time.perf_counter()
                    shipping.publish(shelf, org, a_path, seq)
                    r[f"republish_{mode}_s_{rnd}"] = time.perf_counter() - t
            r.update(_raw_get(store, work))
            r.update(_breakdown(shelf, org, work / "breakdown"))
            if before:
                shelf_v1 = shipping.Shelf(store, Sealer(org + "-v1", key), shelf.name_digest)  # type: ignore[arg-type]
                r.update(_before_after(shelf, shelf_v1, org, org + "-v1", a_path, work))
            seq = shipping.latest_seq(store, org)  # type: ignore[arg-type]
            for rnd in range(2):  # A B A B: one thread (the old sequential order), then THREADS
                for threads in (1, shipping.THREADS):
                    dest = work / f"pull{threads}" / org
                    t = time.perf_counter()
                    shipping.pull(shelf, org, dest, seq, threads=threads)  # type: ignore[arg-type]
                    r[f"pull_{threads}t_s_{rnd}"] = time.perf_counter() - t
                    shutil.rmtree(dest.parent)
            for warm in (False, True):  # a fresh replica: first query, without then with the pre-warm
                b_db = work / f"b-{warm}" / "db"
                shipping.registry.register(b_db, lambda store=store: store, lambda _o, shelf=shelf: shelf, 10.0)
                cache = IndexCache()
                t = time.perf_counter()
                if warm:
                    w = shipping.prewarm(b_db, [org])
                    w.done.wait()  # type: ignore[union-attr]
                    r["prewarm_s"] = time.perf_counter() - t
                t1 = time.perf_counter()
                search(b_db, org, queries[0][1], allowed, cache=cache)
                r["first_query_after_prewarm_ms" if warm else "cold_first_query_s"] = (
                    (time.perf_counter() - t1) * 1000 if warm else time.perf_counter() - t)
                if warm:
                    lat = _latencies(lambda text, db=b_db, c=cache: search(db, org, text, allowed, cache=c), queries)
                    r["warm_p50_ms"], r["warm_p95_ms"] = statistics.median(lat), _pct(lat, 0.95)
                    # the same with a refresh check (a LIST of the generations) before every query
                    shipping.registry.register(b_db, lambda store=store: store, lambda _o, shelf=shelf: shelf, 0.0)
                    lat = _latencies(lambda text, db=b_db, c=cache: search(db, org, text, allowed, cache=c), queries)
                    r["warm_list_each_p50_ms"], r["warm_list_each_p95_ms"] = statistics.median(lat), _pct(lat, 0.95)
                shipping.registry.unregister(b_db)
                shutil.rmtree(b_db.parent)
            for f in list(store.list(shipping.prefix(org))):  # type: ignore[attr-defined]
                store.delete(f.name)  # type: ignore[attr-defined]
            rows.append((name, r))
            print(name, {k: round(v, 2) for k, v in r.items()}, os.getloadavg(), flush=True)
        finally:
            stop()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--sample", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-tantivy", action="store_true", help="PostgreSQL alone (the tantivy row from --from-index)")
    ap.add_argument("--from-index", type=Path, help="an existing index to ship (no building, no PostgreSQL)")
    ap.add_argument("--no-before", action="store_true", help="--from-index: skip session 6's pull (format 1)")
    ap.add_argument("--stores", nargs="+", default=["local", "moto"], choices=["local", "moto"])
    args = ap.parse_args()
    texts = _texts(args.sample)
    queries = _queries(texts, args.queries)
    if args.from_index:
        import os

        work = Path(tempfile.mkdtemp(prefix="shared-search-"))
        try:
            print("load average before", os.getloadavg(), flush=True)
            for name, r in from_index(args.from_index, args.stores, queries, work, not args.no_before):
                print(f"\n{name}: " + ", ".join(f"{k} {v:,.2f}" for k, v in r.items()))
            print("load average after", os.getloadavg(), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    pg = None
    if not args.no_postgres:
        from tests.peers.postgres import start_postgres

        pg = start_postgres()
    rows = []
    try:
        for docs in args.docs:
            if not args.no_tantivy:
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
