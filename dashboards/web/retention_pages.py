"""The retention pages for Compliance: policies with the preview (the 12-month figures), create,
change and remove them (a change that shortens what is kept shows the warning and asks for a
confirmation first), legal holds with their size (place, release with a reason), and the report.

The forms call the same service functions as the API (operations.retention), which check the
Compliance role and audit every change; a refusal shows on the page with the API's status.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from mailark.control.orgs import ControlError
from mailark.control.retention import PolicySpec
from mailark.dashboards.deps import DB, Ctx
from mailark.dashboards.web.pages import PageRoute, _nav, render
from mailark.dashboards.web.refusals import refusal
from mailark.dashboards.web.session import Page, Viewer, check_form
from mailark.operations import retention as ret

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _list(text: str) -> list[str]:
    """Mailbox addresses typed in one field, separated by commas, spaces or lines."""
    return [x for x in re.split(r"[\s,;]+", text.strip()) if x]


def _page(request: Request, org: str, v: Viewer, s: DB, ctx: Ctx, status: int = 200, **kw: Any) -> HTMLResponse:
    with ctx.lake_lock:
        pv = ret.preview(ctx.runtime, v.principal, org)  # Compliance (or the deployment's operator)
        holds = ret.list_holds(ctx.runtime, v.principal, org)
        reviews = ret.open_reviews(ctx.runtime, v.principal, org)
    return render(request, "retention.html", status=status, viewer=v, nav=_nav(s, v, org), pv=pv, holds=holds,
                  reviews=reviews, **kw)


def _refused(request: Request, org: str, v: Viewer, s: DB, ctx: Ctx, e: Exception) -> HTMLResponse:
    """The page again with the refusal on top (an outsider or a non-Compliance viewer is refused by
    the page itself, which reads with the same checks: the page route answers and audits that)."""
    s.rollback()
    message, status = refusal(e)
    return _page(request, org, v, s, ctx, status=status, refused=message)


@router.get("/o/{org}/retention")
def retention(request: Request, org: str, v: Page, s: DB, ctx: Ctx) -> HTMLResponse:
    return _page(request, org, v, s, ctx)


def _spec(name: str, keep: str, mailboxes: str, folder: str, query: str, base: str, action: str) -> PolicySpec:
    if base not in ("message-date", "archived") or action not in ("delete", "review"):
        raise ControlError("choose counting from the message date or from when it was archived, and delete or review")
    return PolicySpec(name.strip(), keep.strip(), tuple(_list(mailboxes)), folder.strip() or None, query.strip() or None,
                      base, action)


@router.post("/o/{org}/retention/policies")
def save(request: Request, org: str, v: Page, s: DB, ctx: Ctx, csrf: str = Form(""), change: str = Form(""),
         name: str = Form(""), keep: str = Form(""), mailboxes: str = Form(""), folder: str = Form(""),
         query: str = Form(""), base: str = Form("message-date"), action: str = Form("delete"),
         confirm: str = Form("")) -> HTMLResponse:
    """Create a policy, or change the one named in `change`; a shortening asks for `confirm` first."""
    check_form(request, v, csrf)
    fields = {"change": change, "name": name, "keep": keep, "mailboxes": mailboxes, "folder": folder, "query": query,
              "base": base, "action": action}
    try:
        spec = _spec(name, keep, mailboxes, folder, query, base, action)
        with ctx.lake_lock:
            ret.save_checked(ctx.runtime, v.principal, org, spec, change=change or None, confirm=bool(confirm))
    except ret.NeedsConfirmation as e:
        s.rollback()
        return _page(request, org, v, s, ctx, status=409, warning=str(e), pending=fields,
                     pending_action=f"/o/{org}/retention/policies")
    except ControlError as e:
        return _refused(request, org, v, s, ctx, e)
    return _page(request, org, v, s, ctx, saved="The policy was saved.")


@router.post("/o/{org}/retention/policies/{policy}/remove")
def remove(request: Request, org: str, policy: str, v: Page, s: DB, ctx: Ctx, csrf: str = Form(""),
           confirm: str = Form("")) -> HTMLResponse:
    check_form(request, v, csrf)
    try:
        with ctx.lake_lock:
            ret.remove_checked(ctx.runtime, v.principal, org, policy, confirm=bool(confirm))
    except ret.NeedsConfirmation as e:
        s.rollback()
        return _page(request, org, v, s, ctx, status=409, warning=str(e), pending={},
                     pending_action=f"/o/{org}/retention/policies/{policy}/remove")
    except ControlError as e:
        return _refused(request, org, v, s, ctx, e)
    return _page(request, org, v, s, ctx, saved="The policy was removed.")


@router.post("/o/{org}/retention/reviews")
async def decide(request: Request, org: str, v: Page, s: DB, ctx: Ctx) -> HTMLResponse:
    """Delete or keep the ticked copies of the review queue (one decision for all ticked)."""
    form = await request.form()
    check_form(request, v, str(form.get("csrf", "")))
    items = [str(x) for x in form.getlist("item")]
    decision = str(form.get("decision", ""))
    try:
        if not items or decision not in ("delete", "keep"):
            raise ControlError("tick the copies to decide on, then choose delete or keep")
        with ctx.lake_lock:
            doc = ret.decide_reviews(ctx.runtime, v.principal, org, delete=items if decision == "delete" else [],
                                     keep=items if decision == "keep" else [])
    except ControlError as e:
        return _refused(request, org, v, s, ctx, e)
    return _page(request, org, v, s, ctx, saved="The review decision was recorded.",
                 decided=doc)


@router.post("/o/{org}/holds")
def place(request: Request, org: str, v: Page, s: DB, ctx: Ctx, csrf: str = Form(""), case: str = Form(""),
          reason: str = Form(""), mailboxes: str = Form(""), query: str = Form("")) -> HTMLResponse:
    check_form(request, v, csrf)
    try:
        ret.add_hold(ctx.runtime, v.principal, org, case, reason, mailboxes=_list(mailboxes), query=query.strip() or None)
    except ControlError as e:
        return _refused(request, org, v, s, ctx, e)
    return _page(request, org, v, s, ctx, saved="The legal hold was placed.")


@router.post("/o/{org}/holds/{case}/release")
def release(request: Request, org: str, case: str, v: Page, s: DB, ctx: Ctx, csrf: str = Form(""),
            reason: str = Form("")) -> HTMLResponse:
    check_form(request, v, csrf)
    try:
        ret.end_hold(ctx.runtime, v.principal, org, case, reason)
    except ControlError as e:
        return _refused(request, org, v, s, ctx, e)
    return _page(request, org, v, s, ctx, saved="The legal hold was released.")


@router.post("/o/{org}/holds/{case}/export")
def export(request: Request, org: str, case: str, v: Page, s: DB, ctx: Ctx, csrf: str = Form("")) -> Response:
    """The hold's zip with its chain-of-custody sheet, as the API gives it (audited `hold.export`)."""
    from mailark.dashboards.api.retention import export_hold

    check_form(request, v, csrf)
    try:
        return export_hold(org, case, v.principal, ctx)
    except ControlError as e:
        return _refused(request, org, v, s, ctx, e)


@router.get("/o/{org}/retention/report")
def report(request: Request, org: str, v: Page, s: DB, ctx: Ctx) -> HTMLResponse:
    with ctx.lake_lock:
        rep = ret.report(ctx.runtime, v.principal, org)
    return render(request, "retention_report.html", viewer=v, nav=_nav(s, v, org), rep=rep)
