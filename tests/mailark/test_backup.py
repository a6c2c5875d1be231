"""Backup and restore into an empty home: every exported .eml is byte-identical to the corpus original.

Also the `mailark exports` commands (start, list, download, delete) against the restored home.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mailark.config.settings import Settings, reset_settings_cache

PASS = b"correct horse battery staple"


def originals(*dirs: Path) -> set[str]:
    from mailark.sources.files import iter_source

    return {hashlib.sha256(m.raw).hexdigest() for d in dirs for m in iter_source(d, None)}


def exported(rt, org_name: str, path: Path) -> Counter[str]:  # type: ignore[no-untyped-def]
    """SHA-256 of every .eml of a full export of the organization."""
    from mailark.catalog.export import export_zip

    export_zip(rt.archive_for(rt.org(org_name)), path)
    with zipfile.ZipFile(path) as zf:
        return Counter(hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist() if n.endswith(".eml"))


def fresh_home(path: Path, **kw: object) -> Settings:
    return Settings(home=path, object_store="local", control_url=None, master_key=None, master_key_file=None,
                    lake_catalog=None, **kw)  # type: ignore[arg-type]


@pytest.fixture
def source(rt, corpus: Path):  # type: ignore[no-untyped-def]
    """Two organizations with mail, an export file and a few control-plane things."""
    from mailark.control import exports as cx
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.operations.exports import run_export
    from mailark.sources.files.importing import run_import

    with rt.session() as s:
        create_org(s, "acme", rt.master_key)
        create_org(s, "globex", rt.master_key)
    run_import(rt, "acme", "ann@acme", [corpus / "cpython-test_email"])
    run_import(rt, "acme", "bob@acme", [corpus / "mail-parser"])
    run_import(rt, "globex", "gus@globex", [corpus / "imap_tools"])
    with rt.session() as s:
        jid = cx.start_export(s, Principal.deployment_operator(), "acme", cx.ExportRequest(mailboxes=["ann@acme"])).id
    assert run_export(rt, jid).status == "done"
    return rt


def test_whole_deployment_restores_into_an_empty_home(source, tmp_path: Path, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.backup import BackupError, backup, restore
    from mailark.runtime import open_runtime

    rt = source
    before = {o: exported(rt, o, tmp_path / f"{o}-before.zip") for o in ("acme", "globex")}
    assert sum(before["acme"].values()) > 30 and set(before["acme"]) <= originals(corpus / "cpython-test_email", corpus / "mail-parser")
    dest = tmp_path / "bk"
    summary = backup(rt, dest, PASS, with_master_key=True)
    assert summary.organizations == 2 and summary.objects > 0 and summary.catalogue_rows > 0
    # the key room is ciphertext: no subject, address or org name in it
    keyroom = (dest / "keyroom.sealed").read_bytes()
    for needle in (b"ann@acme", b"globex", b"Message-ID", b"admin@"):
        assert needle not in keyroom
    assert b"globex" not in (dest / "backup.json").read_bytes()

    target = open_runtime(fresh_home(tmp_path / "restored"))
    try:
        with pytest.raises(BackupError, match="wrong passphrase"):
            restore(target, dest, b"not the passphrase")
        # a different master key there: the organizations' keys are re-wrapped under it
        assert target.master_key.key_id != rt.master_key.key_id
        restored = restore(target, dest, PASS)
        assert restored.organizations == 2
        for o in ("acme", "globex"):
            assert exported(target, o, tmp_path / f"{o}-after.zip") == before[o]
        # the export file came along and still opens
        from mailark.control.models import ExportJob
        from mailark.operations.exports import open_download

        with target.control() as s:
            job = s.query(ExportJob).one()
        zf = zipfile.ZipFile(io.BytesIO(b"".join(open_download(target, job))))
        assert "manifest.csv" in zf.namelist()
        # and the audit chain is whole
        from mailark.control.audit import verify_chain

        with target.control() as s:
            assert verify_chain(s).ok
    finally:
        target.close()


def test_one_organization_restores_via_the_cli(source, tmp_path: Path, corpus: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.cli import app

    rt = source
    before = exported(rt, "acme", tmp_path / "acme-before.zip")
    pw = tmp_path / "pass"
    pw.write_bytes(PASS + b"\n")
    runner = CliRunner()
    res = runner.invoke(app, ["backup", str(tmp_path / "bk"), "--org", "acme", "--passphrase-file", str(pw), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["organizations"] == 1 and doc["scope"] == "acme"

    # an empty home with the same master key (not in this backup)
    new_home = tmp_path / "other"
    (new_home / "db").mkdir(parents=True)
    (new_home / "db" / "master.key").write_bytes(rt.settings.resolved_master_key_file.read_bytes())
    monkeypatch.setenv("MAILARK_HOME", str(new_home))
    monkeypatch.setenv("MAILARK_BACKUP_PASSPHRASE", PASS.decode())
    reset_settings_cache()
    res = runner.invoke(app, ["restore", str(tmp_path / "bk"), "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["org", "list", "--json"])
    assert [o["name"] for o in json.loads(res.stdout)] == ["acme"]
    res = runner.invoke(app, ["restore", str(tmp_path / "bk")])
    assert res.exit_code == 1 and "exists here already" in res.output

    # export through the export jobs of the restored home: byte-identical to before
    res = runner.invoke(app, ["exports", "start", "--org", "acme", "--json"])
    assert res.exit_code == 0, res.output
    export_id = json.loads(res.stdout)["id"]
    out = tmp_path / "restored.zip"
    res = runner.invoke(app, ["exports", "download", "--org", "acme", export_id, "--out", str(out)])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(out) as zf:
        after = Counter(hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist() if n.endswith(".eml"))
    assert after == before
    assert set(after) <= originals(corpus / "cpython-test_email", corpus / "mail-parser")
    res = runner.invoke(app, ["exports", "start", "--org", "acme"])
    assert res.exit_code == 1 and "already had its full-archive export this month" in res.output
    res = runner.invoke(app, ["exports", "list", "--org", "acme", "--json"])
    assert len(json.loads(res.stdout)) == 2  # the one from the backup and the new one
    res = runner.invoke(app, ["exports", "delete", "--org", "acme", export_id, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["status"] == "deleted"


def test_restore_without_the_master_key_needs_the_same_one(source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.backup import BackupError, backup, restore
    from mailark.runtime import open_runtime

    backup(source, tmp_path / "bk", PASS, org_name="globex")
    target = open_runtime(fresh_home(tmp_path / "elsewhere"))
    try:
        with pytest.raises(BackupError, match="wrapped by master key .* MAILARK_MASTER_KEY"):
            restore(target, tmp_path / "bk", PASS)
        with target.control() as s:
            from mailark.control.orgs import list_orgs

            assert list_orgs(s) == []  # nothing half-restored
    finally:
        target.close()


def test_a_damaged_backup_restores_nothing(source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.backup import BackupError, backup, restore
    from mailark.cli import app
    from mailark.runtime import open_runtime

    res = CliRunner().invoke(app, ["backup", str(tmp_path / "nopass")])
    assert res.exit_code == 1 and "passphrase" in res.output
    dest = tmp_path / "bk"
    backup(source, dest, PASS, org_name="acme", with_master_key=True)
    victim = next(p for p in (dest / "objects").rglob("*") if p.is_file())
    victim.write_bytes(victim.read_bytes()[:-1])
    target = open_runtime(fresh_home(tmp_path / "t"))
    try:
        with pytest.raises(BackupError, match="missing or damaged"):
            restore(target, dest, PASS)
        with target.control() as s:
            from mailark.control.orgs import list_orgs

            assert list_orgs(s) == []
        assert list(target.store.list("orgs/")) == []
    finally:
        target.close()
