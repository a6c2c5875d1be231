"""Exports: start, list, progress, download (streamed, decrypted), resume and delete.

The rules are in control/exports.py (who may export what, once-a-month full exports); the work in
operations/exports.py. A started export runs as the `export-mail` deployment when a Prefect server is
up, otherwise in this process after the response is sent.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from mailark.catalog.stats import message_date_span
from mailark.control import exports as cx
from mailark.control import notices
from mailark.control.models import ExportJob
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.deps import DB, Acting, Ctx
from mailark.operations.searching import matching_copies

router = APIRouter(prefix=ORG_PATH + "/exports", tags=["exports"])


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mailboxes: list[str] | None = Field(default=None, description="archive mailbox addresses; omitted: every one you may read",
                                        examples=[None])
    folder: str | None = Field(default=None, max_length=1000, description="a folder and its subfolders")
    date_from: datetime | None = Field(default=None, description="messages dated at or after (with a time zone)")
    date_to: datetime | None = Field(default=None, description="messages dated before (with a time zone)")
    incremental: bool = Field(default=False, description="only mail archived since the last export of this selection")
    query: str | None = Field(default=None, description="a search (the syntax of /search): exactly the copies it matches now")


class ExportOut(BaseModel):
    id: str
    kind: str
    status: str = Field(description="queued, running, paused_quota, done, done_damaged (done, but `damaged` copies "
                                    "are left out), failed, expired or deleted")
    mailboxes: list[str] | None
    folder: str | None
    date_from: str | None
    date_to: str | None
    archived_after: datetime | None
    archived_until: datetime
    requested_by: str
    items_total: int | None
    items_done: int
    progress: float = Field(description="0..1")
    messages: int
    quarantined: int
    damaged: int = Field(default=0, description="copies left out because they did not read back intact "
                                                "(status done_damaged; DAMAGED.txt in the zip names them)")
    mail_bytes: int
    stored_bytes: int
    error: str | None
    error_code: str | None = Field(default=None, description="the error's code; its parameters in error_params")
    error_params: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None


def out(j: ExportJob) -> ExportOut:
    sel = json.loads(j.selection)
    total = j.items_total
    progress = 1.0 if j.status in cx.DOWNLOADABLE else (j.items_done / total if total else 0.0)
    n = notices.recognize(j.error)
    return ExportOut(id=j.id, kind=j.kind, status=j.status, mailboxes=sel["mailboxes"], folder=sel["folder"],
                     date_from=sel["date_from"], date_to=sel["date_to"], archived_after=j.archived_after,
                     archived_until=j.archived_until, requested_by=j.requested_by, items_total=total,
                     items_done=j.items_done, progress=round(progress, 4), messages=j.messages,
                     quarantined=j.quarantined, damaged=j.damaged or 0, mail_bytes=j.mail_bytes, stored_bytes=j.stored_bytes, error=j.error,
                     created_at=j.created_at, started_at=j.started_at, finished_at=j.finished_at,
                     expires_at=j.expires_at, error_code=n.code if n else None, error_params=n.params if n else None)


def _launch(ctx: Ctx, export_id: str) -> None:
    from mailark.operations.exports import launch

    launch(ctx.runtime, export_id)


@router.post("", response_model=ExportOut, status_code=status.HTTP_202_ACCEPTED, responses=ERRORS,
             summary="Start an export of mail you may read (full archive: once a month; 409 the second time)")
def start(org: str, body: ExportIn, p: Acting, s: DB, ctx: Ctx, tasks: BackgroundTasks) -> ExportOut:
    items = matching_copies(s, p, org, ctx.runtime.settings, body.query) if body.query else None
    req = cx.ExportRequest(mailboxes=body.mailboxes, folder=body.folder, date_from=body.date_from,
                           date_to=body.date_to, incremental=body.incremental, query=body.query, item_ids=items)
    span = message_date_span(ctx.runtime.archive_for(ctx.runtime.org(org))) if cx.may_cover_everything(req) else None
    job = cx.start_export(s, p, org, req, date_span=span)
    s.flush()
    tasks.add_task(_launch, ctx, job.id)  # after the response, so after the commit
    return out(job)


@router.get("", response_model=list[ExportOut], responses=ERRORS,
            summary="Exports (Admin and Compliance: all of the organization; others: their own)")
def list_(org: str, p: Acting, s: DB) -> list[ExportOut]:
    return [out(j) for j in cx.list_exports(s, p, org)]


@router.get("/{export_id}", response_model=ExportOut, responses=ERRORS, summary="One export: status and progress")
def get(org: str, export_id: str, p: Acting, s: DB) -> ExportOut:
    return out(cx.get_export(s, p, org, export_id))


@router.get("/{export_id}/download", response_class=StreamingResponse, responses={
    **ERRORS, 200: {"description": "the zip, decrypted as it streams", "content": {"application/zip": {}}}},
    summary="Download a finished export (streamed; needs read access to every mailbox it holds)")
def download(org: str, export_id: str, p: Acting, s: DB, ctx: Ctx) -> StreamingResponse:
    from mailark.operations.exports import open_download

    job = cx.check_download(s, p, org, export_id)
    body = open_download(ctx.runtime, job)
    return StreamingResponse(body, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="export-{job.id}.zip"', "Content-Length": str(job.zip_bytes)})


@router.post("/{export_id}/resume", response_model=ExportOut, status_code=status.HTTP_202_ACCEPTED, responses=ERRORS,
             summary="Resume an export paused by the storage quota (or a failed one)")
def resume(org: str, export_id: str, p: Acting, s: DB, ctx: Ctx, tasks: BackgroundTasks) -> ExportOut:
    job = cx.resume(s, p, org, export_id)
    s.flush()
    tasks.add_task(_launch, ctx, job.id)
    return out(job)


@router.delete("/{export_id}", response_model=ExportOut, responses=ERRORS,
               summary="Delete an export's file now (it stops counting against the quota)")
def delete(org: str, export_id: str, p: Acting, s: DB, ctx: Ctx) -> ExportOut:
    from mailark.operations.exports import remove_file

    job = cx.mark_deleted(s, p, org, export_id)
    s.flush()
    with ctx.lake_lock:
        remove_file(ctx.runtime, job.org_id, job.object_name)
    return out(job)
