"""A backup never reports success with gaps, checks what it copied, and `mailark backup verify`
finds a damaged backup without restoring it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

PASS = b"correct horse battery staple"


@pytest.fixture
def acme(rt, corpus: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """One organization with a little mail; the CLI runs against the same home."""
    from mailark.control.orgs import create_org
    from mailark.sources.files.importing import run_import

    with rt.session() as s:
        create_org(s, "acme", rt.master_key)
    run_import(rt, "acme", "ann@acme", [corpus / "mail-parser"])
    monkeypatch.setenv("MAILARK_BACKUP_PASSPHRASE", PASS.decode())
    from mailark.config.settings import reset_settings_cache

    reset_settings_cache()  # the in-process CLI reads the settings again, passphrase included
    return rt


def flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x20
    path.write_bytes(bytes(data))


def some_object(rt, kind: str) -> str:  # type: ignore[no-untyped-def]
    from mailark.catalog.lake import ALIAS

    row = rt.lake.execute(f"SELECT object_key FROM {ALIAS}.objects WHERE kind = ? ORDER BY object_key LIMIT 1", [kind]).fetchone()
    assert row, f"the corpus gave no {kind} object"
    return str(row[0])


def run(*args: str):  # type: ignore[no-untyped-def]
    from mailark.cli import app

    return CliRunner().invoke(app, list(args))


def test_a_missing_object_fails_the_backup_and_is_named(acme, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    victim = some_object(acme, "part")
    (Path(acme.store.data_path()) / victim).unlink()
    res = run("backup", str(tmp_path / "bk"), "--org", "acme", "--json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["complete"] is False
    assert [g["name"] for g in doc["not_copied"]] == [victim]
    assert "object store does not have it" in doc["not_copied"][0]["reason"]
    assert victim in res.stderr and "INCOMPLETE" in res.stderr
    # the backup says so itself, and restore will not take it
    manifest = json.loads((tmp_path / "bk" / "backup.json").read_text())
    assert manifest["complete"] is False
    res = run("backup", "verify", str(tmp_path / "bk"), "--json")
    assert res.exit_code == 1 and victim in [g["name"] for g in json.loads(res.stdout)["not_copied"]]
    from mailark.operations.backup import BackupError, restore
    from mailark.runtime import open_runtime
    from tests.mailark.test_backup import fresh_home

    target = open_runtime(fresh_home(tmp_path / "t"))
    try:
        with pytest.raises(BackupError, match="incomplete backup"):
            restore(target, tmp_path / "bk", PASS)
        assert list(target.store.list("")) == []  # nothing written
    finally:
        target.close()


def test_an_unreadable_object_fails_the_backup_and_is_named(acme, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.storage.local import LocalObjectStore
    from mailark.storage.objects import ObjectStoreError

    victim = some_object(acme, "pack")
    real = LocalObjectStore.iter_chunks

    def failing(self, name: str, chunk_size: int = 1 << 20):  # type: ignore[no-untyped-def]
        if name == victim:  # a read error of the disk, which root's permissions cannot simulate
            raise ObjectStoreError(f"cannot read {name}: Input/output error")
        return real(self, name, chunk_size)

    monkeypatch.setattr(LocalObjectStore, "iter_chunks", failing)
    res = run("backup", str(tmp_path / "bk"), "--org", "acme")
    assert res.exit_code == 1
    assert victim in res.stderr and "Input/output error" in res.stderr and "INCOMPLETE" in res.stderr


def test_verify_names_a_flipped_byte_in_a_backup(acme, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = run("backup", str(tmp_path / "bk"), "--org", "acme", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["complete"] and doc["verification"]["ok"] and doc["verification"]["copies_checked"] >= 20
    res = run("backup", "verify", str(tmp_path / "bk"), "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["copies_checked"] == doc["verification"]["copies_checked"]

    victim = some_object(acme, "pack")
    flip(tmp_path / "bk" / "objects" / victim)
    res = run("backup", "verify", str(tmp_path / "bk"), "--json")
    assert res.exit_code == 1
    damaged = json.loads(res.stdout)["damaged"]
    assert {"name": victim, "kind": "object", "reason": "SHA-256 differs from the one recorded when the backup was made"} in damaged
    res = run("backup", "verify", str(tmp_path / "bk"))
    assert res.exit_code == 1 and victim in res.stderr


def test_a_backup_checks_what_it_copied_against_the_catalogue(acme, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An object already damaged in the store is copied faithfully (its SHA-256 in the backup matches the
    copy): only opening it with its key and rebuilding the copies finds it, and the backup fails."""
    victim = some_object(acme, "part")
    flip(Path(acme.store.data_path()) / victim)
    res = run("backup", str(tmp_path / "bk"), "--org", "acme", "--json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["not_copied"] == [] and doc["complete"] is False
    named = {d["name"] for d in doc["verification"]["damaged"]}
    assert victim in named
    assert any(d["kind"] == "copy" for d in doc["verification"]["damaged"])  # and the copies that need it
    assert json.loads((tmp_path / "bk" / "backup.json").read_text())["verified"] is False
