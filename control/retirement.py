"""Retiring an archive mailbox: no new mail goes into it, it stays readable, and later it stops
counting against the licence's mailbox quota.

A leaver's mailbox is never deleted (not by directory sync, not by retiring): retiring only closes it
to new mail. Ingest defers copies for a retired mailbox (catalog.ingest, reason "mailbox retired"),
the journal drain leaves it out of a journalled message's targets (the journal copy stays), and a
re-link adds nothing to it. It is *released* from the mailbox quota once a finished export covers
it (a full export, or an export of a selection naming it with no folder, date or search filter,
whose cut-off is at or after the retirement), or `retired_mailbox_release_days` after it was
retired. Un-retiring opens it again (and counts it again). Nothing is deleted, so legal holds and
retention policies are unaffected. Every change is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.config.settings import get_settings
from mailark.control import audit
from mailark.control.models import ExportJob, Mailbox, Organization
from mailark.control.orgs import Conflict, NotFound, find_mailbox
from mailark.control.principals import Principal, require_admin

REASON = "mailbox retired"


@dataclass(frozen=True)
class RetiredView:
    address: str
    retired: bool
    retired_at: datetime | None
    retired_by: str | None
    released: bool  # no longer counted against the mailbox quota


def _utc(d: datetime | None) -> datetime | None:
    return None if d is None else (d if d.tzinfo else d.replace(tzinfo=UTC))


def _mailbox(session: Session, org: Organization, address: str) -> Mailbox:
    mb = find_mailbox(session, org, address)
    if mb is None:
        raise NotFound(f"organization {org.name!r} has no archive mailbox {address!r}")
    return mb


def view(session: Session, mb: Mailbox, now: datetime | None = None) -> RetiredView:
    return RetiredView(mb.primary_address, mb.retired_at is not None, _utc(mb.retired_at), mb.retired_by,
                       mb.id in released_ids(session, mb.org_id, now))


def retire_mailbox(session: Session, principal: Principal, org: Organization | str, address: str) -> RetiredView:
    """Close the mailbox to new mail (Admin); its mail stays archived and readable."""
    o = require_admin(session, principal, org, "retiring an archive mailbox")
    mb = _mailbox(session, o, address)
    if mb.retired_at is not None:
        raise Conflict(f"archive mailbox {mb.primary_address} is already retired (since {_utc(mb.retired_at):%Y-%m-%d}); "
                       f"to open it again: mailark mailbox unretire {mb.primary_address} --org {o.name}")
    mb.retired_at, mb.retired_by = datetime.now(UTC), principal.login
    session.flush()
    audit.record(session, principal, "mailbox.retire", org_id=o.id, target=mb.primary_address, details={"kind": mb.kind})
    return view(session, mb)


def unretire_mailbox(session: Session, principal: Principal, org: Organization | str, address: str) -> RetiredView:
    """Open a retired mailbox to new mail again; it counts against the mailbox quota again (checked)."""
    from mailark.control import licensing

    o = require_admin(session, principal, org, "un-retiring an archive mailbox")
    mb = _mailbox(session, o, address)
    if mb.retired_at is None:
        raise Conflict(f"archive mailbox {mb.primary_address} is not retired")
    was_released = mb.id in released_ids(session, o.id)
    if was_released:
        licensing.check_can_add_mailbox(session, o)
    since = _utc(mb.retired_at)
    mb.retired_at, mb.retired_by = None, None
    session.flush()
    audit.record(session, principal, "mailbox.unretire", org_id=o.id, target=mb.primary_address,
                 details={"retired_since": since.isoformat() if since else None})
    return view(session, mb)


def retired_ids(session: Session, org_id: str) -> set[str]:
    """Mailboxes closed to new mail (ingest defers copies for them)."""
    return set(session.scalars(select(Mailbox.id).where(Mailbox.org_id == org_id, Mailbox.retired_at.is_not(None))))


def released_ids(session: Session, org_id: str, now: datetime | None = None) -> set[str]:
    """Retired mailboxes that no longer count against the mailbox quota (see the module docstring)."""
    now = now or datetime.now(UTC)
    retired = {mid: _utc(at) for mid, at in session.execute(
        select(Mailbox.id, Mailbox.retired_at).where(Mailbox.org_id == org_id, Mailbox.retired_at.is_not(None)))}
    if not retired:
        return set()
    keep = timedelta(days=get_settings().retired_mailbox_release_days)
    out = {mid for mid, at in retired.items() if at is not None and at + keep <= now}
    for job in session.scalars(select(ExportJob).where(ExportJob.org_id == org_id, ExportJob.kind != "incremental",
                                                       ExportJob.finished_at.is_not(None),
                                                       ExportJob.status.in_(("done", "expired", "deleted")))):
        sel = json.loads(job.selection)
        if sel.get("folder") or sel.get("date_from") or sel.get("date_to") or sel.get("item_ids"):
            continue
        ids = sel.get("mailbox_ids")
        cut = _utc(job.archived_until)
        for mid, at in retired.items():
            if (ids is None or mid in ids) and cut is not None and at is not None and cut >= at:
                out.add(mid)
    return out
