"""Reading archived mail: the mailboxes a user may read (folders, counts), a folder's messages,
one message (headers, text, sanitized HTML, attachments), attachment and original .eml downloads.

Authorization at every route: the organization must be visible (else 404), the copy's mailbox must
be one the principal may read (else 404: Readers their granted mailboxes, journal mailboxes only
Compliance). Every read of content is audited as `content.read` with the item id.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from mailark.catalog.mailview import attachment, view
from mailark.catalog.reading import copy_bytes, find_copy, folder_counts, list_copies
from mailark.control.models import Mailbox, Organization
from mailark.control.orgs import ControlError, NotFound, find_mailbox
from mailark.control.reading import readable, record_read, require_copy_readable
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.deps import DB, Acting, AppContext, Ctx

router = APIRouter(prefix=ORG_PATH, tags=["reading"])


class FolderOut(BaseModel):
    name: str
    path: str
    count: int = Field(description="messages in this folder itself")
    total: int = Field(description="messages in this folder and its subfolders")
    children: list[FolderOut] = []


class ArchiveMailboxOut(BaseModel):
    id: str
    address: str
    kind: str
    display_name: str | None
    count: int
    folders: list[FolderOut]


class MessageSummaryOut(BaseModel):
    item_id: str
    mailbox: str
    folder: str
    date: datetime | None
    subject: str | None
    sender: str | None
    to: list[str]
    size: int
    attachments: int


class MessagePageOut(BaseModel):
    total: int
    page: int
    per_page: int
    messages: list[MessageSummaryOut]


class HeaderOut(BaseModel):
    name: str
    value: str


class AttachmentOut(BaseModel):
    index: int
    filename: str | None
    content_type: str
    size: int
    url: str


class MessageOut(BaseModel):
    item_id: str
    mailbox: str
    folder: str
    subject: str
    sender: str
    to: str
    cc: str
    date: str
    headers: list[HeaderOut]
    text: str | None
    html: str | None = Field(description="sanitized: no scripts, styles or remote resources; show it in a sandboxed iframe")
    blocked_remote: int = Field(description="remote images and resources removed from the HTML")
    attachments: list[AttachmentOut]
    eml_url: str
    sha256: str


def folder_tree(counts: list[tuple[str, int]]) -> list[FolderOut]:
    """Nested folders from flat paths ("INBOX/Projects/2024"); parents without mail appear with count 0."""
    roots: dict[str, FolderOut] = {}
    nodes: dict[str, FolderOut] = {}
    for path, n in sorted(counts):
        segs = [s for s in path.split("/") if s] or [path]
        parent: FolderOut | None = None
        for i in range(len(segs)):
            p = "/".join(segs[: i + 1])
            node = nodes.get(p)
            if node is None:
                node = nodes[p] = FolderOut(name=segs[i], path=p, count=0, total=0)
                if parent is None:
                    roots[p] = node
                else:
                    parent.children.append(node)
            node.total += n
            parent = node
        nodes["/".join(segs)].count += n
    return list(roots.values())


def _lake(ctx: AppContext, o: Organization):  # type: ignore[no-untyped-def]
    return ctx.runtime.archive_for(o)


@router.get("/archive", response_model=list[ArchiveMailboxOut], responses=ERRORS,
            summary="The archive mailboxes you may read, with their folder trees and message counts")
def archive_mailboxes(org: str, p: Acting, s: DB, ctx: Ctx) -> list[ArchiveMailboxOut]:
    o, allowed = readable(s, p, org)
    boxes = list(s.scalars(select(Mailbox).where(Mailbox.org_id == o.id, Mailbox.id.in_(allowed or {""}))
                           .order_by(Mailbox.primary_address)))
    with ctx.lake_lock:
        counts = folder_counts(_lake(ctx, o), allowed)
    per_box: dict[str, list[tuple[str, int]]] = {}
    for c in counts:
        per_box.setdefault(c.mailbox_id, []).append((c.folder, c.count))
    return [ArchiveMailboxOut(id=mb.id, address=mb.primary_address, kind=mb.kind, display_name=mb.display_name,
                              count=sum(n for _, n in per_box.get(mb.id, [])), folders=folder_tree(per_box.get(mb.id, [])))
            for mb in boxes]


@router.get("/archive/{address}/messages", response_model=MessagePageOut, responses=ERRORS,
            summary="Messages of an archive mailbox (or one folder), newest first, metadata only")
def mailbox_messages(org: str, address: str, p: Acting, s: DB, ctx: Ctx,
                     folder: Annotated[str | None, Query(description="a folder path, e.g. INBOX/Projects")] = None,
                     subfolders: Annotated[bool, Query(description="include the folder's subfolders")] = False,
                     page: Annotated[int, Query(ge=1, le=10_000)] = 1,
                     per_page: Annotated[int, Query(ge=1, le=200)] = 50) -> MessagePageOut:
    o, allowed = readable(s, p, org)
    mb = find_mailbox(s, o, address)
    if mb is None or mb.id not in allowed:
        raise NotFound(f"organization {o.name!r} has no archive mailbox {address!r} that you may read")
    with ctx.lake_lock:
        total, rows = list_copies(_lake(ctx, o), mb.id, folder, page=page, per_page=per_page, subfolders=subfolders)
    return MessagePageOut(total=total, page=page, per_page=per_page, messages=[
        MessageSummaryOut(item_id=r.item_id, mailbox=r.mailbox, folder=r.folder, date=r.date, subject=r.subject,
                          sender=r.sender, to=list(r.to), size=r.size, attachments=r.attachments) for r in rows])


def _copy(org: str, item_id: str, p, s, ctx: AppContext):  # type: ignore[no-untyped-def]
    """(organization, catalogue row, bytes) of a copy the principal may read; NotFound otherwise."""
    o, allowed = readable(s, p, org)
    archive = _lake(ctx, o)
    with ctx.lake_lock:
        row = find_copy(archive, item_id)
    require_copy_readable(o, allowed, item_id, row.mailbox_id if row else None)
    assert row is not None
    return o, row, copy_bytes(archive, row)


@router.get("/messages/{item_id}", response_model=MessageOut, responses=ERRORS,
            summary="One archived message: headers, text, sanitized HTML, attachments (audited)")
def read_message(org: str, item_id: str, p: Acting, s: DB, ctx: Ctx) -> MessageOut:
    o, row, raw = _copy(org, item_id, p, s, ctx)
    v = view(raw)
    record_read(s, p, o, item_id, "message", mailbox=row.mailbox, folder=row.folder)
    base = f"/api/orgs/{o.name}/messages/{item_id}"
    return MessageOut(
        item_id=item_id, mailbox=row.mailbox, folder=row.folder, subject=v.subject, sender=v.sender, to=v.to, cc=v.cc,
        date=v.date, headers=[HeaderOut(name=k, value=val) for k, val in v.headers], text=v.text, html=v.html,
        blocked_remote=v.blocked_remote, eml_url=f"{base}/eml", sha256=row.copy_sha256,
        attachments=[AttachmentOut(index=a.index, filename=a.filename, content_type=a.content_type, size=a.size,
                                   url=f"{base}/attachments/{a.index}") for a in v.attachments])


def _binary(media: str) -> dict[int | str, dict[str, object]]:
    return {**ERRORS, 200: {"description": "the bytes", "content": {media: {"schema": {"type": "string", "format": "binary"}}}}}


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


def _disposition(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = _SAFE_NAME.sub("_", filename)[:150] or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename[:150])}"


@router.get("/messages/{item_id}/eml", response_class=Response, responses=_binary("message/rfc822"),
            summary="The original message as received (.eml, byte-identical, SHA-256 checked; audited)")
def download_eml(org: str, item_id: str, p: Acting, s: DB, ctx: Ctx) -> Response:
    o, row, raw = _copy(org, item_id, p, s, ctx)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != row.copy_sha256:  # copy_bytes checked it already; never send bytes that do not match
        raise ControlError("the archived copy does not match its SHA-256: tell the operator (integrity scrub)")
    record_read(s, p, o, item_id, "eml", mailbox=row.mailbox, folder=row.folder)
    return Response(raw, media_type="message/rfc822", headers={
        "Content-Disposition": _disposition(f"{item_id}.eml"), "X-Content-SHA256": digest,
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


@router.get("/messages/{item_id}/attachments/{index}", response_class=Response, responses=_binary("application/octet-stream"),
            summary="One attachment of an archived message, by its index in the message view (audited)")
def download_attachment(org: str, item_id: str, index: int, p: Acting, s: DB, ctx: Ctx) -> Response:
    o, row, raw = _copy(org, item_id, p, s, ctx)
    found = attachment(raw, index)
    if found is None:
        raise NotFound(f"message {item_id!r} has no attachment {index}: see its attachments list")
    att, data = found
    record_read(s, p, o, item_id, "attachment", index=index, filename=att.filename)
    # Always a download, never rendered by the browser in our origin (an HTML attachment could script).
    return Response(data, media_type="application/octet-stream", headers={
        "Content-Disposition": _disposition(att.filename or f"attachment-{index}"),
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store",
        "X-Original-Content-Type": att.content_type})
