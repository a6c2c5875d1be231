"""Compaction benchmark: a catalogue of many small batches, before and after the nightly compaction.

    python -m bench.compaction --messages 20000 --batch 50

Ingests generated mail in small batches (each batch is one DuckLake commit and adds a Parquet
file per table), then measures live Parquet files, a typical analyst query, the ingest existence
check of a batch, and the time of one more batch; runs the maintenance compaction (merge adjacent
files, expire snapshots, delete old files) and measures the same again. Times are medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def median_seconds(fn, runs: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--batch", type=int, default=50, help="messages per batch (small on purpose)")
    a = ap.parse_args()

    home = OUT / "home-compaction"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["MAILARK_HOME"] = str(home)
    import pyarrow as pa

    from bench.generate import generate_org_mail
    from mailark.catalog.ingest import BatchWriter, Incoming, _query_with
    from mailark.catalog.maintenance import compact, live_files
    from mailark.control.orgs import create_org, ensure_mailbox
    from mailark.sources.files.importing import batches
    from mailark.runtime import open_runtime

    rt = open_runtime()
    with rt.session() as s:
        org, _ = create_org(s, "bench", rt.master_key, users=10_000, storage_gb=1000)
    archive = rt.archive_for(org)
    writer = BatchWriter(archive, "bench", "bench")
    mailboxes: dict[str, tuple[str, str]] = {}

    def incoming(n: int, seed: int):  # type: ignore[no-untyped-def]
        for c in generate_org_mail(a.users, n, seed=seed, attachment_share=0.02):
            mb = mailboxes.get(c.mailbox)
            if mb is None:
                with rt.session() as s:
                    m, _ = ensure_mailbox(s, org, c.mailbox)
                mb = mailboxes[c.mailbox] = (m.id, m.primary_address)
            yield Incoming(c.raw, mb[0], mb[1], c.folder, "generated", f"{seed}/{c.message_no}/{c.mailbox}/{c.folder}")

    t0 = time.perf_counter()
    n_batches = 0
    for batch in batches(incoming(a.messages, 1), a.batch, 1 << 40):
        writer.write(batch)
        n_batches += 1
    print(f"ingested {a.messages} messages in {n_batches} batches in {time.perf_counter() - t0:.0f} s")

    con = rt.lake
    shas = [r[0] for r in con.execute("SELECT copy_sha256 FROM lake.mailbox_items USING SAMPLE 2000 ROWS").fetchall()]
    query = ("SELECT folder, count(*), sum(size) FROM lake.mailbox_items WHERE org_id = ? GROUP BY ALL")
    check = ("SELECT mailbox_id, folder, copy_sha256 FROM lake.mailbox_items WHERE org_id = ? "
             "AND copy_sha256 IN (SELECT v FROM _cand)")
    extra = iter(range(100, 10_000))

    def measure() -> dict[str, float]:
        more = list(incoming(a.batch * 4, next(extra)))[: a.batch * 4]
        return {
            "files": live_files(con),
            "query_ms": 1000 * median_seconds(lambda: con.execute(query, [org.id]).fetchall()),
            "check_ms": 1000 * median_seconds(lambda: _query_with(con, pa.table({"v": shas}), check, [org.id])),
            "batch_ms": 1000 * median_seconds(lambda: writer.write(more), runs=1),
        }

    before = measure()
    t = time.perf_counter()
    report = compact(rt.settings, con, rt.store, [org.id], now=datetime.now(UTC), retention=timedelta(0))
    seconds = time.perf_counter() - t
    after = measure()
    print(f"compaction: {report.files_before} -> {report.files_after} live files, {report.snapshots_expired} snapshots "
          f"expired, {report.files_deleted} files deleted, {seconds:.1f} s")
    print("| | live Parquet files | analyst query (ms) | ingest check of 2,000 copies (ms) | one more batch (ms) |")
    print("|---|---|---|---|---|")
    for name, m in (("before", before), ("after", after)):
        print(f"| {name} | {m['files']:.0f} | {m['query_ms']:.1f} | {m['check_ms']:.1f} | {m['batch_ms']:.0f} |")
    rt.close()


if __name__ == "__main__":
    main()
