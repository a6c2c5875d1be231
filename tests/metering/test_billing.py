"""Billing records: the monthly maximum, no proration, trial months marked, trial conversion and cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mailark.control import billing, licensing, metering
from mailark.control.models import AuditEvent, BillingRecord, Licence
from mailark.control.principals import Principal
from mailark.operations.metering import close_billing, meter_org
from tests.control.conftest import make_tenant
from tests.metering.conftest import add_object

OP = Principal.deployment_operator()


def _month(t: datetime) -> str:
    return t.strftime("%Y-%m")


def test_highest_quota_and_users_held_during_the_month(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme", users=5, storage_gb=10)
    with rt.session() as s:
        licensing.change_licence(s, OP, "acme", storage_gb=50, users=20)  # held for a moment...
        licensing.change_licence(s, OP, "acme", storage_gb=25, users=8)  # ...then lowered again
    now = datetime.now(UTC)
    recs = close_billing(rt, "acme")
    assert [(r.month, r.storage_gb, r.licensed_users, r.trial, r.billable, r.closed) for r in recs] == [
        (_month(now), 50, 20, False, True, False)
    ]
    # next month holds only what was left at the end of this one; this month is then final
    nxt = (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=1)
    recs = close_billing(rt, "acme", now=nxt)
    assert [(r.month, r.storage_gb, r.licensed_users, r.closed) for r in recs] == [
        (_month(now), 50, 20, True), (_month(nxt), 25, 8, False)
    ]
    # a closed month is final: closing again does not rewrite it
    assert [r.month for r in close_billing(rt, "acme", now=nxt)] == [_month(nxt)]
    with rt.session() as s:
        rows = s.scalars(select(BillingRecord).where(BillingRecord.org_id == t.org.id).order_by(BillingRecord.month)).all()
        assert [(r.month, r.storage_gb, r.closed) for r in rows] == [(_month(now), 50, True), (_month(nxt), 25, False)]
        # readable by the organization's admin, not by another organization's
        assert [m.storage_gb for m in billing.billing_records(s, t.admin, "acme", _month(now))] == [50]


def test_auto_expand_counts_as_the_months_maximum(rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import GB

    make_tenant(rt, "acme", users=5, storage_gb=10, auto_expand=True)
    add_object(rt, rt.org("acme").id, int(9.5 * GB))
    assert meter_org(rt, "acme").outcome["expanded_to_gb"] == [25]
    (rec,) = close_billing(rt, "acme")
    assert rec.storage_gb == 25


def test_trial_month_marked_and_trial_converts_to_paid(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")  # no figures: a 30-day trial
    with rt.session() as s:
        lic = s.get(Licence, t.org.id)
        ends = licensing.utc(lic.trial_ends_at)
    (rec,) = close_billing(rt, "acme")
    assert rec.trial and not rec.billable and rec.status_at_end == "trial"
    # the day after the trial: paid, the conversion audited once by metering
    later = ends + timedelta(days=1)
    r = meter_org(rt, "acme", now=later)
    assert r.outcome["trial_ended"] == "paid" and not r.outcome["paused"]
    assert meter_org(rt, "acme", now=later + timedelta(minutes=15)).outcome["trial_ended"] is None
    recs = {r.month: r for r in close_billing(rt, "acme", now=later)}
    assert recs[_month(later)].billable and recs[_month(later)].status_at_end == "paid"
    if _month(ends) != _month(t.org.created_at):
        assert recs[_month(t.org.created_at)].trial and not recs[_month(t.org.created_at)].billable
    assert recs[_month(ends)].trial and recs[_month(ends)].billable  # the month it converted: both
    with rt.session() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "licence.trial_ended")).all()
        assert len(ev) == 1 and ev[0].actor_kind == "system" and '"became":"paid"' in ev[0].details


def test_cancelled_trial_expires_not_billed_and_pauses_archiving(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")
    with rt.session() as s:
        licensing.cancel_trial(s, OP, "acme")
        ends = licensing.utc(s.get(Licence, t.org.id).trial_ends_at)
    later = ends + timedelta(days=40)
    r = meter_org(rt, "acme", now=later)
    assert r.outcome["trial_ended"] == "expired" and r.outcome["paused"]
    assert "cancelled" in r.outcome["paused_reason"]
    recs = {r.month: r for r in close_billing(rt, "acme", now=later)}
    assert not any(r.billable for r in recs.values())
    assert recs[_month(later)].status_at_end == "expired" and not recs[_month(later)].trial
    # the operator renews: paid from then on, and archiving resumes at once (issue 14), not at the next run
    with rt.session() as s:
        licensing.renew(s, OP, "acme", now=later + timedelta(minutes=1))
        assert metering.archiving_paused(s, rt.org("acme").id) is None
    r = meter_org(rt, "acme", now=later + timedelta(minutes=15))
    assert not r.outcome["paused"] and r.outcome["changed"] is None


def test_bad_month_is_a_clear_error(rt) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from mailark.control.orgs import ControlError

    t = make_tenant(rt, "acme")
    with rt.session() as s, pytest.raises(ControlError, match="YYYY-MM"):
        billing.billing_records(s, t.admin, "acme", "November")
