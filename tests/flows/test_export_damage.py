"""Damage contained: an export writes every intact copy, names the damaged ones (manifest kind `damaged`,
DAMAGED.txt) and ends with a status of its own (`done_damaged`, still downloadable)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from mailark.control import exports as cx
from tests.flows.test_exporting import OP, download, import_into, job, start


def damage_a_part(rt) -> tuple[str, set[str]]:  # type: ignore[no-untyped-def]
    """Flip a byte of one part object; returns it and the SHA-256 of the copies that use it."""
    part = rt.lake.execute("SELECT object_key FROM lake.parts ORDER BY object_key LIMIT 1").fetchone()[0]
    shas = {r[0] for r in rt.lake.execute(
        """SELECT i.copy_sha256 FROM lake.mailbox_items i JOIN lake.parts p USING (org_id, message_key)
           WHERE p.object_key = ?""", [part]).fetchall()}
    path = rt.settings.objects_dir / part
    data = bytearray(path.read_bytes())
    data[40] ^= 0x01
    path.write_bytes(bytes(data))
    return part, shas


def manifest(zf: zipfile.ZipFile) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))


def test_a_zip_export_goes_on_past_damaged_copies_and_names_them(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.export import export_zip

    import_into(rt, "ann@acme.example", corpus / "cpython-test_email")
    copies = rt.lake.execute("SELECT count(*) FROM lake.mailbox_items").fetchone()[0]
    _, bad = damage_a_part(rt)
    res = export_zip(rt.archive_for(org), rt.settings.home / "out.zip")  # today: IntegrityError, no zip
    assert res.damaged == len(bad) >= 1 and res.messages == copies - len(bad)
    with zipfile.ZipFile(res.path) as zf:
        rows = manifest(zf)
        damaged = [r for r in rows if r["kind"] == "damaged"]
        assert {r["sha256"] for r in damaged} == bad and all(r["reason"] and not r["path"] for r in damaged)
        assert all(r["mailbox"] == "ann@acme.example" for r in damaged)
        note = zf.read("DAMAGED.txt").decode()
        assert f"{len(bad)} archived copies" in note and all(s in note for s in bad)
        assert sum(1 for r in rows if r["kind"] == "message") == res.messages
        for r in rows:
            if r["kind"] == "message":
                import hashlib

                assert hashlib.sha256(zf.read(r["path"])).hexdigest() == r["sha256"]


def test_an_export_job_with_damaged_copies_ends_done_damaged_and_stays_downloadable(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import run_export

    import_into(rt, "ann@acme.example", corpus / "cpython-test_email")
    _, bad = damage_a_part(rt)
    export_id = start(rt, cx.ExportRequest())
    out = run_export(rt, export_id)
    assert out.status == cx.DONE_DAMAGED and out.damaged == len(bad) and "DAMAGED.txt" in (out.error or "")
    j = job(rt, export_id)
    assert j.status == "done_damaged" and j.damaged == len(bad) and j.expires_at is not None
    with rt.session(write=True) as s:
        cx.check_download(s, OP, "acme", export_id)  # downloadable like a done one
    zf = download(rt, export_id)
    assert "DAMAGED.txt" in zf.namelist()
    from mailark.dashboards.api.exports import out as api_out

    doc = api_out(j).model_dump()
    assert doc["status"] == "done_damaged" and doc["damaged"] == len(bad) and doc["progress"] == 1.0
