"""Full-text search over the archived mail a principal may read (permissions inside the query)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from mailark.catalog.search.query import QueryError
from mailark.catalog.search.searcher import search as run_search
from mailark.control.orgs import ControlError, NotFound, find_mailbox
from mailark.control.principals import Principal
from mailark.control.reading import readable, reads_every_mailbox, record_search, require_operator_grant
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.deps import DB, Acting, AppContext, context
from mailark.operations.searching import mailbox_resolver

router = APIRouter(prefix=ORG_PATH, tags=["reading"])

SYNTAX = ('words, "phrases", from: to: cc: bcc: subject: filename: has:attachment folder: mailbox: '
          "before:YYYY-MM-DD after:YYYY-MM-DD, AND OR NOT, -word, (grouping)")


class HitOut(BaseModel):
    item_id: str
    mailbox: str
    folder: str
    date: datetime | None
    subject: str
    sender: str
    size: int
    score: float | None = None
    url: str


class SearchOut(BaseModel):
    query: str
    total: int
    page: int
    per_page: int
    sort: str
    ready: bool = Field(description="false until the organization's index exists (the indexing flow runs every minute)")
    hits: list[HitOut]


@router.get("/search", response_model=SearchOut, responses=ERRORS,
            summary="Search the archived mail you may read (newest first or by relevance, paged)")
async def search(org: str, p: Acting, s: DB, request: Request,
                 q: Annotated[str, Query(description=SYNTAX, max_length=1000)] = "",
                 page: Annotated[int, Query(ge=1)] = 1,
                 per_page: Annotated[int, Query(ge=1, le=100)] = 25,
                 sort: Annotated[Literal["newest", "oldest", "relevance"], Query()] = "newest",
                 mailbox: Annotated[str | None, Query(description="only this archive mailbox (an address)")] = None,
                 ) -> SearchOut:
    # Async only to make one trip to the thread pool for the whole search (control-plane reads, the
    # index, the audit row and its commit); a sync route also sent its response's validation there. (A docstring
    # here would become the route's description in /openapi.json.)
    # `request`, not `Ctx`: a dependency fewer to solve on every search.
    return await run_in_threadpool(search_sync, org, p, s, context(request), q, page, per_page, sort, mailbox)


def search_sync(org: str, p: Principal, s: Session, ctx: AppContext, q: str = "", page: int = 1, per_page: int = 25,
                sort: str = "newest", mailbox: str | None = None) -> SearchOut:
    """The search route's work, in the calling thread (the bench calls it in process)."""
    o, allowed = readable(s, p, org)
    require_operator_grant(p, o, allowed)
    only = None
    if mailbox is not None:
        mb = find_mailbox(s, o, mailbox)
        if mb is None or mb.id not in allowed:
            raise NotFound(f"organization {o.name!r} has no archive mailbox {mailbox!r} that you may read")
        only = {mb.id}

    resolver = mailbox_resolver(s, o)

    try:
        result = run_search(ctx.runtime.settings.db_dir, o.id, q, allowed, page=page, per_page=per_page, sort=sort,
                            mailbox_ids=only, resolve_mailbox=resolver, every_mailbox=reads_every_mailbox(s, p, o))
    except QueryError as e:
        raise ControlError(f"the search query cannot be read: {e}") from None
    record_search(s, p, o, q, result.total)
    base = f"/api/orgs/{o.name}/messages/"
    out = SearchOut(query=q, total=result.total, page=page, per_page=per_page, sort=sort, ready=result.ready, hits=[
        HitOut(item_id=h.item_id, mailbox=h.mailbox, folder=h.folder, date=h.date, subject=h.subject, sender=h.sender,
               size=h.size, score=h.score, url=base + h.item_id) for h in result.hits])
    s.commit()  # the audit row, in this trip to the thread pool: the request's transaction then has nothing left
    return out
