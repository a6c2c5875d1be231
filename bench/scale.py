"""Scale run: ingest N generated messages (all their copies) straight from the generator.

    python -m bench.scale --messages 1000000 --attachment-share 0.02

No files on disk: copies stream from the generator into batches, so the run measures the
archive as it grows (memory, batch time as the catalogue fills up), not the disk. Prints one
line every --every batches: copies so far, copies/s of the last stretch, RSS, catalogue files.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench.generate import generate_org_mail

OUT = Path(__file__).resolve().parent / "out"
COMPACT = """
import sys
from datetime import UTC, datetime, timedelta
from mailark.catalog.maintenance import compact
from mailark.runtime import open_runtime
rt = open_runtime()
print(compact(rt.settings, rt.lake, rt.store, [sys.argv[1]], now=datetime.now(UTC), retention=timedelta(0)), flush=True)
"""


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
_libc.mallinfo2.restype = _Mallinfo2


def malloc_mb() -> tuple[float, float]:
    """glibc's heap: bytes in use, and bytes freed but still held by the process."""
    m = _libc.mallinfo2()
    return (m.uordblks + m.hblkhd) / 2**20, m.fordblks / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=500)
    ap.add_argument("--attachment-share", type=float, default=0.02)
    ap.add_argument("--every", type=int, default=50, help="report every N batches")
    ap.add_argument("--compact-every", type=int, default=0,
                    help="run the nightly compaction every N batches (0: never), as maintenance would between imports")
    ap.add_argument("--trim", action="store_true", help="return freed heap memory to the system after every batch")
    ap.add_argument("--home", help="the MAILARK_HOME to fill (wiped first); default under bench/out")
    a = ap.parse_args()

    home = Path(a.home) if a.home else OUT / ("home-scale-compact" if a.compact_every else "home-scale")
    shutil.rmtree(home, ignore_errors=True)
    os.environ["MAILARK_HOME"] = str(home)
    from mailark.catalog.ingest import BatchWriter, Counts, Incoming
    from mailark.catalog.lake import METADATA
    from mailark.catalog.stats import org_stats
    from mailark.control.orgs import create_org, ensure_mailbox
    from mailark.sources.files.importing import batches
    from mailark.runtime.memory import release_free_memory
    from mailark.runtime import open_runtime

    rt = open_runtime()
    with rt.session() as s:
        org, _ = create_org(s, "scale", rt.master_key, users=10_000, storage_gb=1000)
    archive = rt.archive_for(org)
    writer = BatchWriter(archive, "scale", "bench")
    mailboxes: dict[str, tuple[str, str]] = {}

    def incoming():  # type: ignore[no-untyped-def]
        for c in generate_org_mail(a.users, a.messages, seed=11, attachment_share=a.attachment_share):
            mb = mailboxes.get(c.mailbox)
            if mb is None:
                with rt.session() as s:
                    m, _ = ensure_mailbox(s, org, c.mailbox)
                mb = mailboxes[c.mailbox] = (m.id, m.primary_address)
            yield Incoming(c.raw, mb[0], mb[1], c.folder, "generated", f"{c.message_no}/{c.mailbox}/{c.folder}")

    proc = psutil.Process()
    total = Counts()
    start = last_t = time.perf_counter()
    last_n = nbytes = 0
    print(f"{'copies':>10} {'copies/s':>9} {'MB/s':>6} {'RSS MB':>7} {'RSS lo-hi':>9} {'peak MB':>7} {'duckdb MB':>9} {'heap MB':>7} {'free MB':>7} {'files':>6}"
          f"  (last {a.every} batches; RSS lo-hi: after each batch of the stretch, so the saw-tooth of the connection "
          f"renewals shows; duckdb: what DuckDB says it holds; heap/free: glibc malloc in use/held free)")
    rss_lo, rss_hi = float("inf"), 0.0
    compactions = 0.0
    for i, batch in enumerate(batches(incoming(), rt.settings.batch_messages, rt.settings.batch_bytes), 1):
        nbytes += sum(len(x.raw) for x in batch)
        total.add(writer.write(batch, consume=True))
        if a.trim:
            release_free_memory()
        rss_now = proc.memory_info().rss / 2**20
        rss_lo, rss_hi = min(rss_lo, rss_now), max(rss_hi, rss_now)
        if a.compact_every and i % a.compact_every == 0:
            # In a process of its own, as the nightly maintenance flow runs: the figures here stay ingest's.
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", COMPACT, org.id], check=True)
            compactions += time.perf_counter() - t0
        if i % a.every == 0:
            now = time.perf_counter()
            files = rt.lake.execute(f"SELECT count(*) FROM {METADATA}.ducklake_data_file WHERE end_snapshot IS NULL").fetchone()[0]
            used, free = malloc_mb()
            held = rt.lake.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] or 0
            print(f"{total.seen:>10} {(total.seen - last_n) / (now - last_t):>9.0f} {nbytes / (now - start) / 1e6:>6.1f} "
                  f"{proc.memory_info().rss / 2**20:>7.0f} {f'{rss_lo:.0f}-{rss_hi:.0f}':>9} {peak_mb():>7.0f} "
                  f"{held / 2**20:>9.0f} {used:>7.0f} {free:>7.0f} {files:>6}",
                  flush=True)
            last_t, last_n = now, total.seen
            rss_lo, rss_hi = float("inf"), 0.0
    seconds = time.perf_counter() - start
    ingest_peak = peak_mb()
    st = org_stats(archive)
    print(f"done: {total.seen} copies of {a.messages} messages in {seconds:.0f} s ({total.seen / seconds:.0f} copies/s); "
          f"archived {total.archived}, duplicates {total.duplicates}; RSS {psutil.Process().memory_info().rss / 2**20:.0f} MB now, "
          f"peak {ingest_peak:.0f} MB during ingest, {peak_mb():.0f} MB after the final stats, "
          f"stored/raw {st['stored_ratio']:.1%}; {compactions:.0f} s of it in compaction")


if __name__ == "__main__":
    main()
