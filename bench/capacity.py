"""The capacity model (issue 17): unit costs measured here, scaled to a deployment; prints the table.

    python -m bench.capacity                                   # the table for 10,000 orgs, 1 B messages, 50 TB
    python -m bench.capacity --orgs 20000 --messages 2e9 --raw-tb 100
    python -m bench.capacity --measure 3000                    # re-measure the per-message unit costs

Every unit cost is in UNITS below with the command (or BENCHMARKS.md section) it came from; the
model only multiplies. ``--measure N`` ingests N generated messages (bench/generate.py, all their
copies, 30 % with attachments) into a fresh home with BatchWriter, compacts as the nightly
maintenance does, and prints the per-message figures that go into UNITS (catalogue rows and
Parquet bytes, DuckLake metadata rows, objects and their bytes, stored/raw).
docs/capacity.md explains the figures and names what breaks first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

# value, unit, where it was measured. Change a figure only together with its source.
UNITS: dict[str, tuple[float, str, str]] = {
    # --- catalogue and objects: python -m bench.capacity --measure 3000 (2026-12-04, branch orchestrator:
    #     3,000 generated messages, 10,047 copies, 1.13 GB raw, 30 % with attachments, 17 batches)
    "copies_per_message": (3.35, "copies", "python -m bench.capacity --measure 3000"),
    "catalog_rows_per_message": (5.28, "rows", "python -m bench.capacity --measure 3000 (all lake tables)"),
    "parquet_bytes_per_message": (648.0, "bytes", "python -m bench.capacity --measure 3000 (after compaction)"),
    "objects_per_message": (0.381, "objects", "python -m bench.capacity --measure 3000"),
    "stored_over_raw": (0.154, "ratio", ("python -m bench.capacity --measure 3000 (BENCHMARKS.md 'Scale': "
                                                 "12.0 % with 2 % attachments)")),
    "batch_raw_bytes": (66.4e6, "bytes", "python -m bench.capacity --measure 3000 (1.13 GB in 17 batches)"),
    "metadata_rows_per_batch": (85.2, "rows", ("python -m bench.capacity --measure 3000 (DuckLake metadata, "
                                         "before compaction)")),
    "metadata_rows_per_org_compacted": (277.0, "rows", "python -m bench.capacity --measure 3000 (after compaction)"),
    "metadata_row_bytes": (167.0, "bytes", ("python -m bench.capacity --measure 3000 (SQLite file / rows; "
                                    "PostgreSQL with its indexes: assume 2x)")),
    # --- ingest: BENCHMARKS.md 'Scale: 1 million copies', session 3 (python -m bench.scale --messages 1000000 ...)
    "ingest_copies_per_core_s": (1457.0, "copies/s", "BENCHMARKS.md 'Scale', session 3: 1,457 copies/s, 1 process"),
    # --- search: BENCHMARKS.md 'Search: query latency on 1 million documents' (python -m bench.search --docs 1000000)
    "index_bytes_per_copy": (3030.0, "bytes", ("BENCHMARKS.md 'Session 9: phrases by word pairs': 3.03 GB for "
                                               "1,000,000 documents with the pairs field (2.21 GB before)")),
    "index_copies_per_core_s": (418.0, "copies/s", "BENCHMARKS.md 'Search', end to end: 418 copies/s, one writer"),
    # --- shared search: BENCHMARKS.md 'Session 7: 1 M documents' (python -m bench.shared_search --from-index ...)
    "index_sealed_bytes_per_copy": (1802.0, "bytes", ("BENCHMARKS.md 'Session 7: 1 M documents': 1,312 MB sealed "
                                                      "in the store for the 2,207 MB index of 1,000,000 documents, "
                                                      "scaled by the index's growth with the pairs (3,030 MB); not "
                                                      "measured again")),
    "index_pull_MBps": (670.0, "MB/s", ("BENCHMARKS.md 'Session 7: 1 M documents': a replica pulls the 2,207 MB "
                                        "index in 3.2-3.5 s from moto (4 threads, 2 cores)")),
    # --- metering: BENCHMARKS.md 'Metering cost at 1 million messages' (python -m bench.metering --messages 1000000)
    "meter_idle_cpu_s": (0.08, "CPU s", "BENCHMARKS.md 'Metering': a run with nothing changed"),
    "meter_changed_cpu_s": (0.25, "CPU s", "BENCHMARKS.md 'Metering': incremental run, +2,000 messages, 1 M archive"),
    "meter_full_cpu_s_per_m": (0.45, "CPU s", "BENCHMARKS.md 'Metering': full count of a 1 M-message archive"),
    "meter_runs_per_day": (96.0, "runs", "prefect.yaml meter-usage: interval 900 s"),
    "report_cpu_s_per_org": (0.08, "CPU s", "NOT MEASURED: assumed = an idle metering run (one control-plane read)"),
    # --- retention: BENCHMARKS.md 'apply-retention over a million copies' (python -m bench.retention --copies 1000000)
    "retention_cpu_s_per_m_copies": (41.9, "CPU s", "BENCHMARKS.md 'apply-retention': 41.9 s CPU for 1 M copies"),
    # --- Prefect: BENCHMARKS.md 'Prefect load (issue 17)' (python -m bench.prefect_load --seconds 20)
    "prefect_subflow_s": (1.3, "s", "BENCHMARKS.md 'Prefect load': one empty subflow, sequential (0.8/s)"),
    # --- the IMAP look: BENCHMARKS.md 'One imap-sync tick over idle sources' (python -m bench.imap_tick ...)
    "imap_idle_look_s_seq": (0.443, "s", "bench.imap_tick --orgs 40 --rtt 40: one idle source, sources.parallel 1"),
    "imap_idle_look_s_par": (0.193, "s", "bench.imap_tick --orgs 40 --rtt 40: one idle source, sources.parallel 4"),
    "prefect_flow_runs_per_s_pg": (12.3, "runs/s", "BENCHMARKS.md 'Prefect load': API flow runs, PostgreSQL"),
    "prefect_task_runs_per_s_pg": (170.0, "runs/s", "BENCHMARKS.md 'Prefect load': task runs created, PostgreSQL"),
    "prefect_task_runs_recorded_per_s": (12.0, "runs/s", ("BENCHMARKS.md 'Prefect load': task runs "
                                                                  "recorded while created, PostgreSQL")),
}

# Ticks a day of the deployments that look at every organization (prefect.yaml).
SCHEDULES_PER_DAY = {"imap-sync": 288, "m365-sync": 144, "journal-drain": 1440, "index-mail": 1440,
                     "meter-usage": 96, "directory-sync": 24}


def model(orgs: int, messages: float, raw_tb: float, sources_per_org: float, busy_share: float,
          new_messages_per_day: float) -> list[tuple[str, str, str]]:
    """The table: (figure, value, how it was derived)."""
    u = {k: v[0] for k, v in UNITS.items()}
    raw = raw_tb * 1e12
    copies = messages * u["copies_per_message"]
    batches = raw / u["batch_raw_bytes"]
    rows: list[tuple[str, str, str]] = []

    def add(name: str, value: str, how: str) -> None:
        rows.append((name, value, how))

    add("copies (mailbox items)", f"{copies / 1e9:.2f} B", "messages x copies_per_message")
    add("catalogue rows (Parquet)", f"{messages * u['catalog_rows_per_message'] / 1e9:.1f} B",
        "messages x catalog_rows_per_message")
    add("catalogue bytes (Parquet, compacted)", f"{messages * u['parquet_bytes_per_message'] / 1e12:.2f} TB",
        "messages x parquet_bytes_per_message")
    meta_rows = batches * u["metadata_rows_per_batch"]
    add("DuckLake metadata, never compacted", f"{meta_rows / 1e6:.0f} M rows, "
        f"{meta_rows * u['metadata_row_bytes'] * 2 / 1e9:.0f} GB", "raw / batch_raw_bytes x metadata_rows_per_batch")
    day_batches = new_messages_per_day * raw / messages / u["batch_raw_bytes"]
    meta_c = orgs * u["metadata_rows_per_org_compacted"] + day_batches * u["metadata_rows_per_batch"]
    add("DuckLake metadata, compacted nightly", f"{meta_c / 1e6:.1f} M rows, {meta_c * u['metadata_row_bytes'] * 2 / 1e9:.1f} GB",
        "orgs x metadata_rows_per_org_compacted + one day of batches x metadata_rows_per_batch")
    add("objects", f"{messages * u['objects_per_message'] / 1e6:.0f} M", "messages x objects_per_message")
    add("object bytes", f"{raw * u['stored_over_raw'] / 1e12:.1f} TB", "raw x stored_over_raw")
    add("search index bytes", f"{copies * u['index_bytes_per_copy'] / 1e12:.1f} TB", "copies x index_bytes_per_copy")
    add("search index in the store (search.shared)", f"{copies * u['index_sealed_bytes_per_copy'] / 1e12:.1f} TB",
        "copies x index_sealed_bytes_per_copy")
    pull_h = copies * u["index_bytes_per_copy"] / (u["index_pull_MBps"] * 1e6) / 3600
    add("web replica holding every org's index: disk, pre-warm", f"{copies * u['index_bytes_per_copy'] / 1e12:.1f} TB, "
        f"{pull_h:.1f} h", "copies x index_bytes_per_copy / index_pull_MBps")
    new_copies = new_messages_per_day * u["copies_per_message"]
    ingest_cores = new_copies / u["ingest_copies_per_core_s"] / 86400
    index_cores = new_copies / u["index_copies_per_core_s"] / 86400
    add("ingest, steady state", f"{new_messages_per_day / 1e6:.1f} M msg/day = {ingest_cores:.1f} cores busy",
        "new copies / ingest_copies_per_core_s")
    add("indexing, steady state", f"{index_cores:.1f} cores busy", "new copies / index_copies_per_core_s")
    busy = orgs * busy_share
    meter_cpu = u["meter_runs_per_day"] * (busy * u["meter_changed_cpu_s"] + (orgs - busy) * u["meter_idle_cpu_s"])
    add("metering per day", f"{meter_cpu / 3600:.0f} CPU h ({meter_cpu / 86400:.1f} cores)",
        "96 runs x (busy orgs x changed + idle orgs x idle run)")
    add("weekly full metering", f"{messages / 1e6 * u['meter_full_cpu_s_per_m'] / 3600:.1f} CPU h",
        "messages / 1 M x meter_full_cpu_s_per_m")
    add("usage report per day", f"{orgs * u['report_cpu_s_per_org'] / 60:.0f} CPU min", "orgs x report_cpu_s_per_org")
    add("retention per day (nightly)", f"{copies / 1e6 * u['retention_cpu_s_per_m_copies'] / 3600:.0f} CPU h",
        "copies / 1 M x retention_cpu_s_per_m_copies (every copy evaluated)")
    # Prefect, today: one subflow per due IMAP source every 5 min (imap-sync), the others in the parent
    # run (m365-sync: plain calls; journal-drain: one task per batch of drops).
    srcs = orgs * sources_per_org
    ticks = sum(SCHEDULES_PER_DAY.values())
    imap = srcs / 2
    today = imap * SCHEDULES_PER_DAY["imap-sync"] + ticks
    add("Prefect flow runs/day today (IMAP subflows)", f"{today / 1e6:.2f} M ({today / 86400:.0f}/s; server: "
        f"{u['prefect_flow_runs_per_s_pg']:.0f}/s)", "IMAP sources x 288 ticks + one run per tick")
    add("one imap-sync tick, today, all sources idle", f"{imap * u['prefect_subflow_s'] / 3600:.1f} h (tick: 5 min)",
        "IMAP sources x prefect_subflow_s, in sequence")
    add("one imap-sync tick, batched, all sources idle", f"{imap * u['imap_idle_look_s_seq'] / 60:.0f} min in sequence, "
        f"{imap * u['imap_idle_look_s_par'] / 60:.0f} min with sources.parallel 4 (tick: 5 min)",
        "IMAP sources x imap_idle_look_s (40 ms to each server)")
    # This branch: one flow run per tick; tasks only for archive batches (a source tick that found
    # new mail makes at least one) and for failed sources. busy_share: share of source ticks with new mail.
    source_ticks = imap * SCHEDULES_PER_DAY["imap-sync"] + (srcs - imap) * SCHEDULES_PER_DAY["m365-sync"]
    tasks = source_ticks * busy_share + day_batches
    add("Prefect runs/day, batched (this branch)", f"{ticks:,} flow runs + {tasks / 1e6:.2f} M task runs "
        f"({tasks / 86400:.1f}/s; server: {u['prefect_task_runs_per_s_pg']:.0f}/s created, "
        f"{u['prefect_task_runs_recorded_per_s']:.0f}/s recorded)",
        "one flow run per tick + source ticks x busy_share + the day's batches")
    add("the same, IMAP and M365 every 30 min", f"{ticks:,} flow runs + {(srcs * 48 * busy_share + day_batches) / 1e6:.2f} M "
        f"task runs ({(srcs * 48 * busy_share + day_batches) / 86400:.1f}/s)", "sources x 48 ticks x busy_share")
    # Machines: each tier's cores from the busiest daily load (x2 headroom), at least one.
    cores = {
        "workers (ingest + indexing + metering + retention)":
            2 * (ingest_cores + index_cores + meter_cpu / 86400 + copies / 1e6 * u["retention_cpu_s_per_m_copies"] / 86400),
        "Prefect server (API + PostgreSQL), batched": 2 * tasks / 86400 / u["prefect_task_runs_recorded_per_s"],
    }
    for tier, c in cores.items():
        add(f"cores: {tier}", f"{c:.0f}", "daily CPU / 86,400 x 2 headroom")
    add("storage: object store", f"{(raw * u['stored_over_raw'] + copies * u['index_sealed_bytes_per_copy']) / 1e12:.0f} TB",
        "objects + search index (if shipped through the store)")
    return rows


def measure(n: int) -> dict[str, Any]:
    """Ingest n generated messages into a fresh home, compact, and count what was made."""
    home = Path(tempfile.mkdtemp(prefix="mailark-capacity-"))
    os.environ["MAILARK_HOME"] = str(home)
    from datetime import UTC, datetime, timedelta

    from bench.generate import generate_org_mail
    from mailark.catalog.ingest import BatchWriter, Counts, Incoming
    from mailark.catalog.lake import ALIAS, METADATA
    from mailark.catalog.maintenance import compact
    from mailark.control.orgs import create_org, ensure_mailbox
    from mailark.runtime import open_runtime
    from mailark.sources.files.importing import batches

    rt = open_runtime()
    try:
        with rt.session() as s:
            org, _ = create_org(s, "capacity", rt.master_key, users=10_000, storage_gb=1000)
        archive = rt.archive_for(org)
        writer = BatchWriter(archive, "capacity", "bench")
        mboxes: dict[str, tuple[str, str]] = {}
        raw = 0

        def incoming():  # type: ignore[no-untyped-def]
            nonlocal raw
            for c in generate_org_mail(50, n, seed=17, attachment_share=0.3):
                mb = mboxes.get(c.mailbox)
                if mb is None:
                    with rt.session() as s:
                        m, _ = ensure_mailbox(s, org, c.mailbox)
                    mb = mboxes[c.mailbox] = (m.id, m.primary_address)
                raw += len(c.raw)
                yield Incoming(c.raw, mb[0], mb[1], c.folder, "generated", f"{c.message_no}/{c.mailbox}/{c.folder}")

        total, nb, t0 = Counts(), 0, time.perf_counter()
        for batch in batches(incoming(), rt.settings.batch_messages, rt.settings.batch_bytes):
            total.add(writer.write(batch, consume=True))
            nb += 1
        secs = time.perf_counter() - t0

        def meta_rows() -> tuple[int, int]:
            """Rows and bytes of the DuckLake metadata database (SQLite here, PostgreSQL in a cluster)."""
            db = rt.settings.db_dir / "lake.sqlite"
            with sqlite3.connect(db) as c:
                tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                return sum(c.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables), db.stat().st_size

        meta_before = meta_rows()
        compact(rt.settings, rt.lake, rt.store, [org.id], now=datetime.now(UTC), retention=timedelta(0))
        meta_after = meta_rows()
        tables = [r[0] for r in rt.lake.execute(
            f"SELECT table_name FROM duckdb_tables() WHERE database_name = '{ALIAS}'").fetchall()]
        rows = {t: rt.lake.execute(f"SELECT count(*) FROM {ALIAS}.{t}").fetchone()[0] for t in tables}
        pq = rt.lake.execute(f"SELECT sum(file_size_bytes), count(*) FROM {METADATA}.ducklake_data_file "
                             "WHERE end_snapshot IS NULL").fetchone()
        objs = [p for p in rt.settings.objects_dir.rglob("*") if p.is_file() and "lake" not in p.parts]
        obytes = sum(p.stat().st_size for p in objs)
    finally:
        rt.close()
        shutil.rmtree(home, ignore_errors=True)
    return {
        "messages": n, "copies": total.seen, "archived": total.archived, "batches": nb, "raw_bytes": raw,
        "ingest_s": round(secs, 1), "copies_per_message": round(total.seen / n, 2),
        "catalog_rows": rows, "catalog_rows_per_message": round(sum(rows.values()) / n, 2),
        "parquet_bytes_per_message": round((pq[0] or 0) / n, 1), "parquet_files": pq[1],
        "metadata_rows_before_compaction": meta_before[0], "metadata_rows_after_compaction": meta_after[0],
        "metadata_bytes_before_compaction": meta_before[1], "metadata_bytes_after_compaction": meta_after[1],
        "metadata_rows_per_batch": round(meta_before[0] / nb, 1),
        "metadata_bytes_per_row": round(meta_before[1] / max(meta_before[0], 1)),
        "objects": len(objs), "objects_per_message": round(len(objs) / n, 3), "object_bytes": obytes,
        "stored_over_raw": round(obytes / raw, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orgs", type=int, default=10_000)
    ap.add_argument("--messages", type=float, default=1e9)
    ap.add_argument("--raw-tb", type=float, default=50.0)
    ap.add_argument("--sources-per-org", type=float, default=2.0)
    ap.add_argument("--busy-share", type=float, default=0.2, help="share of source ticks (and 15-min metering runs) that find new mail")
    ap.add_argument("--new-per-day", type=float, default=None,
                    help="new messages a day (default: the archive holds one year of mail)")
    ap.add_argument("--measure", type=int, help="measure the per-message unit costs on N generated messages")
    a = ap.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure), indent=2))
        return
    new = a.new_per_day if a.new_per_day is not None else a.messages / 365
    table = model(a.orgs, a.messages, a.raw_tb, a.sources_per_org, a.busy_share, new)
    print(f"{a.orgs:,} organizations, {a.messages:,.0f} messages, {a.raw_tb:g} TB raw\n")
    w = max(len(r[0]) for r in table)
    for name, value, how in table:
        print(f"{name:<{w}}  {value:<34}  {how}")


if __name__ == "__main__":
    main()
