"""The export-mail flow under a real Prefect server (the test harness): progress artifact, quota pause and resume."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mailark.control import exports as cx
from mailark.control.principals import Principal
from tests.flows.test_exporting import check_zip, corpus_hashes, download, export_objects, import_into

OP = Principal.deployment_operator()


def _artifacts(key: str) -> list:  # type: ignore[type-arg]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    async def q():  # type: ignore[no-untyped-def]
        async with get_client() as c:
            return await c.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))

    return asyncio.run(q())


def test_export_flow_pauses_at_quota_and_resumes(prefect_api, rt, org, corpus: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.ingest import storage_used
    from mailark.control.models import Organization
    from mailark.flows.export import export_mail
    from mailark.config.settings import reset_settings_cache

    monkeypatch.setenv("MAILARK_EXPORT_BLOCK_BYTES", str(64 * 1024))
    monkeypatch.setenv("MAILARK_EXPORT_PROGRESS_EVERY", "5")
    reset_settings_cache()
    src = corpus / "mail-parser"
    import_into(rt, "ann@acme", src)
    used = storage_used(rt.archive_for(rt.org("acme")))
    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = used + 100_000
        jid = cx.start_export(s, OP, "acme", cx.ExportRequest()).id

    doc = export_mail(jid)  # a flow run: paused, not failed
    assert doc["status"] == "paused_quota" and "nothing was kept" in doc["error"]
    assert export_objects(rt) == [] and not rt.store.exists(f"orgs/{org.id}/exports/{jid}.zip")

    with rt.session() as s:
        s.get(Organization, org.id).storage_quota_bytes = used * 10
        cx.resume(s, OP, "acme", jid)
    doc = export_mail(jid)
    assert doc["status"] == "done" and doc["messages"] > 0
    check_zip(download(rt, jid), corpus_hashes(src))
    # progress shows in the UI: one progress artifact per export, at 100 % when done
    arts = _artifacts(f"export-{jid.lower()}")
    assert len(arts) == 2 and {a.type for a in arts} == {"progress"}  # one per run (paused, then resumed)
    assert max(float(a.data) for a in arts) == 100.0


def test_maintenance_flow_reports_and_fails_on_a_damaged_object(prefect_api, rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.flows.maintain import maintain_archive

    import_into(rt, "ann@acme", corpus / "cpython-test_email")
    doc = maintain_archive(day=0)
    assert not doc["orphans"]["acme"]["found"] and all(not s["failures"] for s in doc["scrubs"])
    part = rt.lake.execute("SELECT object_key FROM lake.objects WHERE kind = 'part' LIMIT 1").fetchone()[0]
    blob = bytearray(rt.store.get(part))
    blob[-1] ^= 0x01
    rt.store.put(part, bytes(blob))
    with pytest.raises(RuntimeError, match="failed their check"):
        maintain_archive(day=_slot_day(part, rt))
    arts = _artifacts("maintenance-report")
    assert any("FAILED part" in str(a.data) for a in arts)  # other tests' maintenance runs report too


def _slot_day(name: str, rt) -> int:  # type: ignore[no-untyped-def]
    from mailark.catalog.maintenance import scrub_slot

    return scrub_slot(name, rt.settings.scrub_period_days)
