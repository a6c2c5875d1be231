"""The licence page: what is licensed and what is in use (Admin, Auditor, the organization's operators);
the forms to change it, cancel a trial or renew, for the MSP operators, as the licence API allows.

The forms call dashboards.api.licence (control.licensing decides and audits). A refusal (shrinking
below what is in use, an Admin trying an operator's change) shows on the page with the API's status.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from mailark.control.licensing import TIERS_GB
from mailark.control.orgs import ControlError, Forbidden, NotFound
from mailark.dashboards.api import licence as api_licence
from mailark.dashboards.api.models import LicenceChangeIn
from mailark.dashboards.deps import DB, Ctx
from mailark.dashboards.web.confirmations import confirmation
from mailark.dashboards.web.pages import PageRoute, _nav, render
from mailark.dashboards.web.refusals import refusal
from mailark.dashboards.web.session import Page, Viewer, check_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _page(request: Request, org: str, v: Viewer, s: DB, status: int = 200, **kw: Any) -> HTMLResponse:
    lic = api_licence.get(org, v.principal, s)  # Admin or Auditor, or the organization's operator
    return render(request, "licence.html", status=status, viewer=v, nav=_nav(s, v, org), lic=lic, tiers=TIERS_GB,
                  can_change=v.principal.is_operator, **kw)


@router.get("/o/{org}/licence")
def licence(request: Request, org: str, v: Page, s: DB) -> HTMLResponse:
    return _page(request, org, v, s)


def _refused(request: Request, org: str, v: Viewer, s: DB, e: Exception) -> HTMLResponse:
    s.rollback()
    if isinstance(e, (NotFound, Forbidden)):
        raise e  # an outsider (no such organization) or not the operator: the page route answers and audits
    if isinstance(e, (ControlError, ValidationError)):
        message, status = refusal(e)
        return _page(request, org, v, s, status=status, refused=message)
    first = str(e).splitlines()[0] if str(e) else ""  # int() of a field that is not a number
    return _page(request, org, v, s, status=400, refused=f"the form is not valid: use whole numbers ({first})")


@router.post("/o/{org}/licence")
def change(request: Request, org: str, v: Page, s: DB, ctx: Ctx, tasks: BackgroundTasks, csrf: str = Form(""),
           users: str = Form(""),
           mailboxes_per_user: str = Form(""), storage_gb: str = Form(""), auto_expand: bool = Form(False)) -> HTMLResponse:
    """Users, mailboxes per user, storage tier and auto-expand at once; the licence API's rules decide."""
    check_form(request, v, csrf)
    try:
        body = LicenceChangeIn(users=int(users), mailboxes_per_user=int(mailboxes_per_user), storage_gb=int(storage_gb),
                               auto_expand=auto_expand)
        api_licence.change(org, body, v.principal, s, ctx, tasks)
        s.flush()
    except (ControlError, ValidationError, ValueError) as e:
        return _refused(request, org, v, s, e)
    return _page(request, org, v, s, done=confirmation("licence_changed"))


@router.post("/o/{org}/licence/{action}")
def act(request: Request, org: str, action: str, v: Page, s: DB, ctx: Ctx, tasks: BackgroundTasks,
        csrf: str = Form("")) -> HTMLResponse:
    """cancel-trial, renew, cancel (the subscription) or resume (undo that)."""
    check_form(request, v, csrf)
    fn, code = {"cancel-trial": (api_licence.cancel_trial, "trial_cancelled"),
                "renew": (lambda o, p, s: api_licence.renew(o, p, s, ctx, tasks), "licence_renewed"),
                "cancel": (lambda o, p, s: api_licence.cancel(o, p, s, ctx), "subscription_cancelled"),
                "resume": (lambda o, p, s: api_licence.resume(o, p, s, ctx, tasks), "subscription_resumed")
                }.get(action, (None, ""))
    if fn is None:
        raise NotFound(f"no licence action {action!r}: use cancel-trial, renew, cancel or resume")
    try:
        fn(org, v.principal, s)
        s.flush()
    except ControlError as e:
        return _refused(request, org, v, s, e)
    return _page(request, org, v, s, done=confirmation(code))
