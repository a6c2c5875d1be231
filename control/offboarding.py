"""Rules for deleting an organization for good (offboarding, issue 14).

Deletion crypto-shreds: the organization's wrapped data and naming keys are removed from the control
plane first, in their own transaction, so every object, pack, drop, export and Parquet file of it is
unreadable at once (also in copies of the object store); the removal of its bytes and rows follows
(mailark.operations.offboarding) and can be resumed: an organization without keys is one being deleted.
Its audit events stay (they have no foreign key) and a final `org.deleted` event is written.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.models import OrgKey, Organization
from mailark.control.orgs import ControlError, Forbidden, NotFound
from mailark.control.principals import Principal

MIN_REASON = 5


def holds_blocking_deletion(session: Session, org: Organization) -> list[str]:
    """The active legal holds of `org` (case and reason each): any hold covers some of its mail, so
    deleting the organization (which shreds all of it) refuses while one is active."""
    from mailark.control.retention import active_holds

    return [f"{h.case_name} ({h.reason})" for h in active_holds(session, org.id)]


def being_deleted(session: Session, org: Organization) -> bool:
    """An organization whose keys are gone is in the middle of its deletion (resume it, nothing else)."""
    return session.scalar(select(OrgKey.id).where(OrgKey.org_id == org.id).limit(1)) is None


def authorize_org_deletion(session: Session, principal: Principal, name: str, *, confirm: str, now: bool,
                           reason: str) -> Organization:
    """The organization, if this principal may delete it now. Operators only; `confirm` repeats the name.

    Without `now` the organization must have been cancelled and its grace period must be over (licence
    status `locked`); a deletion being resumed (keys already gone) needs neither.
    """
    if not principal.is_unrestricted_operator:
        raise Forbidden("deleting an organization is for MSP operators who serve every organization")
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise NotFound(f"no organization named {name!r}")
    if confirm != name:
        raise ControlError(f"to delete organization {name!r} for good, repeat its name: --confirm {name}")
    holds = holds_blocking_deletion(session, org)
    if holds:
        raise ControlError(f"organization {name!r} is under legal hold ({'; '.join(holds)}): it cannot be deleted")
    if being_deleted(session, org):
        return org  # resuming: the keys are already gone
    if not now:
        from mailark.control import licensing
        from mailark.control.models import Licence

        lic = session.get(Licence, org.id)
        if lic is None or licensing.status(lic) != "locked":
            due = licensing.utc(lic.deletion_due_at) if lic is not None else None
            when = f"its grace period ends {due:%Y-%m-%d %H:%M} UTC" if due else "it has not been cancelled (mailark licence cancel)"
            raise ControlError(f"organization {name!r} is not due for deletion ({when}): wait, or delete it at once "
                               f"with --now --reason TEXT")
        return org
    if len(reason.strip()) < MIN_REASON:
        raise ControlError("say why the organization is deleted now (--reason, at least 5 characters): it goes "
                           "into the audit log")
    return org


def shred_keys(session: Session, principal: Principal, org: Organization, reason: str) -> int:
    """Destroy the organization's wrapped keys (the caller commits at once); returns how many were destroyed."""
    keys = list(session.scalars(select(OrgKey).where(OrgKey.org_id == org.id)))
    for k in keys:
        session.delete(k)
    audit.record(session, principal, "org.keys_destroyed", org_id=org.id, target=org.name,
                 details={"keys": len(keys), "reason": reason.strip()})
    return len(keys)


def remove_org_rows(session: Session, principal: Principal, org: Organization, reason: str,
                    removed: dict[str, int]) -> None:
    """The last step: the organization's control-plane rows (users, domains, sources, mailboxes, licence...
    go with it by cascade), then the final audit event. Its name and domains are free again."""
    org_id, name = org.id, org.name
    session.delete(org)
    session.flush()
    audit.record(session, principal, "org.deleted", org_id=org_id, target=name,
                 details={"reason": reason.strip(), **removed})
