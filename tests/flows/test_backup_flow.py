"""The daily `backup` flow under a real Prefect server (the test harness): a new generation, older ones
pruned to `backup.keep`, a report artifact; an incomplete backup fails the run and prunes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.flows.test_export_flow import _artifacts

PASS = "correct horse battery staple"


def test_the_backup_flow_keeps_generations_and_fails_on_gaps(prefect_api, rt, org, corpus: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.config.settings import reset_settings_cache
    from mailark.flows.backup import backup_flow
    from mailark.operations.backup_schedule import generations, scheduled_backup
    from mailark.runtime import open_runtime
    from mailark.sources.files.importing import run_import

    run_import(rt, "acme", "ann@acme", [corpus / "mail-parser"])
    root = tmp_path / "backups"
    monkeypatch.setenv("MAILARK_BACKUP__DESTINATION", str(root))
    monkeypatch.setenv("MAILARK_BACKUP__KEEP", "2")
    monkeypatch.setenv("MAILARK_BACKUP_PASSPHRASE", PASS)
    reset_settings_cache()
    plain = open_runtime()
    try:
        for day in (1, 2):  # two earlier days, made by the plain code
            assert scheduled_backup(plain, datetime(2026, 12, day, 4, tzinfo=UTC)).summary.complete
    finally:
        plain.close()
    failed = root / "20261202T120000Z"  # a generation that did not complete, newer than both
    failed.mkdir()
    (failed / "backup.json").write_text(json.dumps({"complete": False}))
    (root / "notes").mkdir()  # not a generation: left alone

    doc = backup_flow()
    assert doc["complete"] and doc["verification"]["ok"]  # type: ignore[index]
    assert doc["pruned"] == ["20261201T040000Z"]
    assert doc["kept"] == ["20261202T040000Z", doc["generation"]]
    assert [g.name for g in generations(root)] == ["20261202T040000Z", "20261202T120000Z", doc["generation"]]
    assert (root / "notes").is_dir()
    art = str(_artifacts("backup-report")[-1].data)
    assert f"# Backup {doc['generation']}: complete" in art and "deleted: 20261201T040000Z" in art
    # the restore of the newest generation is checked in tests/mailark/test_backup.py; here: it verifies
    from mailark.operations.backup_verify import verify_backup

    assert verify_backup(rt, root / str(doc["generation"]), PASS.encode()).ok

    # a part gone from the object store: the run fails, names it, and deletes no generation
    from mailark.catalog.lake import ALIAS

    victim = rt.lake.execute(f"SELECT object_key FROM {ALIAS}.objects WHERE kind = 'part' LIMIT 1").fetchone()[0]
    (Path(rt.store.data_path()) / victim).unlink()
    before = [g.name for g in generations(root)]
    with pytest.raises(RuntimeError, match="incomplete: 1 not copied"):
        backup_flow()
    after = [g.name for g in generations(root)]
    assert after[:len(before)] == before and len(after) == len(before) + 1
    arts = _artifacts("backup-report")
    assert any("INCOMPLETE" in str(a.data) and victim in str(a.data) for a in arts)
