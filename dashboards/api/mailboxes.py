"""Archive mailboxes: Admins see and add them; everyone else sees only those they may read."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, status

from mailark.control import mailboxes as cmb
from mailark.control.principals import visible_org
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import MailboxIn, MailboxOut
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(prefix=ORG_PATH + "/mailboxes", tags=["mailboxes"])


def out(i: cmb.MailboxInfo) -> MailboxOut:
    return MailboxOut(id=i.id, kind=i.kind, primary_address=i.primary_address, aliases=i.aliases, owner=i.owner,
                      display_name=i.display_name, retired_at=i.retired_at)


@router.get("", response_model=list[MailboxOut], responses=ERRORS,
            summary="Archive mailboxes with their message count and size (Admin: all; Reader: granted ones; "
                    "Compliance: all, journal included); ?sort=size|count|address")
def list_(org: str, p: Acting, s: DB, ctx: Ctx,
          sort: Literal["address", "size", "count"] = Query("address", description="largest first for size and count")
          ) -> list[MailboxOut]:
    from mailark.catalog.mailbox_stats import per_mailbox

    boxes = cmb.list_mailboxes(s, p, org)
    with ctx.lake_lock:  # the runtime's one DuckDB connection; requests run on many threads
        stats = per_mailbox(ctx.runtime.archive_for(visible_org(s, p, org)))
    rows = [out(i).model_copy(update={"messages": stats.get(i.id, (0, 0))[0], "size_bytes": stats.get(i.id, (0, 0))[1]})
            for i in boxes]
    return sort_mailboxes(rows, sort)


def sort_mailboxes(rows: list[MailboxOut], sort: str) -> list[MailboxOut]:
    """By address; by size or count largest first (then by address)."""
    if sort == "size":
        return sorted(rows, key=lambda r: (-(r.size_bytes or 0), r.primary_address))
    if sort == "count":
        return sorted(rows, key=lambda r: (-(r.messages or 0), r.primary_address))
    return sorted(rows, key=lambda r: r.primary_address)


@router.post("", response_model=MailboxOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Add an archive mailbox (refused with 409 beyond the licence's mailbox quota)")
def add(org: str, body: MailboxIn, p: Acting, s: DB) -> MailboxOut:
    mb = cmb.create_mailbox(s, p, org, body.address, kind=body.kind, owner=body.owner, display_name=body.display_name)
    return out(cmb.get_mailbox(s, p, org, mb.primary_address))


@router.get("/{address}", response_model=MailboxOut, responses=ERRORS,
            summary="One archive mailbox (404 unless you are Admin or may read it)")
def get(org: str, address: str, p: Acting, s: DB) -> MailboxOut:
    return out(cmb.get_mailbox(s, p, org, address))


@router.post("/{address}/retire", response_model=MailboxOut, responses=ERRORS,
             summary="Retire a mailbox (Admin): no new mail is archived into it; it stays readable; never deleted")
def retire(org: str, address: str, p: Acting, s: DB) -> MailboxOut:
    from mailark.control.retirement import retire_mailbox

    retire_mailbox(s, p, org, address)
    return out(cmb.get_mailbox(s, p, org, address))


@router.post("/{address}/unretire", response_model=MailboxOut, responses=ERRORS,
             summary="Open a retired mailbox to new mail again (Admin; it counts against the mailbox quota again)")
def unretire(org: str, address: str, p: Acting, s: DB) -> MailboxOut:
    from mailark.control.retirement import unretire_mailbox

    unretire_mailbox(s, p, org, address)
    return out(cmb.get_mailbox(s, p, org, address))
