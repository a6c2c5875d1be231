"""Who may read archived mail, and the audit of every read of content.

A reader reads the mailboxes `readable_mailbox_ids` gives them: their own and granted ones,
every mailbox (journal included) with the Compliance role. MSP operator accounts hold no content
right: they read only the mailboxes an active support grant names (control.support); the local
deployment operator (the CLI on the server, which holds the master key) reads everything. What they may not read does not exist for them (NotFound), so a copy's
id reveals nothing. Each read of content (a message view, an attachment, an .eml download, a
search) is an audit event in the same transaction as the request.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.audit_events import READ, SEARCH
from mailark.control.mailboxes import readable_mailbox_ids
from mailark.control.models import Organization
from mailark.control.orgs import Forbidden, NotFound
from mailark.control.principals import COMPLIANCE, Principal, can_see_org, roles_in, visible_org


def readable(session: Session, principal: Principal, org: Organization | str) -> tuple[Organization, set[str]]:
    """The organization (NotFound for outsiders) and the mailbox ids this principal may read in it."""
    o = visible_org(session, principal, org)
    return o, readable_mailbox_ids(session, principal, o)


def reads_every_mailbox(session: Session, principal: Principal, org: Organization) -> bool:
    """Whether the principal reads every mailbox of the organization by rule (Compliance, an operator
    serving it), not by grants: then a search needs no per-mailbox clause (the index is the org's)."""
    if not can_see_org(principal, org.id):
        return False
    if principal.is_deployment:
        return True
    if principal.is_operator:
        return False  # operators read only the mailboxes a support grant names
    return COMPLIANCE in roles_in(session, principal, org)


def require_operator_grant(principal: Principal, org: Organization, allowed: set[str]) -> None:
    """An MSP operator account with no active support grant in the organization may not search it at all
    (Forbidden, not an empty result: it holds no content right, control.support)."""
    if principal.kind == "operator" and not allowed:
        raise Forbidden(f"MSP operators do not read the mail of organization {org.name!r}; its Admin can grant you "
                        f"time-limited access to named mailboxes for a support case")


def require_copy_readable(org: Organization, allowed: set[str], item_id: str, mailbox_id: str | None) -> None:
    """NotFound unless the copy exists (`mailbox_id` not None) in a mailbox the principal may read."""
    if mailbox_id is None or mailbox_id not in allowed:
        raise NotFound(f"organization {org.name!r} has no archived message {item_id!r} that you may read")


def grant_details(session: Session, principal: Principal, org: Organization) -> dict[str, Any]:
    """For an operator, the ids of its active support grants in `org` (the read happens under them)."""
    if principal.kind != "operator":
        return {}
    from mailark.control.support import active_grant_ids

    return {"support_grants": active_grant_ids(session, org.id, principal.id)}


def record_read(session: Session, principal: Principal, org: Organization, item_id: str, what: str,
                **details: Any) -> None:
    details.update(grant_details(session, principal, org))
    audit.record(session, principal, READ, org_id=org.id, target=item_id, details={"what": what, **details})


def record_search(session: Session, principal: Principal, org: Organization, query: str, total: int) -> None:
    audit.record(session, principal, SEARCH, org_id=org.id, target=query[:200], details={"total": total, **grant_details(session, principal, org)})
