"""Issue 14, section 2: after the grace period a cancelled organization is locked and deleted as
scheduled (the daily `delete-due-organizations` flow), unless a legal hold makes it wait; an undone
cancellation is never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mailark.control import licensing
from mailark.control.models import Licence, OrgKey, Organization
from mailark.control.principals import Principal
from tests.mailark.test_org_delete import _org_with_mail

OP = Principal.deployment_operator()


def _cancel_long_ago(rt, name: str) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        licensing.cancel_subscription(s, OP, name, grace_days=30)
        lic = s.scalar(select(Licence).join(Organization, Organization.id == Licence.org_id)
                       .where(Organization.name == name))
        lic.subscription_ends_at = datetime.now(UTC) - timedelta(days=40)
        lic.deletion_due_at = datetime.now(UTC) - timedelta(days=10)


def test_due_organizations_are_deleted_held_and_resumed_ones_are_not(rt, prefect_api) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.retention import place_hold
    from mailark.flows.org_delete_due import delete_due_organizations_flow

    gone, held, stays = (_org_with_mail(rt, n) for n in ("gone", "held", "stays"))
    for name in ("gone", "held", "stays"):
        _cancel_long_ago(rt, name)
    with rt.session() as s:
        place_hold(s, OP, "held", "Case 7", "litigation", mailboxes=["bea@held"])
        licensing.resume_subscription(s, OP, "stays")
    result = delete_due_organizations_flow()
    assert [d["org"] for d in result["deleted"]] == ["gone"]
    assert "legal hold (Case 7 (litigation))" in result["held"]["held"]
    with rt.control() as s:
        keys = {o: len(s.scalars(select(OrgKey).where(OrgKey.org_id == o)).all()) for o in (gone, held, stays)}
    assert keys == {gone: 0, held: 2, stays: 2}
    assert not list(rt.store.list(f"orgs/{gone}/"))
