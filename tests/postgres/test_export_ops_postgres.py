"""Export jobs, compaction (every organization's advisory lane) and backup on PostgreSQL; the backup
restores into a SQLite home (rows are logical, so the backends may differ)."""

from __future__ import annotations

import hashlib
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from mailark.control import exports as cx
from mailark.control.principals import Principal
from tests.flows.test_exporting import check_zip, corpus_hashes, download, import_into
from tests.mailark.test_backup import PASS, fresh_home


def eml_hashes(path: Path) -> Counter[str]:
    with zipfile.ZipFile(path) as zf:
        return Counter(hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist() if n.endswith(".eml"))


def test_export_compaction_and_backup_to_sqlite(home, rt, org, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.export import export_zip
    from mailark.operations.exports import run_export
    from mailark.operations.maintenance import compact_catalogue
    from mailark.operations.backup import backup, restore
    from mailark.runtime import open_runtime

    rt.settings.batch_messages = 10
    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    with rt.session() as s:
        jid = cx.start_export(s, Principal.deployment_operator(), "acme", cx.ExportRequest()).id
    assert run_export(rt, jid).status == "done"
    check_zip(download(rt, jid), corpus_hashes(corpus / "cpython-test_email"))

    rt.settings.lake_snapshot_retention_days = 0
    report = compact_catalogue(rt, datetime.now(UTC))
    assert report.files_after < report.files_before

    export_zip(rt.archive_for(org), tmp_path / "before.zip")
    backup(rt, tmp_path / "bk", PASS, with_master_key=True)
    target = open_runtime(fresh_home(tmp_path / "sqlite-home"))
    try:
        assert target.settings.resolved_control_url.startswith("sqlite")
        restore(target, tmp_path / "bk", PASS)
        export_zip(target.archive_for(target.org("acme")), tmp_path / "after.zip")
    finally:
        target.close()
    assert eml_hashes(tmp_path / "after.zip") == eml_hashes(tmp_path / "before.zip") != Counter()
