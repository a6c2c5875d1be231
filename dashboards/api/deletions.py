"""Deleting archived mail (Compliance): by item id, or by Message-ID within a mailbox; audited."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from mailark.catalog.deletion import delete_copies, find_copies
from mailark.control.compliance import authorize_deletion, record_deletion
from mailark.control.mailboxes import require_readable
from mailark.control.orgs import ControlError
from mailark.control.principals import COMPLIANCE, require_role
from mailark.operations.holds import refuse_held
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(prefix=ORG_PATH + "/deletions", tags=["compliance"])


class DeletionIn(BaseModel):
    reason: str = Field(description="why the mail is deleted; goes into the audit log", examples=["GDPR erasure request 2026-114"])
    item_ids: list[str] | None = Field(default=None, description="archived copies by item id")
    mailbox: str | None = Field(default=None, description="with message_id: the copies of one mailbox")
    message_id: str | None = Field(default=None, description="Message-ID header value, with angle brackets")


class DeletionOut(BaseModel):
    copies: int
    messages: int
    objects: int
    bytes_freed: int
    packs_rewritten: int
    item_ids: list[str]


@router.post("", response_model=DeletionOut, responses=ERRORS,
             summary="Delete archived copies for good (Compliance; a reason is required and audited; copies under legal hold are refused, 409)")
def delete(org: str, body: DeletionIn, p: Acting, s: DB, ctx: Ctx) -> DeletionOut:
    o = require_role(s, p, org, (COMPLIANCE,), "deleting archived mail")
    mailbox_ids = None
    if body.mailbox is not None:
        mailbox_ids = {require_readable(s, p, o, body.mailbox).id}
    if body.item_ids is None and (body.message_id is None or body.mailbox is None):
        raise ControlError("name the copies: item_ids, or mailbox with message_id")
    with ctx.lake_lock:
        archive = ctx.runtime.archive_for(o)
        copies = find_copies(archive, item_ids=body.item_ids, mailbox_ids=mailbox_ids, message_id=body.message_id)
        authorize_deletion(s, p, o, body.reason, len(copies))
        refuse_held(ctx.runtime.settings, s, o, archive, copies)  # 409 naming the case: a legal hold beats every deletion
        described = [{"item_id": c.item_id, "mailbox": c.mailbox, "folder": c.folder, "message_id": c.message_id}
                     for c in copies]
        # Audited first: if the deletion fails, the event rolls back with the request.
        record_deletion(s, p, o, body.reason, described)
        result = delete_copies(archive, [c.item_id for c in copies])
    return DeletionOut(**result.as_dict(), item_ids=result.item_ids)
