"""The audit log: an organization's events and the chain check (Auditor), the whole log (operators).

Listing takes filters (done in SQL) and keyset cursors: oldest first above `after` (followers poll
with the last seq they saw), or newest first below `before` (`order=newest` for the first such page).
The next page's address is in the `Link` header (rel="next"), absent on the last page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BeforeValidator

from mailark.control import audit as caudit
from mailark.control.principals import AUDITOR, require_role, require_unrestricted_operator
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import AuditEntryOut, ChainOut
from mailark.dashboards.deps import DB, Acting

router = APIRouter(tags=["audit"])
After = Query(0, ge=0, description="only events after this sequence number, oldest first (followers: the last seq seen)")
Before = Query(None, ge=1, description="only events before this sequence number, newest first (the cursor of the "
                                       "next older page)")
Order = Query(None, description="newest or oldest first; default: newest when `before` is given, else oldest")
Limit = Query(100, ge=1, le=1000)


def _since(v: object) -> object:
    return caudit.parse_time(v) if isinstance(v, str) else v


def _until(v: object) -> object:
    return caudit.parse_time(v, end_of_day=True) if isinstance(v, str) else v


Since = Annotated[datetime | None, BeforeValidator(_since),
                  Query(description="events at or after this time: YYYY-MM-DD or ISO 8601 (no zone = UTC)")]
Until = Annotated[datetime | None, BeforeValidator(_until),
                  Query(description="events before this time; a date alone includes that whole day")]


def event_filter(
    action: Annotated[str, Query(max_length=64, description="exact action, or a prefix ending in '.' or '*' "
                                                           "(e.g. content.)")] = "",
    actor: Annotated[str, Query(max_length=320, description="the acting login, exact")] = "",
    outcome: Annotated[str, Query(max_length=16, description="ok, failed, denied, ...")] = "",
    target: Annotated[str, Query(max_length=400, description="a part of the target, any case")] = "",
    since: Since = None,
    until: Until = None,
) -> caudit.AuditFilter:
    return caudit.AuditFilter(action=action, actor=actor, outcome=outcome, target=target, since=since, until=until)


Filters = Annotated[caudit.AuditFilter, Depends(event_filter)]


def _page(request: Request, response: Response, page: caudit.AuditPage, newest_first: bool) -> list[AuditEntryOut]:
    """The events, with the next page's address in a Link header (keyset cursor, filters kept)."""
    nxt = ({"before": page.older} if page.older is not None else None) if newest_first else \
        ({"after": page.newer} if page.newer is not None else None)
    if nxt is not None:
        url = request.url.include_query_params(**nxt)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    return page.events


def _newest(order: str | None, before: int | None) -> bool:
    return order == "newest" if order else before is not None


@router.get(ORG_PATH + "/audit", response_model=list[AuditEntryOut], responses=ERRORS,
            summary="The organization's audit events (Auditor), filtered; next page in the Link header")
def org_events(org: str, p: Acting, s: DB, request: Request, response: Response, f: Filters, after: int = After,
               before: int | None = Before, order: Literal["newest", "oldest"] | None = Order,
               limit: int = Limit) -> list[AuditEntryOut]:
    newest = _newest(order, before)
    page = caudit.list_events(s, p, org, filters=f, after_seq=after, before_seq=before, newest_first=newest,
                              limit=limit)
    return _page(request, response, page, newest)


@router.get(ORG_PATH + "/audit/verify", response_model=ChainOut, responses=ERRORS,
            summary="Check the hash chain of the audit log (Auditor) from the newest verified checkpoint: any "
                    "edited, removed or inserted event since then shows; the nightly full check covers the rest")
def org_verify(org: str, p: Acting, s: DB) -> ChainOut:
    require_role(s, p, org, (AUDITOR,), "verifying the audit log")
    v = caudit.verify_chain(s, full=False)  # one chain for the deployment; an organization's auditor sees only the verdict
    return ChainOut(ok=v.ok, first_bad_seq=v.first_bad_seq, reason=v.reason, last_full_at=v.last_full_at,
                    full_is_stale=v.full_is_stale())


@router.get("/api/audit", response_model=list[AuditEntryOut], responses=ERRORS,
            summary="The deployment's audit events (operators serving every organization), filtered; "
                    "next page in the Link header")
def all_events(p: Acting, s: DB, request: Request, response: Response, f: Filters, after: int = After,
               before: int | None = Before, order: Literal["newest", "oldest"] | None = Order,
               org: Annotated[str, Query(max_length=100, description="only this organization's events")] = "",
               limit: int = Limit) -> list[AuditEntryOut]:
    newest = _newest(order, before)
    page = caudit.list_events(s, p, None, filters=replace(f, org=org), after_seq=after,
                              before_seq=before, newest_first=newest, limit=limit)
    return _page(request, response, page, newest)


@router.get("/api/audit/verify", response_model=ChainOut, responses=ERRORS,
            summary="Check the deployment's hash chain (operators serving every organization): from the newest "
                    "verified checkpoint, or with full=true from the first event (seconds on a large log)")
def verify(p: Acting, s: DB, full: Annotated[bool, Query(description="walk the whole chain from the first "
                                                                      "event")] = False) -> ChainOut:
    require_unrestricted_operator(p, "verifying the deployment's audit log")
    v = caudit.verify_chain(s, full=full)
    return ChainOut(**v.as_dict(), full_is_stale=v.full_is_stale())
