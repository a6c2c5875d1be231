"""Rules for deleting archived mail: only Compliance, always with a reason, always audited.

The deletion itself is the catalogue's (catalog/deletion.py); callers (API, CLI) check here first,
delete, then record what was deleted in the same control-plane transaction as the audit event.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.models import Organization
from mailark.control.orgs import ControlError
from mailark.control.principals import COMPLIANCE, Principal, require_role

MIN_REASON = 5
MAX_ITEMS = 10_000


def authorize_deletion(session: Session, principal: Principal, org: Organization | str, reason: str, count: int) -> Organization:
    """The organization, if this principal may delete `count` copies for this reason."""
    o = require_role(session, principal, org, (COMPLIANCE,), "deleting archived mail")
    if len(reason.strip()) < MIN_REASON:
        raise ControlError("say why the mail is deleted (a reason of at least 5 characters): it goes into the audit log")
    if count == 0:
        raise ControlError("nothing to delete: no archived copy matches")
    if count > MAX_ITEMS:
        raise ControlError(f"at most {MAX_ITEMS} copies per deletion; split the request")
    return o


def record_deletion(session: Session, principal: Principal, org: Organization, reason: str,
                    copies: list[dict[str, Any]]) -> None:
    """Audit before deleting, in the caller's transaction: a failed deletion rolls the event back."""
    audit.record(session, principal, "content.delete", org_id=org.id, target=f"{len(copies)} archived copies",
                 details={"reason": reason.strip(), "copies": copies})
