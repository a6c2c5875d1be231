"""Archive mailboxes: Admins see and add them; everyone else sees only those they may read."""

from __future__ import annotations

from fastapi import APIRouter, status

from mailark.control import mailboxes as cmb
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import MailboxIn, MailboxOut
from mailark.dashboards.deps import DB, Acting

router = APIRouter(prefix=ORG_PATH + "/mailboxes", tags=["mailboxes"])


def out(i: cmb.MailboxInfo) -> MailboxOut:
    return MailboxOut(id=i.id, kind=i.kind, primary_address=i.primary_address, aliases=i.aliases, owner=i.owner,
                      display_name=i.display_name)


@router.get("", response_model=list[MailboxOut], responses=ERRORS,
            summary="Archive mailboxes (Admin: all; Reader: granted ones; Compliance: all, journal included)")
def list_(org: str, p: Acting, s: DB) -> list[MailboxOut]:
    return [out(i) for i in cmb.list_mailboxes(s, p, org)]


@router.post("", response_model=MailboxOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Add an archive mailbox (refused with 409 beyond the licence's mailbox quota)")
def add(org: str, body: MailboxIn, p: Acting, s: DB) -> MailboxOut:
    mb = cmb.create_mailbox(s, p, org, body.address, kind=body.kind, owner=body.owner, display_name=body.display_name)
    return out(cmb.get_mailbox(s, p, org, mb.primary_address))


@router.get("/{address}", response_model=MailboxOut, responses=ERRORS,
            summary="One archive mailbox (404 unless you are Admin or may read it)")
def get(org: str, address: str, p: Acting, s: DB) -> MailboxOut:
    return out(cmb.get_mailbox(s, p, org, address))
