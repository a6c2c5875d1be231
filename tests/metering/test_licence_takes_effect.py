"""Issue 14, section 3: a licence change takes effect at once. Raising the storage tier (or undoing a
cancellation) resumes a paused organization immediately, not at the next metering run, and the usage
figures never show the new quota beside "storage is full"."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from mailark.control import licensing, metering
from mailark.control.models import GB, AuditEvent, Organization, SourceProfile
from mailark.control.orgs import create_org
from mailark.control.principals import Principal

OP = Principal.deployment_operator()


def _measure(s, org: Organization, used: int) -> metering.Outcome:  # type: ignore[no-untyped-def]
    m = metering.Measurement(snapshot_id=1, object_bytes=used, export_bytes=0, lake_bytes=0, messages=1, copies=1,
                             raw_bytes=used, full_count=True)
    return metering.apply(s, org, m, datetime.now(UTC))


def test_raising_the_tier_resumes_archiving_at_once(rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.metering import archiving_paused
    from mailark.sources.journal.profiles import add_journal

    with rt.session() as s:
        org, _ = create_org(s, "full", rt.master_key, users=5, storage_gb=10)
        add_journal(s, OP, org, rt.master_key, rt.settings.journal.domain, allow_networks=["192.0.2.0/24"])
        assert _measure(s, org, 11 * GB).paused
        assert archiving_paused(s, org.id) is not None
        assert s.scalar(select(SourceProfile.paused_reason).where(SourceProfile.org_id == org.id)).startswith("storage is full")
    with rt.session() as s:
        licensing.change_licence(s, OP, "full", storage_gb=25)
    with rt.session() as s:  # no metering run in between
        org = s.scalar(select(Organization).where(Organization.name == "full"))
        assert archiving_paused(s, org.id) is None
        assert s.scalar(select(SourceProfile.paused_reason).where(SourceProfile.org_id == org.id)) is None
        usage = metering.view(s, org)
        assert usage.storage_quota_gb == 25 and not usage.archiving_paused
        assert not any(w["notice"] == "storage_full" for w in usage.warnings)
        events = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.org_id == org.id))]
        assert events.index("archiving.resume") > events.index("licence.change")


def test_a_tier_still_too_small_keeps_it_paused(rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.metering import archiving_paused

    with rt.session() as s:
        org, _ = create_org(s, "huge", rt.master_key, users=5, storage_gb=10)
        _measure(s, org, 30 * GB)
    with rt.session() as s:
        licensing.change_licence(s, OP, "huge", storage_gb=25)
    with rt.session() as s:
        org = s.scalar(select(Organization).where(Organization.name == "huge"))
        assert "30 GB used of 25 GB" in (archiving_paused(s, org.id) or "")
