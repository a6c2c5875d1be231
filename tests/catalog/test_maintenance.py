"""Nightly maintenance: compaction keeps every row with fewer files; the scrub and orphan report find damage."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

TABLES = ("messages", "mailbox_items", "parts", "objects", "quarantine", "ingest_ledger")


def small_batches(rt, corpus: Path, n: int = 3) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.files.importing import run_import

    rt.settings.batch_messages = n
    run_import(rt, "acme", "ann@acme", [corpus / "cpython-test_email"])


def table_rows(rt) -> dict[str, list]:  # type: ignore[no-untyped-def]
    return {t: sorted(map(str, rt.lake.execute(f"SELECT * FROM lake.{t}").fetchall())) for t in TABLES}


def parquet_files(rt) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for _ in (rt.settings.objects_dir / "lake").rglob("*.parquet"))


def test_compaction_merges_small_files_and_keeps_every_row(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.export import export_zip
    from mailark.catalog.maintenance import live_files
    from mailark.operations.maintenance import compact_catalogue

    small_batches(rt, corpus)
    before_rows = table_rows(rt)
    files_on_disk = parquet_files(rt)
    rt.settings.lake_snapshot_retention_days = 0
    report = compact_catalogue(rt, datetime.now(UTC))
    assert report.files_before == files_on_disk > 40
    assert report.files_after == live_files(rt.lake) and report.files_after <= len(TABLES)
    assert table_rows(rt) == before_rows
    # the merged-away files are deleted once no kept snapshot needs them
    assert report.files_deleted > 0 and parquet_files(rt) == report.files_after
    # and mail still exports, byte-checked
    res = export_zip(rt.archive_for(org), rt.settings.home / "after.zip")
    assert res.messages == len(before_rows["mailbox_items"])


def test_scrub_covers_everything_over_the_period_and_finds_tampering(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.maintenance import scrub

    small_batches(rt, corpus, n=20)
    arch = rt.archive_for(org)
    clean = scrub(arch, slot=0, period=1)
    copies = rt.lake.execute("SELECT count(*) FROM lake.mailbox_items").fetchone()[0]
    assert clean.failures == [] and clean.objects == rt.lake.execute("SELECT count(*) FROM lake.objects").fetchone()[0]
    assert clean.copies_verified == copies
    slices = [scrub(arch, slot=s, period=3) for s in range(3)]
    assert sum(s.objects for s in slices) == clean.objects and all(s.objects < clean.objects for s in slices)

    part = rt.lake.execute("SELECT object_key FROM lake.objects WHERE kind = 'part' LIMIT 1").fetchone()[0]
    pack = rt.lake.execute("SELECT object_key FROM lake.objects WHERE kind = 'pack' LIMIT 1").fetchone()[0]
    for name in (part, pack):
        blob = bytearray(rt.store.get(name))
        blob[40] ^= 0x01
        rt.store.put(name, bytes(blob))
    report = scrub(arch, slot=0, period=1)
    bad = {f.object_key: f for f in report.failures}
    assert set(bad) >= {part, pack}
    assert "failed authentication" in bad[part].reason and bad[pack].kind == "pack"


def test_young_orphans_and_unknown_organizations_are_reported_not_deleted(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.maintenance import run_maintenance

    small_batches(rt, corpus, n=50)
    planted = f"orgs/{org.id}/objects/ab/{'ab' * 32}"
    rt.store.put(planted, b"not catalogued")
    stranger = "orgs/01nosuchorganization000000/objects/cd/x"
    rt.store.put(stranger, b"?")
    report = run_maintenance(rt, day=0)
    assert report.orphans["acme"].found == [planted] and report.orphans["acme"].deleted == []  # within the grace period
    assert report.unknown_prefixes == ["orgs/01nosuchorganization000000/"]
    assert not report.healthy
    assert rt.store.exists(planted) and rt.store.exists(stranger)
