"""Restore to mailbox: put copies of archived messages back into a live mailbox through its source.

The rules (a Reader into their own mailbox, Compliance into any mailbox they name, MSP operators
never) and the work are in operations/restore_mail.py; the restore runs while the request waits
(at most `MAX_MESSAGES` messages) and is audited as `content.restore`.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.deps import Acting, Ctx
from mailark.operations.restore_mail import DEFAULT_FOLDER, MAX_MESSAGES, RestoreRequest, restore_mail

router = APIRouter(prefix=ORG_PATH, tags=["reading"])


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[str] | None = Field(default=None, max_length=MAX_MESSAGES,
                                       description="these archived messages (ids from the message list or search)")
    mailboxes: list[str] | None = Field(default=None, description="or a selection: archive mailbox addresses ...")
    folder: str | None = Field(default=None, max_length=1000, description="... a folder and its subfolders ...")
    date_from: datetime | None = Field(default=None, description="... messages dated at or after (with a time zone)")
    date_to: datetime | None = Field(default=None, description="... messages dated before (with a time zone)")
    target: str | None = Field(default=None, description="the mailbox to restore into; omitted: your own "
                               "(only Compliance may name another)")
    into_folder: str = Field(default=DEFAULT_FOLDER, min_length=1, max_length=500,
                             description="the folder of the target mailbox (created when missing), e.g. Restored")


class RestoreFailureOut(BaseModel):
    item_id: str
    reason: str


class RestoreOut(BaseModel):
    status: str = Field(description="done | partial (some messages refused, see failed) | failed (see error)")
    target: str
    folder: str
    source: str = Field(description="the source profile that wrote the mail")
    kind: str = Field(description="imap | graph")
    selected: int
    restored: int
    bytes: int
    failed: list[RestoreFailureOut]
    error: str | None


@router.post("/restore-mail", response_model=RestoreOut, responses=ERRORS,
             summary="Restore archived messages into a mailbox through its IMAP or Microsoft 365 source (audited)")
def restore(org: str, body: RestoreIn, p: Acting, ctx: Ctx) -> RestoreOut:
    req = RestoreRequest(
        item_ids=tuple(body.item_ids) if body.item_ids is not None else None,
        mailboxes=tuple(body.mailboxes) if body.mailboxes is not None else None, folder=body.folder,
        date_from=body.date_from, date_to=body.date_to, target=body.target, into_folder=body.into_folder)
    result = restore_mail(ctx.runtime, p, org, req, lake_lock=ctx.lake_lock)
    return RestoreOut.model_validate(result.as_dict())
