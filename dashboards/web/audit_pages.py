"""The audit log pages: an organization's log (Auditor) and the whole deployment's (operators).

Filters and paging are `control.audit.list_events`' (SQL, keyset cursors: "Older" carries `before`,
"Newer" carries `after`), so the pages never load the whole log. The CSV download streams the
filtered events up to the moment of the click in chunks, and is itself audited (`audit.export`).
Each page also shows the verdict of the hash chain: the incremental one (from the newest verified
checkpoint, see control.audit), with the time of the last full verification and a warning when it is stale.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import select

from mailark.catalog.export_names import safe_cell
from mailark.control import audit as caudit
from mailark.control.models import Organization
from mailark.control.orgs import ControlError
from mailark.dashboards.deps import DB, Ctx
from mailark.dashboards.web.pages import PageRoute, _nav, render
from mailark.dashboards.web.session import Page, Viewer

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE_SIZE = 100
OUTCOMES = ("ok", "failed", "denied", "partial")
CSV_COLUMNS = ("seq", "at", "organization", "actor", "action", "target", "outcome", "details")
FILTER_FIELDS = ("action", "actor", "outcome", "target", "since", "until", "org")


def _cursor(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 19 else None


def _filter(q: dict[str, str]) -> caudit.AuditFilter:
    """The form's fields as a filter; a date that is not one is refused with what to type instead."""
    try:
        since = caudit.parse_time(q.get("since", ""))
        until = caudit.parse_time(q.get("until", ""), end_of_day=True)
    except ValueError as e:
        raise ControlError(f"the date filter is not valid: {e}") from None
    return caudit.AuditFilter(action=q.get("action", "")[:64], actor=q.get("actor", "")[:320],
                              outcome=q.get("outcome", "")[:16], target=q.get("target", "")[:400],
                              since=since, until=until, org=q.get("org", "")[:100])


def _form(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in FILTER_FIELDS}


def _org_names(s: DB) -> dict[str, str]:
    return {org_id: name for org_id, name in s.execute(select(Organization.id, Organization.name))}


def _show(request: Request, v: Viewer, s: DB, org: str | None) -> HTMLResponse:
    """One page of the log (org None: the deployment's), newest first, with its Older/Newer cursors."""
    form = _form(request)
    if org is not None:
        form["org"] = ""
    base = f"/o/{org}/audit" if org is not None else "/audit"
    context: dict[str, Any] = {"viewer": v, "nav": _nav(s, v, org) if org is not None else None, "f": form,
                               "base": base, "deployment": org is None}
    try:
        f = _filter(form)
    except ControlError as e:
        caudit.list_events(s, v.principal, org, limit=1)  # the reader's rights first: an outsider learns nothing
        return render(request, "audit.html", status=400, error=str(e), events=[], chain=None, **context)
    before, after = _cursor(request.query_params.get("before", "")), _cursor(request.query_params.get("after", ""))
    page: caudit.AuditPage | None = None
    if after is not None and before is None:  # "Newer": the page just above `after`, shown newest first
        up = caudit.list_events(s, v.principal, org, filters=f, after_seq=after, newest_first=False, limit=PAGE_SIZE)
        if up.newer is not None:
            page, events = up, list(reversed(up.events))
        # else it reached the newest events: the first page, as it is now
    if page is None:
        page = caudit.list_events(s, v.principal, org, filters=f, before_seq=before, newest_first=True,
                                  limit=PAGE_SIZE)
        events = page.events

    def link(**cursor: int) -> str:
        return base + "?" + urlencode({**{k: val for k, val in form.items() if val}, **cursor})

    chain = caudit.verify_chain(s, full=False)
    orgs = sorted(_org_names(s).items(), key=lambda kv: kv[1]) if org is None else []
    return render(request, "audit.html", events=events, chain=chain, outcomes=OUTCOMES, org_names=dict(orgs),
                  orgs=[name for _, name in orgs],
                  older=link(before=page.older) if page.older is not None else None,
                  newer=link(after=page.newer) if page.newer is not None else None,
                  csv=base + ".csv" + ("?" + urlencode({k: val for k, val in form.items() if val})
                                       if any(form.values()) else ""), **context)


def csv_lines(events: Iterable[caudit.AuditEntry], org_names: dict[str, str]) -> Iterator[str]:
    """The header and one line per event, produced as they are read (the download streams)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_COLUMNS)
    for e in events:
        org = org_names.get(e.org_id, e.org_id) if e.org_id else ""
        w.writerow([e.seq, e.at, org, *(safe_cell(x, None) for x in (e.actor, e.action, e.target, e.outcome)),
                    safe_cell(json.dumps(e.details, ensure_ascii=False, sort_keys=True), None)])
        if buf.tell() > 64_000:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _export(request: Request, v: Viewer, s: DB, ctx: Ctx, org: str | None) -> StreamingResponse:
    """Record `audit.export` (committed before the first byte goes out), then stream the events up to then."""
    form = _form(request)
    if org is not None:
        form["org"] = ""
    f = _filter(form)
    upto = caudit.start_export(s, v.principal, org, f)
    names = _org_names(s)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    rows = caudit.iter_events(ctx.runtime.control, v.principal, org, f, upto)
    return StreamingResponse(csv_lines(rows, names), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="audit-{org or "deployment"}-{stamp}.csv"'})


@router.get("/o/{org}/audit")
def audit_log(request: Request, org: str, v: Page, s: DB) -> HTMLResponse:
    """The organization's audit log, newest first, filtered, with the verdict of the hash chain (Auditor)."""
    return _show(request, v, s, org)


@router.get("/o/{org}/audit.csv")
def audit_csv(request: Request, org: str, v: Page, s: DB, ctx: Ctx) -> StreamingResponse:
    return _export(request, v, s, ctx, org)


@router.get("/audit")
def deployment_audit_log(request: Request, v: Page, s: DB) -> HTMLResponse:
    """Every organization's events (operators serving every organization), with an organization filter."""
    return _show(request, v, s, None)


@router.get("/audit.csv")
def deployment_audit_csv(request: Request, v: Page, s: DB, ctx: Ctx) -> StreamingResponse:
    return _export(request, v, s, ctx, None)
