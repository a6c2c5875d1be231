"""Issue 14, section 4: exports at their edges. A full export that paused, failed or was deleted before it
completed does not use up the month's full export and is never the base of an incremental one; a
selection of everything is a full export; a paused export resumes by itself when there is room."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailark.control import exports as cx
from mailark.control.models import Organization
from mailark.control.principals import Principal
from tests.flows.test_exporting import import_into, job, start

OP = Principal.deployment_operator()


def _pause(rt, org, req: cx.ExportRequest) -> str:  # type: ignore[no-untyped-def]
    """A full export that pauses at the quota."""
    from mailark.catalog.ingest import storage_used
    from mailark.operations.exports import run_export

    rt.settings.export_block_bytes = 64 * 1024
    used = storage_used(rt.archive_for(rt.org("acme")))
    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = used + 50_000
    jid = start(rt, req)
    assert run_export(rt, jid).status == "paused_quota"
    return jid


def test_an_unfinished_full_export_uses_nothing(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import run_export

    import_into(rt, "ann@acme", corpus / "mail-parser")
    paused = _pause(rt, org, cx.ExportRequest())
    assert job(rt, paused).kind == "full"
    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = 10**12
        cx.mark_deleted(s, OP, "acme", paused)  # deleted before it ever completed
    # the month's full export is still there, and the deleted one is no base for an incremental one
    inc = start(rt, cx.ExportRequest(incremental=True))
    assert job(rt, inc).kind == "full" and job(rt, inc).archived_after is None
    assert run_export(rt, inc).status == "done"
    with pytest.raises(cx.LimitExceeded, match="already had its full-archive export this month"):
        start(rt, cx.ExportRequest())
    assert job(rt, start(rt, cx.ExportRequest(incremental=True))).kind == "incremental"


def test_a_paused_full_export_leaves_the_month_free_and_cannot_resume_past_a_completed_one(
        rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.operations.exports import run_export

    import_into(rt, "ann@acme", corpus / "mail-parser")
    paused = _pause(rt, org, cx.ExportRequest())
    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = 10**12
    other = start(rt, cx.ExportRequest())  # allowed: the paused one did not use the month
    assert run_export(rt, other).status == "done"
    with pytest.raises(cx.LimitExceeded, match=f"export {other}"), rt.session() as s:
        cx.resume(s, OP, "acme", paused)


def test_a_selection_of_everything_is_a_full_export(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from mailark.catalog.stats import message_date_span

    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    import_into(rt, "bob@acme", corpus / "tnef")
    every = start(rt, cx.ExportRequest(mailboxes=["bob@acme", "ann@acme"]))
    assert job(rt, every).kind == "full"
    with pytest.raises(cx.LimitExceeded, match="already had its full-archive export this month"):
        start(rt, cx.ExportRequest(mailboxes=["ann@acme", "bob@acme"]))
    # dates that cover every archived message count too; dates that leave some out do not
    first, last = message_date_span(rt.archive_for(rt.org("acme")))
    req = cx.ExportRequest(date_from=first - timedelta(days=1), date_to=last + timedelta(days=1))
    assert cx.may_cover_everything(req)
    with pytest.raises(cx.LimitExceeded), rt.session(write=True) as s:
        cx.start_export(s, OP, "acme", req, date_span=(first, last))
    with rt.session(write=True) as s:
        part = cx.start_export(s, OP, "acme", cx.ExportRequest(date_from=first + timedelta(seconds=1)),
                               date_span=(first, last))
        assert part.kind == "selection"


def test_a_paused_export_resumes_by_itself_when_metering_finds_room(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.control import licensing
    from mailark.operations.metering import meter_org

    import_into(rt, "ann@acme", corpus / "mail-parser")
    paused = _pause(rt, org, cx.ExportRequest())
    assert "resumes by itself when there is room" in (job(rt, paused).error or "")
    meter_org(rt, "acme")  # still no room: stays paused
    assert job(rt, paused).status == "paused_quota"
    with rt.session() as s:
        licensing.change_licence(s, OP, "acme", storage_gb=25)
    meter_org(rt, "acme")
    assert job(rt, paused).status == "done"
    with rt.control() as s:
        from sqlalchemy import select

        from mailark.control.models import AuditEvent
        resumed = s.scalars(select(AuditEvent).where(AuditEvent.action == "content.export.resume")).all()
        assert [e.target for e in resumed] == [f"export {paused}"] and resumed[0].actor_kind == "system"


def test_the_licence_command_resumes_a_paused_export(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from mailark.cli import app
    from mailark.operations.metering import meter_org

    import_into(rt, "ann@acme", corpus / "mail-parser")
    paused = _pause(rt, org, cx.ExportRequest())
    meter_org(rt, "acme")  # the measurement the licence change is judged against
    r = CliRunner().invoke(app, ["licence", "set", "--org", "acme", "--storage-gb", "25"])
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert f"export {paused} was paused at the storage quota: there is room now, it was resumed" in r.stderr
    assert job(rt, paused).status == "done"
