"""Issue 14, section 3: auto-expansion keeps room for mail and export files. An ingest batch or an export
that would overflow the quota raises the tier right there (audited `licence.auto_expand`), instead of
deferring until the next metering run; without auto-expansion the same batch is deferred."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from mailark.control.models import GB, AuditEvent, Licence
from mailark.control.orgs import create_org
from tests.metering.conftest import add_object


@pytest.mark.parametrize("auto_expand", [True, False])
def test_an_import_that_would_overflow_expands_the_tier_at_once(rt, corpus: Path, auto_expand: bool) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.files.importing import run_import

    with rt.session() as s:
        org, _ = create_org(s, "grow", rt.master_key, users=5, storage_gb=10, auto_expand=auto_expand)
    add_object(rt, org.id, 10 * GB - 50_000)  # nearly full: the next mail overflows the 10 GB tier
    counts = run_import(rt, "grow", "ann@grow", [corpus / "cpython-test_email"]).as_dict()
    with rt.control() as s:
        lic = s.get(Licence, org.id)
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "licence.auto_expand")).all()
        if auto_expand:
            assert counts["deferred"] == 0 and counts["archived"] > 0
            assert lic.storage_gb == 25 and [e.actor_login for e in events] == ["ingest"]
        else:
            assert counts["deferred"] > 0 and lic.storage_gb == 10 and events == []


def test_an_export_that_would_overflow_expands_the_tier(rt, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.ingest import storage_used
    from mailark.control import exports as cx
    from mailark.control.principals import Principal
    from mailark.operations.exports import run_export
    from mailark.sources.files.importing import run_import

    rt.settings.export_block_bytes = 64 * 1024
    with rt.session() as s:
        org, _ = create_org(s, "grow", rt.master_key, users=5, storage_gb=10, auto_expand=True)
    run_import(rt, "grow", "ann@grow", [corpus / "mail-parser"])
    used = storage_used(rt.archive_for(rt.org("grow")))
    add_object(rt, org.id, 10 * GB - used - 50_000)  # the export's file would overflow 10 GB
    with rt.session(write=True) as s:
        jid = cx.start_export(s, Principal.deployment_operator(), "grow", cx.ExportRequest()).id
    assert run_export(rt, jid).status == "done"
    with rt.control() as s:
        assert s.get(Licence, org.id).storage_gb == 25
        assert [e.actor_login for e in s.scalars(select(AuditEvent).where(
            AuditEvent.action == "licence.auto_expand"))] == ["ingest"]
