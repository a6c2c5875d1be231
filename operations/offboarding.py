"""Deleting an organization for good: crypto-shred first, then remove its bytes and rows (resumable).

Steps (control.offboarding has the rules):
1. its wrapped keys are destroyed in their own committed transaction: from then on nothing the
   deployment holds can decrypt any object of it, including copies of the object store;
2. every object under `orgs/<org_id>/` is deleted (objects, packs, drops, exports);
3. its rows are deleted from every catalogue table (one commit in its lane);
4. its search index directory is removed;
5. its control-plane rows go (users, domains, sources, mailboxes, grants, licence by cascade) and
   `org.deleted` is recorded; audit events stay.
A crash anywhere after step 1 is resumed by running the deletion again (the organization without keys
is recognized as one being deleted); every step is idempotent.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mailark.catalog.lake import ALIAS
from mailark.catalog.schema import TABLES
from mailark.catalog.search.index import index_dir
from mailark.control import offboarding
from mailark.control.principals import Principal
from mailark.runtime import Runtime


@dataclass
class OrgDeletion:
    org: str
    org_id: str
    keys_destroyed: int = 0
    objects_deleted: int = 0
    catalogue_rows_deleted: int = 0
    index_removed: bool = False
    resumed: bool = False
    steps: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"org": self.org, "org_id": self.org_id, "keys_destroyed": self.keys_destroyed,
                "objects_deleted": self.objects_deleted, "catalogue_rows_deleted": self.catalogue_rows_deleted,
                "index_removed": self.index_removed, "resumed": self.resumed, "steps": self.steps}


def delete_organization(rt: Runtime, principal: Principal, name: str, *, confirm: str, now: bool = False,
                        reason: str = "") -> OrgDeletion:
    """Crypto-shred and remove the organization `name` (see the module docstring); returns what was done."""
    with rt.session(write=True) as s:
        o = offboarding.authorize_org_deletion(s, principal, name, confirm=confirm, now=now, reason=reason)
        result = OrgDeletion(org=o.name, org_id=o.id, resumed=offboarding.being_deleted(s, o))
        if not result.resumed:
            result.keys_destroyed = offboarding.shred_keys(s, principal, o, reason)
    result.steps.append("keys destroyed" if not result.resumed else "keys already destroyed (resumed)")
    org_id = result.org_id

    for info in list(rt.store.list(f"orgs/{org_id}/")):
        rt.store.delete(info.name)
        result.objects_deleted += 1
    result.steps.append(f"{result.objects_deleted} objects deleted")

    with rt.commit_lane(org_id):  # the organization's one commit lane, as every catalogue writer of it
        con = rt.lake
        con.execute("BEGIN")
        try:
            for table in TABLES:
                n = con.execute(f"SELECT count(*) FROM {ALIAS}.{table} WHERE org_id = ?", [org_id]).fetchone()[0]
                if n:
                    con.execute(f"DELETE FROM {ALIAS}.{table} WHERE org_id = ?", [org_id])
                    result.catalogue_rows_deleted += int(n)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    result.steps.append(f"{result.catalogue_rows_deleted} catalogue rows deleted")

    d = index_dir(rt.settings.db_dir, org_id)
    if d.exists():
        shutil.rmtree(d)
        result.index_removed = True
    result.steps.append("search index removed")

    with rt.session(write=True) as s:
        o = s.get(offboarding.Organization, org_id)
        if o is not None:
            offboarding.remove_org_rows(s, principal, o, reason or "resumed deletion", {
                "objects_deleted": result.objects_deleted, "catalogue_rows_deleted": result.catalogue_rows_deleted})
    result.steps.append("organization, users, domains, sources and mailboxes removed; org.deleted recorded")
    return result


@dataclass
class DueDeletions:
    deleted: list[OrgDeletion] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # organization -> why it waits (a legal hold)

    def as_dict(self) -> dict[str, object]:
        return {"deleted": [d.as_dict() for d in self.deleted], "held": self.held}


def delete_due_organizations(rt: Runtime, now: datetime | None = None) -> DueDeletions:
    """The scheduled end of offboarding: every organization whose grace period after a cancellation is
    over (licence `locked`, deletion due) is crypto-shredded, as the operator was told it would be. One
    under legal hold waits, named, until the hold is released; a cancellation undone meanwhile clears
    the due date, so nothing is deleted then."""
    from sqlalchemy import select

    from mailark.control import licensing
    from mailark.control.models import Licence, Organization
    from mailark.control.orgs import ControlError

    now = now or datetime.now(UTC)
    with rt.control() as s:
        due = [(o.name, licensing.utc(lic.deletion_due_at)) for o, lic in s.execute(
            select(Organization, Licence).join(Licence, Licence.org_id == Organization.id)
            .where(Licence.deletion_due_at.is_not(None))) if licensing.status(lic, now) == "locked"]
    out = DueDeletions()
    for name, at in due:
        try:
            out.deleted.append(delete_organization(
                rt, Principal.deployment_operator(), name, confirm=name,
                reason=f"scheduled: the grace period after the cancellation ended ({at:%Y-%m-%d})"))  # type: ignore[str-format]
        except ControlError as e:  # a legal hold: the deletion waits for its release
            out.held[name] = str(e)
    return out
