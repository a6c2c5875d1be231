"""The floor under "import + index CPU below mu's" (issue 16): what the work itself costs in Python.

    python -m bench.ingest_floor

Why: `bench.vs_indexers` compares whole runs. This one takes the same maildir apart into the
steps a Python archive must do for each message whatever its design (parse it, hash it, compress
and encrypt it, write its catalogue row as Parquet, extract and index its text), times each step
alone in one process (CPU, reading the files not timed), adds the start-up of an interpreter that
imports the libraries those steps need, and puts mu's whole run (`mu init` + `mu index`, measured
in the same run) beside it. mailark's own steps (its splitter and metadata in place of a parse)
are timed the same way, so the table says which part of mailark's run is above the floor.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.vs_indexers import OUT, build_maildir, child_cpu, ensure_tools, run_mu


def cpu(work: Callable[[], object], rounds: int) -> float:
    """Median CPU seconds of `work()` over `rounds` runs in this process."""
    times = []
    for _ in range(rounds):
        t = time.process_time()
        work()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=Path(os.environ.get("MAILARK_TEST_CORPUS", "/work/shared/corpus")))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    ensure_tools()
    maildir = OUT / "maildir"
    n = build_maildir(args.corpus, maildir)
    raws = [p.read_bytes() for p in sorted((maildir / "cur").iterdir())]

    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from mailark.catalog.search import text as T
    from mailark.catalog.search.documents import ItemRow, make_document
    from mailark.catalog.search.index import open_index
    from mailark.storage.metadata import extract
    from mailark.storage.mime import NotAMessage, Splitter

    def parse() -> None:
        for raw in raws:
            try:
                email.message_from_bytes(raw, policy=email.policy.compat32)
            except Exception:  # noqa: BLE001, S110 - a bad file must not stop the bench
                pass

    def sha256() -> None:
        for raw in raws:
            hashlib.sha256(raw).digest()

    zc = zstandard.ZstdCompressor(level=3)
    compressed = [zc.compress(raw) for raw in raws]
    aead = AESGCM(os.urandom(32))

    def encrypt() -> None:
        for c in compressed:
            aead.encrypt(os.urandom(12), c, b"orgs/x/objects/ab/abcdef")

    now = datetime.now(UTC)
    rows = [dict(org_id="o", message_key=hashlib.sha256(r).hexdigest(), subject="s" * 40, from_addr="a@b.example",
                 to_addrs=["c@d.example"], size=len(r), date=now, skeleton_ref="p:1:2") for r in raws]

    def parquet() -> None:
        pq.write_table(pa.Table.from_pylist(rows), io.BytesIO())

    splitter = Splitter(lambda b: hashlib.blake2b(b, key=b"k" * 32).digest())

    def split_and_meta() -> None:
        for raw in raws:
            try:
                s = splitter.split(raw)
                extract(s.top_fields, s.leaves, s.top_names)
            except NotAMessage:
                pass

    texts: list[T.MessageText] = []

    def text_without_attachments() -> None:
        real = T.attachment_text
        T.attachment_text = lambda data, ctype, name: ""  # type: ignore[assignment]
        try:
            texts[:] = [T.message_text(raw) for raw in raws]
        finally:
            T.attachment_text = real  # type: ignore[assignment]

    def text_with_attachments() -> None:
        memo = T.AttachmentTexts()
        for raw in raws:
            T.message_text(raw, memo)

    def index_documents() -> None:
        with tempfile.TemporaryDirectory() as d:
            idx = open_index(Path(d) / "i", create=True)
            w = idx.writer(heap_size=64 * 1024 * 1024, num_threads=1)
            for i, t in enumerate(texts):
                row = ItemRow(str(i), "mb", "a@b", "INBOX", str(i), str(i), 1000, None, None, now, "p:1:2", now,
                              t.subject, None, None, 0)
                w.add_document(make_document(row, t))
            w.commit()
            w.wait_merging_threads()

    steps: list[tuple[str, float]] = []
    for name, work in (("compat32 parse", parse), ("SHA-256", sha256),
                       ("zstd level 3", lambda: [zc.compress(raw) for raw in raws]),
                       ("AES-256-GCM", encrypt), ("Parquet rows", parquet),
                       ("index text, bodies and headers (compat32 parse included)", text_without_attachments),
                       ("index text with attachments (each file read once)", text_with_attachments),
                       ("tantivy documents", index_documents),
                       ("mailark splitter + metadata (ingest's parse)", split_and_meta)):
        steps.append((name, cpu(work, args.rounds)))
        print(f"{name}: {steps[-1][1]:.3f} s", flush=True)

    env = dict(os.environ)
    starts = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python importing what the steps need": [sys.executable, "-c",
                                                 "import email.parser, hashlib, zstandard, pyarrow.parquet, tantivy, "
                                                 "cryptography.hazmat.primitives.ciphers.aead, duckdb"],
    }
    start_cpu = {k: statistics.median(child_cpu(v, env)[0] for _ in range(args.rounds)) for k, v in starts.items()}
    mu = statistics.median(run_mu(maildir, OUT / "home-floor-mu")["cpu"] for _ in range(args.rounds))
    shutil.rmtree(OUT / "home-floor-mu", ignore_errors=True)

    got = dict(steps)
    floor = (start_cpu["python importing what the steps need"] + got["compat32 parse"] + got["SHA-256"]
             + got["zstd level 3"] + got["AES-256-GCM"] + got["Parquet rows"]
             + got["index text, bodies and headers (compat32 parse included)"] - got["compat32 parse"]
             + got["tantivy documents"])
    print(f"\n{n:,} messages, {sum(map(len, raws)) / 1e6:.1f} MB; CPU medians of {args.rounds}; load {os.getloadavg()[0]:.1f}")
    print("\n| step | CPU s | / mu's whole run |\n|---|---|---|")
    for name, v in [*start_cpu.items(), *steps]:
        print(f"| {name} | {v:.3f} | {v / mu:.2f} |")
    print(f"| **floor**: start-up with imports + parse + hash + zstd + AES + Parquet + index text (no attachments) "
          f"+ tantivy | **{floor:.3f}** | **{floor / mu:.2f}** |")
    print(f"| mu init + mu index (whole run) | {mu:.3f} | 1.00 |")


if __name__ == "__main__":
    main()
