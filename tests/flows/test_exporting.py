"""Export jobs without Prefect: the rules, byte-identical content, the quota, expiry and deletion."""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from mailark.control import exports as cx
from mailark.control.principals import Principal

OP = Principal.deployment_operator()


def corpus_hashes(*dirs: Path) -> set[str]:
    """SHA-256 of every message as the corpus delivers it (an mbox holds several)."""
    from mailark.sources.files import iter_source

    return {hashlib.sha256(m.raw).hexdigest() for d in dirs for m in iter_source(d, None)}


def import_into(rt, mailbox: str, src: Path) -> dict:  # type: ignore[no-untyped-def]
    from mailark.sources.files.importing import run_import

    return run_import(rt, "acme", mailbox, [src]).as_dict()


def download(rt, job_id: str) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import open_download

    with rt.control() as s:
        job = s.get(cx.ExportJob, job_id)
    return zipfile.ZipFile(io.BytesIO(b"".join(open_download(rt, job))))


def start(rt, req: cx.ExportRequest, who: Principal = OP, now: datetime | None = None) -> str:  # type: ignore[no-untyped-def]
    with rt.session(write=True) as s:
        return cx.start_export(s, who, "acme", req, now=now).id


def job(rt, job_id: str) -> cx.ExportJob:  # type: ignore[no-untyped-def]
    with rt.control() as s:
        j = s.get(cx.ExportJob, job_id)
        s.expunge(j)
        return j


def export_objects(rt) -> list[tuple]:  # type: ignore[no-untyped-def]
    return rt.lake.execute("SELECT object_key, stored_size FROM lake.objects WHERE kind = 'export'").fetchall()


def check_zip(zf: zipfile.ZipFile, originals: set[str]) -> list[dict]:
    manifest = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
    for row in manifest:
        data = zf.read(row["path"])
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        if row["kind"] == "message":
            assert row["sha256"] in originals, row["path"]
    return manifest


def test_full_export_is_byte_identical_counted_and_once_a_month(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import run_export

    src = corpus / "cpython-test_email"
    imported = import_into(rt, "ann@acme", src)
    jid = start(rt, cx.ExportRequest())
    out = run_export(rt, jid)
    assert out.status == "done", out.error
    j = job(rt, jid)
    assert j.kind == "full" and j.messages == imported["archived"] and j.quarantined == imported["quarantined"]
    assert j.items_done == j.items_total == j.messages + j.quarantined
    manifest = check_zip(download(rt, jid), corpus_hashes(src))
    assert sum(r["kind"] == "message" for r in manifest) == imported["archived"]
    assert {r["mailbox"] for r in manifest} == {"ann@acme"}
    # stored encrypted under the export's name, counted as an object of kind "export"
    name = f"orgs/{org.id}/exports/{jid}.zip"
    assert rt.store.exists(name) and export_objects(rt) == [(name, rt.store.size(name))]
    assert b"manifest.csv" not in rt.store.get(name)
    # the second full export of the month is refused, with the way out named
    with pytest.raises(cx.LimitExceeded, match="already had its full-archive export this month.*incremental"):
        start(rt, cx.ExportRequest())
    # next month it is allowed again
    start(rt, cx.ExportRequest(), now=datetime.now(UTC) + timedelta(days=32))


def test_incremental_export_holds_only_new_mail(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import run_export

    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    first = start(rt, cx.ExportRequest(incremental=True))  # no earlier export: the whole archive
    assert run_export(rt, first).status == "done"
    assert job(rt, first).kind == "full"
    new = import_into(rt, "bob@acme", corpus / "tnef")
    inc = start(rt, cx.ExportRequest(incremental=True))
    assert job(rt, inc).kind == "incremental"
    assert run_export(rt, inc).status == "done"
    manifest = check_zip(download(rt, inc), corpus_hashes(corpus / "tnef"))
    assert {r["mailbox"] for r in manifest} == {"bob@acme"}
    assert len(manifest) == new["archived"] + new["quarantined"]
    # nothing new since: an empty incremental export
    again = start(rt, cx.ExportRequest(incremental=True))
    assert run_export(rt, again).status == "done" and job(rt, again).items_total == 0


def test_selection_by_mailbox_folder_and_dates(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import run_export

    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    import_into(rt, "bob@acme", corpus / "tnef")
    jid = start(rt, cx.ExportRequest(mailboxes=["bob@acme"]))
    assert run_export(rt, jid).status == "done"
    assert {r["mailbox"] for r in check_zip(download(rt, jid), corpus_hashes(corpus / "tnef"))} == {"bob@acme"}
    dates = [d for (d,) in rt.lake.execute("SELECT m.date FROM lake.messages m WHERE m.date IS NOT NULL").fetchall()]
    mid = sorted(dates)[len(dates) // 2]
    jid = start(rt, cx.ExportRequest(date_from=mid))
    assert run_export(rt, jid).status == "done"
    rows = check_zip(download(rt, jid), corpus_hashes(corpus))
    assert rows and all(datetime.fromisoformat(r["date"]) >= mid for r in rows)
    assert all(r["kind"] == "message" for r in rows)
    with pytest.raises(cx.ControlError, match="resolved"):
        start(rt, cx.ExportRequest(query="invoice"))
    with pytest.raises(cx.ControlError, match="matches no archived mail"):
        start(rt, cx.ExportRequest(query="invoice", item_ids=[]))
    with pytest.raises(cx.NotFound):
        start(rt, cx.ExportRequest(mailboxes=["nobody@acme"]))


def test_quota_reached_pauses_with_nothing_kept_then_resumes(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.ingest import storage_used
    from mailark.control.models import Organization
    from mailark.operations.exports import run_export

    rt.settings.export_block_bytes = 64 * 1024
    import_into(rt, "ann@acme", corpus / "mail-parser")
    used = storage_used(rt.archive_for(rt.org("acme")))
    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = used + 100_000
    jid = start(rt, cx.ExportRequest(mailboxes=["ann@acme"]))
    out = run_export(rt, jid)
    assert out.status == "paused_quota"
    assert "quota" in out.error and "nothing was kept" in out.error and "resume" in out.error
    name = f"orgs/{org.id}/exports/{jid}.zip"
    assert not rt.store.exists(name) and export_objects(rt) == []
    assert list((rt.settings.home / "tmp").iterdir()) == []
    with pytest.raises(cx.Conflict, match="quota is full"):
        with rt.session(write=True) as s:
            cx.check_download(s, OP, "acme", jid)
    # room again: resume and finish
    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = used * 10
        cx.resume(s, OP, "acme", jid)
    assert run_export(rt, jid).status == "done"
    rows = check_zip(download(rt, jid), corpus_hashes(corpus / "mail-parser"))
    assert sum(r["kind"] == "message" for r in rows) > 10
    assert job(rt, jid).attempts == 2


def test_expiry_and_deletion_remove_the_file_and_its_row(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import expire_exports, remove_file, run_export

    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    a = start(rt, cx.ExportRequest(mailboxes=["ann@acme"]))
    b = start(rt, cx.ExportRequest(mailboxes=["ann@acme"], folder="x"))
    for j in (a, b):
        assert run_export(rt, j).status == "done"
    assert len(export_objects(rt)) == 2
    assert expire_exports(rt) == []
    assert sorted(expire_exports(rt, now=datetime.now(UTC) + timedelta(days=rt.settings.export_expiry_days, seconds=1))) == sorted([a, b])
    assert job(rt, a).status == "expired" and not rt.store.exists(job(rt, a).object_name)
    assert export_objects(rt) == []


def test_tampered_export_fails_to_download(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import open_download, run_export
    from mailark.storage.crypto import IntegrityError

    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    jid = start(rt, cx.ExportRequest())
    run_export(rt, jid)
    j = job(rt, jid)
    blob = bytearray(rt.store.get(j.object_name))
    rt.store.put(j.object_name, bytes(blob[:-100]))  # cut off the end
    with pytest.raises(IntegrityError):
        b"".join(open_download(rt, j))
    blob[len(blob) // 2] ^= 1
    rt.store.put(j.object_name, bytes(blob))
    with pytest.raises(IntegrityError):
        b"".join(open_download(rt, j))


def test_an_interrupted_job_is_marked_failed_and_can_be_resumed(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import expire_exports, run_export

    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    jid = start(rt, cx.ExportRequest(mailboxes=["ann@acme"]))
    with rt.session() as s:
        cx.claim(s, jid, datetime.now(UTC) - timedelta(days=2))  # its process died long ago
    expire_exports(rt)
    j = job(rt, jid)
    assert j.status == "failed" and "interrupted" in j.error
    with rt.session() as s:
        cx.resume(s, OP, "acme", jid)
    assert run_export(rt, jid).status == "done"


def test_no_mailboxes_nothing_to_export(rt, org) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(cx.ControlError, match="no archive mailboxes yet"):
        start(rt, cx.ExportRequest())


def test_export_scrub_and_compaction_on_s3(s3_home, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    """The same on MinIO/S3 (moto's server): a streamed put of the sealed zip, ranged reads, DuckLake on S3."""
    from mailark.catalog.maintenance import scrub
    from mailark.control.orgs import create_org
    from mailark.operations.exports import run_export
    from mailark.operations.maintenance import compact_catalogue
    from mailark.runtime import open_runtime

    rt = open_runtime(s3_home)
    try:
        with rt.session() as s:
            create_org(s, "acme", rt.master_key)
        rt.settings.batch_messages = 10
        import_into(rt, "ann@acme", corpus / "cpython-test_email")
        jid = start(rt, cx.ExportRequest())
        assert run_export(rt, jid).status == "done"
        rows = check_zip(download(rt, jid), corpus_hashes(corpus / "cpython-test_email"))
        assert sum(r["kind"] == "message" for r in rows) > 30
        report = scrub(rt.archive_for(rt.org("acme")), slot=0, period=1)
        assert report.failures == [] and report.objects > 0
        rt.settings.lake_snapshot_retention_days = 0
        comp = compact_catalogue(rt)
        assert comp.files_after < comp.files_before
        assert rt.lake.execute("SELECT count(*) FROM lake.mailbox_items").fetchone()[0] == len(
            [r for r in rows if r["kind"] == "message"])
    finally:
        rt.close()


def test_a_damaged_catalogue_fails_the_export_and_keeps_nothing(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import run_export

    import_into(rt, "ann@acme", corpus / "mail-parser")
    # A damaged copy is left out and named (tests/flows/test_export_damage.py); a damaged catalogue file
    # leaves nothing to export from: the job fails, saying what is damaged.
    [items] = (rt.settings.objects_dir / "lake" / "main" / "mailbox_items").glob("*.parquet")
    blob = bytearray(items.read_bytes())
    blob[len(blob) // 2] ^= 1
    items.write_bytes(bytes(blob))
    jid = start(rt, cx.ExportRequest())
    out = run_export(rt, jid)
    assert out.status == "failed" and "catalogue" in out.error and "damaged" in out.error and "mailark scrub" in out.error
    assert not rt.store.exists(job(rt, jid).object_name) and export_objects(rt) == []
    assert list((rt.settings.home / "tmp").iterdir()) == []
    # a failed full export does not use the month's allowance
    start(rt, cx.ExportRequest())


def test_export_of_a_search_holds_exactly_what_it_matched(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.search.indexer import sync_index
    from mailark.operations.exports import run_export
    from mailark.operations.searching import matching_copies

    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    sync_index(rt.archive_for(org), rt.settings.db_dir)
    with rt.session() as s:
        items = matching_copies(s, OP, "acme", rt.settings, "has:attachment")
        everything = rt.lake.execute("SELECT count(*) FROM lake.mailbox_items").fetchone()[0]
    assert 0 < len(items) < everything
    job_id = start(rt, cx.ExportRequest(query="has:attachment", item_ids=items))
    assert run_export(rt, job_id).status == cx.DONE
    assert job(rt, job_id).kind == cx.SELECTION
    with rt.control() as s:
        assert cx.Selected.of(s.get(cx.ExportJob, job_id)).query == "has:attachment"
    rows = list(csv.DictReader(io.TextIOWrapper(download(rt, job_id).open("manifest.csv"), "utf-8")))
    assert len(rows) == len(items) and all(r["kind"] == "message" for r in rows)
