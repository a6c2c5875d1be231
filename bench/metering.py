"""Metering cost at scale: a first (full) run vs an incremental run after a small change.

    python -m bench.metering --messages 1000000

The catalogue rows are SYNTHETIC: instead of ingesting a million messages (hours), the benchmark
appends realistic `messages`, `mailbox_items` and `objects` rows with DuckLake inserts, one commit
per batch of --batch messages as ingest makes them (so the lake has as many Parquet files as a real
import would: one per table and batch), with the shapes ingest writes: 1.3 copies per message,
one pack object per batch and a part object for 30 % of the messages, realistic sizes. A second
organization of --other messages shares the lake (its files must not be read). Then:

1. first run: full count of the organization (every row as of the current snapshot);
2. a run with nothing changed;
3. a small change: one more batch imported, and a few objects deleted (a compliance delete and an
   expired export), then the incremental run;
4. the same figures counted in full again, to compare and to check the totals agree.

Reports wall time and CPU time (this process, all threads: the fairer figure on a shared machine),
catalogue rows read, and the RSS of this process.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

OUT = Path(__file__).resolve().parent / "out"


def append_batch(rt, org_id: str, batch_no: int, first: int, n: int) -> None:  # type: ignore[no-untyped-def]
    """One ingest-sized commit of synthetic rows (messages first..first+n)."""
    from mailark.catalog.lake import catalog_lane

    con = rt.lake
    batch = f"b{batch_no:08d}"
    now = datetime.now(UTC)
    with catalog_lane(rt.settings, org_id, con, rt.store):
        con.execute("BEGIN")
        con.execute(
            """INSERT INTO lake.messages (org_id, message_key, batch_id, message_id, subject, from_addr, date, size,
                                          skeleton_ref, skeleton_size, attachment_count, first_seen)
               SELECT ?, md5(?::VARCHAR || i::VARCHAR), ?, '<' || i || '@bench>', 'subject ' || i, 'u' || (i % 500) || '@bench',
                      ?, 4000 + (i * 7919) % 60000, 'pack:' || i, 1200, CASE WHEN i % 10 < 3 THEN 1 ELSE 0 END, ?
               FROM range(?, ?) t(i)""",
            [org_id, org_id, batch, now, now, first, first + n],
        )
        con.execute(
            """INSERT INTO lake.mailbox_items (org_id, item_id, mailbox_id, mailbox, folder, message_key, copy_sha256, size,
                                               source, source_position, batch_id, archived_at)
               SELECT ?, md5('item' || i::VARCHAR || c::VARCHAR), 'mb' || (i % 500), 'u' || (i % 500) || '@bench',
                      CASE WHEN c = 0 THEN 'Sent' ELSE 'INBOX' END, md5(?::VARCHAR || i::VARCHAR),
                      sha256(i::VARCHAR || c::VARCHAR), 4000 + (i * 7919) % 60000, 'bench', i::VARCHAR, ?, ?
               FROM range(?, ?) t(i), range(0, 2) u(c) WHERE c = 0 OR i % 10 < 3""",
            [org_id, org_id, batch, now, first, first + n],
        )
        con.execute(
            """INSERT INTO lake.objects (org_id, object_key, kind, plain_size, stored_size, batch_id, created_at)
               SELECT ?, 'orgs/' || ? || '/objects/' || md5('part' || i::VARCHAR), 'part', 30000 + i % 200000,
                      (30000 + i % 200000) * 0.8, ?, ? FROM range(?, ?) t(i) WHERE i % 10 < 3
               UNION ALL SELECT ?, 'orgs/' || ? || '/packs/' || ?, 'pack', ? * 2600, ? * 900, ?, ?""",
            [org_id, org_id, batch, now, first, first + n, org_id, org_id, batch, n, n, batch, now],
        )
        con.execute("COMMIT")


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--other", type=int, default=100_000, help="messages of a second organization in the same lake")
    ap.add_argument("--batch", type=int, default=2000, help="messages per commit, as ingest's batch_messages")
    ap.add_argument("--repeat", type=int, default=5, help="repeat the read-only timings, keep the best")
    ap.add_argument("--keep", action="store_true", help="keep bench/out/home-metering for another look")
    a = ap.parse_args()

    home = OUT / "home-metering"
    shutil.rmtree(home, ignore_errors=True)
    os.environ["MAILARK_HOME"] = str(home)
    from mailark.catalog import usage as cat
    from mailark.catalog.lake import METADATA, catalog_lane
    from mailark.control.orgs import create_org
    from mailark.operations.metering import meter_org
    from mailark.runtime import open_runtime
    from mailark.config.settings import reset_settings_cache

    reset_settings_cache()
    rt = open_runtime()
    with rt.session() as s:
        org = create_org(s, "big", rt.master_key, users=500, storage_gb=10000).org
        other = create_org(s, "other", rt.master_key, users=50, storage_gb=1000).org

    t0 = time.perf_counter()
    n_batches = 0
    for first in range(0, a.messages, a.batch):
        append_batch(rt, org.id, n_batches, first, min(a.batch, a.messages - first))
        n_batches += 1
        if n_batches % 100 == 0:
            print(f"  {first + a.batch:,} messages in {time.perf_counter() - t0:.0f} s", flush=True)
    for first in range(0, a.other, a.batch):
        append_batch(rt, other.id, 10**6 + first // a.batch, first, min(a.batch, a.other - first))
    files = rt.lake.execute(f"SELECT count(*) FROM {METADATA}.ducklake_data_file WHERE end_snapshot IS NULL").fetchone()[0]
    build_s = time.perf_counter() - t0
    print(f"built {a.messages:,} + {a.other:,} messages in {n_batches} + {-(-a.other // a.batch)} commits, "
          f"{files} Parquet files, {build_s:.0f} s")

    results: dict[str, object] = {"messages": a.messages, "other_org_messages": a.other, "batch": a.batch,
                                  "parquet_files": files, "build_seconds": round(build_s, 1)}

    def run(label: str, **kw: object) -> dict[str, object]:
        t, c = time.perf_counter(), time.process_time()
        r = meter_org(rt, "big", **kw)  # type: ignore[arg-type]
        doc = {"mode": r.mode, "seconds": round(time.perf_counter() - t, 3), "cpu_seconds": round(time.process_time() - c, 3),
               "rows_read": r.rows_read,
               "storage_bytes": r.outcome["storage_bytes"], "rss_mb": round(rss_mb(), 1)}
        print(f"{label:<40} {doc}", flush=True)
        results[label] = doc
        return doc

    first_run = run("first run (full count)")
    run("no change")
    # a small change: one more ingest batch
    snap_before = cat.current_snapshot(rt.lake)
    append_batch(rt, org.id, n_batches, a.messages, a.batch)
    inc = run(f"incremental after +{a.batch} messages")
    snap_after = cat.current_snapshot(rt.lake)
    # and a deletion: two objects (a compliance delete, an expired export)
    with catalog_lane(rt.settings, org.id, rt.lake, rt.store):
        rt.lake.execute("DELETE FROM lake.objects WHERE org_id = ? AND object_key IN (?, ?)",
                        [org.id, f"orgs/{org.id}/packs/b00000001", f"orgs/{org.id}/packs/b00000002"])
    run("incremental after deleting 2 objects")
    full = run("full count of the same state", full=True)
    assert results["incremental after deleting 2 objects"]["storage_bytes"] == full["storage_bytes"], "counts disagree"  # type: ignore[index]
    # the catalogue reading alone (without the control-plane transaction and the usage row), best of
    # --repeat: the machine is shared, so the minimum is the figure least disturbed by others
    def best(fn):  # type: ignore[no-untyped-def]
        times, cpus = [], []
        for _ in range(a.repeat):
            t, c = time.perf_counter(), time.process_time()
            value = fn()
            times.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        return value, min(times), min(cpus)

    f_changes, t_changes, c_changes = best(lambda: cat.changes(rt.lake, org.id, snap_before, snap_after))
    f_full, t_full, c_full = best(lambda: cat.full_count(rt.lake, org.id, snap_after))
    _, t_none, c_none = best(lambda: meter_org(rt, "big"))
    results["catalogue read only"] = {"changes_seconds": round(t_changes, 3), "changes_cpu_seconds": round(c_changes, 3),
                                      "changes_rows": f_changes.rows_read,
                                      "full_seconds": round(t_full, 3), "full_cpu_seconds": round(c_full, 3),
                                      "full_rows": f_full.rows_read,
                                      "no_change_run_seconds": round(t_none, 3), "no_change_run_cpu_seconds": round(c_none, 3)}
    print("best of", a.repeat, results["catalogue read only"])
    results["speedup_incremental_vs_full"] = round(float(first_run["seconds"]) / max(float(inc["seconds"]), 1e-6), 1)  # type: ignore[arg-type]
    results["read_speedup_changes_vs_full"] = round(t_full / max(t_changes, 1e-6), 1)
    with rt.session() as s:
        from mailark.control.models import MeteringState

        st = s.get(MeteringState, org.id)
        results["totals"] = {"messages": st.messages, "copies": st.copies, "object_bytes": st.object_bytes,
                             "lake_bytes": st.lake_bytes}
    print(json.dumps(results, indent=2))
    rt.close()
    if not a.keep:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
