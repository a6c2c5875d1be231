"""`mailark repair`: bytes flipped in objects and in a catalogue Parquet file of an organization, an
object gone; repaired from the earlier backup, the organization exports byte-exact what it held.
What the backup cannot have (stored after it) is named, and the exit status is 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.mailark.test_backup import PASS, exported
from tests.mailark.test_backup_integrity import flip, run, some_object


def test_repair_puts_back_damaged_objects_and_catalogue_files(rt, corpus: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.integrity import org_lake_files
    from mailark.control.models import AuditEvent
    from mailark.control.orgs import create_org
    from mailark.sources.files.importing import run_import

    with rt.session() as s:
        acme, _ = create_org(s, "acme", rt.master_key)
        create_org(s, "globex", rt.master_key)
    run_import(rt, "acme", "ann@acme", [corpus / "mail-parser"])
    run_import(rt, "globex", "gus@globex", [corpus / "imap_tools"])
    monkeypatch.setenv("MAILARK_BACKUP_PASSPHRASE", PASS.decode())
    from mailark.config.settings import reset_settings_cache

    reset_settings_cache()  # the in-process CLI reads the settings again, passphrase included
    before = exported(rt, "acme", tmp_path / "before.zip")
    res = run("backup", str(tmp_path / "bk"), "--org", "acme")
    assert res.exit_code == 0, res.output

    res = run("repair", "--org", "acme", "--from", str(tmp_path / "bk"), "--json")  # nothing to do
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["found"] == [] and json.loads(res.stdout)["copies_checked"] >= 20

    data = Path(rt.store.data_path())
    part, pack = some_object(rt, "part"), some_object(rt, "pack")
    flip(data / part)
    flip(data / pack, 0.7)
    gone = [k for (k,) in rt.lake.execute(
        "SELECT object_key FROM lake.objects WHERE kind = 'part' ORDER BY object_key").fetchall() if k != part][0]
    (data / gone).unlink()
    parquet = next(f.name for f in org_lake_files(rt.lake, rt.store, acme.id) if f.table == "mailbox_items" and f.kind == "data")
    flip(data / parquet)
    with pytest.raises(Exception):  # noqa: B017 - the damage is real: the archive cannot be read
        exported(rt, "acme", tmp_path / "broken.zip")

    res = run("repair", "--org", "acme", "--from", str(tmp_path / "bk"), "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert {d["name"] for d in doc["found"]} == {part, pack, gone, parquet}
    assert sorted(doc["repaired"]) == sorted([part, pack, gone, parquet]) and doc["not_repaired"] == []
    rt.renew_lake()
    assert exported(rt, "acme", tmp_path / "after.zip") == before  # byte-exact again
    with rt.control() as s:
        assert s.query(AuditEvent).filter(AuditEvent.action == "backup.repair").count() == 2

    # stored after the backup: the backup cannot have it; named, exit 1
    run_import(rt, "acme", "bob@acme", [corpus / "cpython-test_email"])
    newer = next(k for (k,) in rt.lake.execute(
        "SELECT object_key FROM lake.objects WHERE kind = 'pack' ORDER BY object_key").fetchall()
        if not (tmp_path / "bk" / "objects" / k).exists())
    flip(data / newer)
    res = run("repair", "--org", "acme", "--from", str(tmp_path / "bk"), "--json")
    assert res.exit_code == 1
    left = json.loads(res.stdout)["not_repaired"]
    assert newer in {d["name"] for d in left} and "no copy of it" in next(d["reason"] for d in left if d["name"] == newer)
    res = run("repair", "--org", "acme", "--from", str(tmp_path / "bk"))
    assert res.exit_code == 1 and newer in res.stderr
    res = run("repair", "--org", "globex", "--from", str(tmp_path / "bk"))
    assert res.exit_code == 1 and "does not hold organization 'globex'" in res.stderr
