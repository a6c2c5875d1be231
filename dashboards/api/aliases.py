"""Secondary addresses (aliases) of archive mailboxes, unique within the organization (Admin)."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, status

from mailark.control import mailboxes as cmb
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.mailboxes import out
from mailark.dashboards.api.models import AliasIn, MailboxOut, OkOut
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(prefix=ORG_PATH, tags=["aliases"])


@router.post("/mailboxes/{address}/aliases", response_model=MailboxOut, status_code=status.HTTP_201_CREATED,
             responses=ERRORS, summary="Add a secondary address to a mailbox")
def add(org: str, address: str, body: AliasIn, p: Acting, s: DB, ctx: Ctx, tasks: BackgroundTasks) -> MailboxOut:
    """Mail already archived for the new address (journal copies) is linked to the mailbox by the
    `relink-alias` job, started after the response (so after the commit)."""
    cmb.add_alias(s, p, org, address, body.alias)
    s.flush()
    tasks.add_task(relink_later, ctx, org, body.alias)
    return out(cmb.get_mailbox(s, p, org, address))


def relink_later(ctx: Ctx, org: str, address: str) -> None:
    """Run after the response: the relink-alias job for the new address (a flow run, or a thread here)."""
    from mailark.operations.relink import launch_relink

    launch_relink(ctx.runtime, org, address)


@router.delete("/aliases/{alias}", response_model=OkOut, responses=ERRORS, summary="Remove a secondary address")
def remove(org: str, alias: str, p: Acting, s: DB) -> OkOut:
    cmb.remove_alias(s, p, org, alias)
    return OkOut()


@router.post("/aliases/{alias}/make-primary", response_model=MailboxOut, responses=ERRORS,
             summary="Make a secondary address the mailbox's primary one")
def make_primary(org: str, alias: str, p: Acting, s: DB) -> MailboxOut:
    cmb.make_primary(s, p, org, alias)
    return out(cmb.get_mailbox(s, p, org, alias))
