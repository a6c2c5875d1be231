"""A restore that crashes between two of its steps is finished by running it again: afterwards the
organization exports byte-exact what it held when backed up, with nothing doubled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mailark.test_backup import PASS, exported, fresh_home


class Crash(RuntimeError):
    pass


@pytest.mark.parametrize("step", ["objects", "catalogue", "control"])
def test_a_restore_interrupted_after_each_step_finishes_when_run_again(rt, corpus: Path, tmp_path: Path, step: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.control import audit
    from mailark.control.models import AuditEvent
    from mailark.control.orgs import create_org
    from mailark.operations import backup as b
    from mailark.runtime import open_runtime
    from mailark.sources.files.importing import run_import

    with rt.session() as s:
        create_org(s, "acme", rt.master_key)
    run_import(rt, "acme", "ann@acme", [corpus / "mail-parser"])
    before = exported(rt, "acme", tmp_path / "before.zip")
    assert sum(before.values()) >= 20
    b.backup(rt, tmp_path / "bk", PASS, org_name="acme", with_master_key=True, verify=False)

    target = open_runtime(fresh_home(tmp_path / "restored"))
    try:
        def crash(at: str) -> None:
            if at == step:
                raise Crash(f"power cut after the {at} step")

        monkeypatch.setattr(b, "_after_step", crash)
        with pytest.raises(Crash):
            b.restore(target, tmp_path / "bk", PASS)
        assert [i.name for i in target.store.list("restores/")], "the journal stays for the next run"
        monkeypatch.setattr(b, "_after_step", lambda at: None)

        summary = b.restore(target, tmp_path / "bk", PASS)  # finishes the job instead of refusing
        assert summary.organizations == 1
        assert exported(target, "acme", tmp_path / "after.zip") == before  # byte-exact, nothing doubled
        assert list(target.store.list("restores/")) == []
        with target.control() as s:
            assert s.query(AuditEvent).filter(AuditEvent.action == "backup.restore").count() == 1
            assert audit.verify_chain(s).ok
        # and once finished, it is an ordinary restored organization: a third run refuses
        with pytest.raises(Exception, match="exists here already"):
            b.restore(target, tmp_path / "bk", PASS)
    finally:
        target.close()
