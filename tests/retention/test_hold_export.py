"""Export of a legal hold for e-discovery: byte-exact .eml, manifest, a chain-of-custody sheet whose
hashes match every file, a sidecar with the zip's own hash, an audit event; and mail arriving after
a query hold is held by every deletion path before any indexing run."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from mailark.catalog.deletion import find_copies
from mailark.control.models import AuditEvent
from mailark.control.orgs import ControlError, NotFound
from mailark.control.principals import Principal
from mailark.operations import retention as r
from mailark.operations.hold_export import export_hold
from mailark.operations.holds import HeldCopies, refuse_held
from tests.retention.conftest import Archive
from tests.search.mails import message

OP = Principal.deployment_operator()
OLD = datetime(2012, 3, 1, tzinfo=UTC)


def test_hold_export_has_every_held_copy_byte_exact_and_a_custody_sheet_whose_hashes_verify(
        rt, arc: Archive, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    merger = [message(20 + i, date=OLD, subject=f"merger talks {i}") for i in range(2)]
    arc.put(arc.info, merger)
    arc.put(arc.ann, [message(i, subject=f"lunch {i}") for i in range(3)])
    r.add_hold(rt, OP, "acme", "Case 42", "merger litigation", query="subject:merger")
    late = message(30, subject="merger memo")  # arrives after the hold: it belongs to the case too
    arc.put(arc.ann, [late])

    out = tmp_path / "case42" / "case42.zip"
    doc = export_hold(rt, OP, "acme", "Case 42", out)

    assert (doc["messages"], doc["quarantined"], doc["damaged"]) == (3, 0, 0)
    assert doc["exported_by"] == OP.login and doc["selection"] == {"mailboxes": [], "query": "subject:merger"}
    zip_sha = hashlib.sha256(out.read_bytes()).hexdigest()
    assert doc["zip_sha256"] == zip_sha
    assert (tmp_path / "case42" / "case42.zip.sha256").read_text() == f"{zip_sha}  case42.zip\n"
    assert not list(out.parent.glob("*.part"))

    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert "manifest.csv" in names and "CUSTODY.txt" in names
        sheet = zf.read("CUSTODY.txt").decode()
        listed = {}
        for line in sheet.splitlines():
            parts = line.split("  ")
            if len(parts) == 3 and len(parts[0]) == 64:
                listed[parts[2]] = (parts[0], int(parts[1]))
        others = [n for n in names if n != "CUSTODY.txt"]
        assert set(listed) == set(others), "the sheet names every other file in the zip"
        for n in others:
            data = zf.read(n)
            assert listed[n] == (hashlib.sha256(data).hexdigest(), len(data)), n
        assert {f["path"]: f["sha256"] for f in doc["files"]} == {n: v[0] for n, v in listed.items()}
        emls = sorted(zf.read(n) for n in names if n.endswith(".eml"))
        manifest = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
    assert emls == sorted([*merger, late]), "byte-exact copies of exactly the held messages"
    assert "case: Case 42" in sheet and "hold reason: merger litigation" in sheet
    assert f"exported by: {OP.login}" in sheet and "query subject:merger" in sheet and "messages: 3" in sheet
    assert {m["sha256"] for m in manifest} == {hashlib.sha256(x).hexdigest() for x in [*merger, late]}

    with rt.session() as s:
        (ev,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "hold.export")).all()
        d = json.loads(ev.details)
        assert ev.target == "Case 42" and d["zip_sha256"] == zip_sha and d["messages"] == 3


def test_a_mailbox_hold_exports_that_mailbox_and_only_compliance_may(rt, arc: Archive, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    arc.put(arc.info, [message(1), message(2)])
    arc.put(arc.ann, [message(3)])
    r.add_hold(rt, OP, "acme", "Case 5", "tax audit by the regulator", mailboxes=["info@acme.example"])
    doc = export_hold(rt, OP, "acme", "Case 5", tmp_path / "c5.zip")
    assert doc["messages"] == 2 and doc["selection"]["mailboxes"] == ["info@acme.example"]
    with pytest.raises(NotFound, match="no hold for case 'Case 6'"):
        export_hold(rt, OP, "acme", "Case 6", tmp_path / "c6.zip")
    assert not (tmp_path / "c6.zip").exists()
    nobody = Principal("user", "u1", "mallory@acme.example")
    with pytest.raises(ControlError):
        export_hold(rt, nobody, "acme", "Case 5", tmp_path / "m.zip")


def test_mail_arriving_after_a_query_hold_cannot_be_deleted_by_compliance_before_indexing(rt, arc: Archive) -> None:  # type: ignore[no-untyped-def]
    r.add_hold(rt, OP, "acme", "Case 9", "regulator inquiry", query="subject:merger")
    late = arc.put(arc.ann, [message(30, date=OLD, subject="merger memo")])  # not indexed yet
    other = arc.put(arc.ann, [message(31, date=OLD, subject="lunch")])
    with rt.session() as s:
        o = rt.org("acme")
        copies = find_copies(arc.archive, item_ids=late + other)
        with pytest.raises(HeldCopies, match="Case 9"):
            refuse_held(rt.settings, s, o, arc.archive, copies)
        refuse_held(rt.settings, s, o, arc.archive, find_copies(arc.archive, item_ids=other))  # not held: no refusal
