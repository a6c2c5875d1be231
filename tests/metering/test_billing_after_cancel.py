"""Issue 14, section 2: a cancelled subscription is billed until the end of the month it ends in (that
month's maximum), and not after; undoing the cancellation makes it billable again from then on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailark.control import billing, licensing
from mailark.control.orgs import create_org
from mailark.control.principals import Principal

OP = Principal.deployment_operator()


def test_billing_stops_after_the_month_the_subscription_ends(rt) -> None:  # type: ignore[no-untyped-def]
    created = datetime(2026, 3, 10, tzinfo=UTC)
    with rt.session() as s:
        org, _ = create_org(s, "leaving", rt.master_key, users=20, storage_gb=50)
        org.created_at = created
    with rt.session() as s:
        org = rt.org("leaving")
        licensing.cancel_subscription(s, OP, "leaving", grace_days=30, now=datetime(2026, 4, 20, tzinfo=UTC))
    later = datetime(2026, 6, 15, tzinfo=UTC)
    with rt.session() as s:
        org = s.merge(rt.org("leaving"))
        april = billing.compute_month(s, org, "2026-04", now=later)
        may = billing.compute_month(s, org, "2026-05", now=later)
        assert april is not None and april.billable and april.status_at_end == "paid"  # the month it ends in
        assert may is not None and not may.billable and may.status_at_end == "ended"
        licensing.resume_subscription(s, OP, "leaving", now=datetime(2026, 6, 1, tzinfo=UTC))
    with rt.session() as s:
        org = s.merge(rt.org("leaving"))
        assert not billing.compute_month(s, org, "2026-05", now=later).billable  # type: ignore[union-attr]
        assert billing.compute_month(s, org, "2026-06", now=later).billable  # type: ignore[union-attr]
