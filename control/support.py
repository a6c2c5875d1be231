"""Support access grants: the only way an MSP operator account reads an organization's mail.

Operators manage organizations but hold no content right (control.principals.OPERATOR_ROLES). When a
support case needs content, the organization's Admin (or Compliance) grants a named operator access to
named archive mailboxes for a while (default 24 hours, at most 7 days) and can revoke it. Reads under a
grant are audited with the grant's id (control.reading.grant_details); while a grant is active the
organization's Admins see a notice (`active_grants`). A grant lets the operator read and search the
named mailboxes; it never lets it export or delete mail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.models import Mailbox, Operator, Organization, SupportGrant
from mailark.control.orgs import Conflict, ControlError, Forbidden, NotFound, find_mailbox, new_id, normalize_address
from mailark.control.principals import ADMIN, COMPLIANCE, Principal, can_see_org, require_role, visible_org

DEFAULT_HOURS = 24
MAX_HOURS = 7 * 24


@dataclass(frozen=True)
class GrantView:
    id: str
    operator: str
    mailboxes: list[str]
    reason: str
    granted_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    active: bool


def _aware(d: datetime | None) -> datetime | None:
    return d if d is None or d.tzinfo else d.replace(tzinfo=UTC)


def is_active(g: SupportGrant, now: datetime) -> bool:
    return g.revoked_at is None and _aware(g.expires_at) > now  # type: ignore[operator]


def view(session: Session, g: SupportGrant, now: datetime | None = None) -> GrantView:
    now = now or datetime.now(UTC)
    ids = json.loads(g.mailbox_ids)
    addresses = sorted(session.scalars(select(Mailbox.primary_address).where(Mailbox.id.in_(ids)))) if ids else []
    op_name = session.scalar(select(Operator.name).where(Operator.id == g.operator_id)) or g.operator_id
    return GrantView(g.id, op_name, addresses, g.reason, g.granted_by, _aware(g.created_at),  # type: ignore[arg-type]
                     _aware(g.expires_at), _aware(g.revoked_at), g.revoked_by, is_active(g, now))  # type: ignore[arg-type]


def _require_grantor(session: Session, principal: Principal, org: Organization | str, doing: str) -> Organization:
    """The organization's own Admins and Compliance decide; an operator account never grants itself access."""
    if principal.kind == "operator":
        o = visible_org(session, principal, org)
        raise Forbidden(f"{doing} is for the Admins and Compliance officers of organization {o.name!r}, "
                        f"not for MSP operators")
    return require_role(session, principal, org, (ADMIN, COMPLIANCE), doing)


def grant(session: Session, principal: Principal, org: Organization | str, operator: str, mailboxes: list[str], *,
          hours: float = DEFAULT_HOURS, reason: str = "", now: datetime | None = None) -> GrantView:
    """Let `operator` read `mailboxes` of the organization for `hours` (at most 7 days); audited."""
    o = _require_grantor(session, principal, org, "granting support access")
    now = now or datetime.now(UTC)
    if not 0 < hours <= MAX_HOURS:
        raise ControlError(f"a support grant lasts more than 0 and at most {MAX_HOURS} hours (7 days), not {hours:g}")
    op = session.scalar(select(Operator).where(Operator.name == operator))
    if op is None:
        raise NotFound(f"no MSP operator named {operator!r}")
    if not op.all_orgs:
        from mailark.control.models import OperatorOrg

        served = set(session.scalars(select(OperatorOrg.org_id).where(OperatorOrg.operator_id == op.id)))
        if o.id not in served:
            raise ControlError(f"operator {operator!r} does not serve organization {o.name!r}")
    if not mailboxes:
        raise ControlError("name at least one archive mailbox the operator may read")
    ids: list[str] = []
    for address in mailboxes:
        mb = find_mailbox(session, o, normalize_address(address))
        if mb is None:
            raise NotFound(f"organization {o.name!r} has no archive mailbox {address!r}")
        ids.append(mb.id)
    g = SupportGrant(id=new_id(), org_id=o.id, operator_id=op.id, mailbox_ids=json.dumps(sorted(set(ids))),
                     reason=reason.strip(), granted_by=principal.login, created_at=now,
                     expires_at=now + timedelta(hours=hours))
    session.add(g)
    session.flush()
    v = view(session, g, now)
    audit.record(session, principal, "support.grant", org_id=o.id, target=f"grant {g.id}",
                 details={"operator": op.name, "mailboxes": v.mailboxes, "expires_at": v.expires_at.isoformat(),
                          "reason": g.reason}, now=now)
    return v


def revoke(session: Session, principal: Principal, org: Organization | str, grant_id: str, *,
           now: datetime | None = None) -> GrantView:
    """End a grant at once (an expired or revoked one stays as it is); audited."""
    o = _require_grantor(session, principal, org, "revoking support access")
    now = now or datetime.now(UTC)
    g = session.get(SupportGrant, grant_id)
    if g is None or g.org_id != o.id:
        raise NotFound(f"organization {o.name!r} has no support grant {grant_id!r}")
    if g.revoked_at is not None:
        raise Conflict(f"support grant {grant_id} was already revoked")
    if is_active(g, now):
        g.revoked_at, g.revoked_by = now, principal.login
        audit.record(session, principal, "support.revoke", org_id=o.id, target=f"grant {g.id}", now=now)
    return view(session, g, now)


def list_grants(session: Session, principal: Principal, org: Organization | str, *, active_only: bool = False,
                now: datetime | None = None) -> list[GrantView]:
    """The organization's grants, newest first: its Admins and Compliance see all; an operator its own."""
    o = visible_org(session, principal, org)
    now = now or datetime.now(UTC)
    q = select(SupportGrant).where(SupportGrant.org_id == o.id)
    if principal.kind == "operator":
        q = q.where(SupportGrant.operator_id == principal.id)
    else:
        require_role(session, principal, o, (ADMIN, COMPLIANCE), "listing support grants")
    out = [view(session, g, now) for g in session.scalars(q.order_by(SupportGrant.created_at.desc()))]
    return [v for v in out if v.active] if active_only else out


def active_grants(session: Session, org_id: str, now: datetime | None = None) -> list[GrantView]:
    """The organization's active grants (for the notice its Admins see), no authorization: callers check."""
    now = now or datetime.now(UTC)
    rows = session.scalars(select(SupportGrant).where(SupportGrant.org_id == org_id, SupportGrant.revoked_at.is_(None)))
    return [view(session, g, now) for g in rows if is_active(g, now)]


def active_grant_ids(session: Session, org_id: str, operator_id: str, now: datetime | None = None) -> list[str]:
    """The ids of the operator's active grants in the organization (recorded with each read under them)."""
    now = now or datetime.now(UTC)
    rows = session.scalars(select(SupportGrant).where(SupportGrant.org_id == org_id,
                                                      SupportGrant.operator_id == operator_id,
                                                      SupportGrant.revoked_at.is_(None)))
    return sorted(g.id for g in rows if is_active(g, now))


def notice_for(session: Session, principal: Principal, o: Organization, now: datetime | None = None) -> list[GrantView]:
    """What an organization's Admin is shown: the active grants (empty for everyone else)."""
    if principal.kind != "user" or not can_see_org(principal, o.id):
        return []
    from mailark.control.principals import roles_in

    if not roles_in(session, principal, o) & {ADMIN, COMPLIANCE}:
        return []
    return active_grants(session, o.id, now)
