"""The account page: your API tokens (create, shown once; revoke), links to your password and two-factor
login; an Admin also sees the tokens of the organization's users and may revoke them.

The forms call the REST API's functions (dashboards.api.auth, dashboards.api.tokens), so the rules and
the audit are the API's. A new token's secret is only ever in the response to the form that made it
(never in a URL or a later page; the pages are sent with Cache-Control: no-store).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from mailark.control.models import Organization
from mailark.control.orgs import ControlError, NotFound
from mailark.control.principals import ADMIN, roles_in
from mailark.dashboards.api import auth as api_auth
from mailark.dashboards.api import tokens as api_tokens
from mailark.dashboards.api.models import TokenIn
from mailark.dashboards.deps import DB
from mailark.dashboards.web.confirmations import confirmation, location
from mailark.dashboards.web.pages import PageRoute, _nav, render
from mailark.dashboards.web.session import Page, Viewer, check_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _own_org(s: DB, v: Viewer) -> Organization | None:
    return s.get(Organization, v.principal.org_id) if v.principal.org_id else None


def _page(request: Request, v: Viewer, s: DB, status: int = 200, **kw: Any) -> HTMLResponse:
    org = _own_org(s, v)
    admin = org is not None and ADMIN in roles_in(s, v.principal, org)
    org_tokens = api_tokens.list_org(org.name, v.principal, s) if admin and org else None
    mine = api_auth.list_tokens(v.principal, s) if v.principal.kind != "system" else []
    return render(request, "account.html", status=status, viewer=v, nav=_nav(s, v, org.name) if org else None,
                  tokens=mine, org_tokens=org_tokens, org=org.name if org else None, **kw)


@router.get("/account")
def account(request: Request, v: Page, s: DB) -> HTMLResponse:
    return _page(request, v, s)


@router.post("/account/tokens")
def create_token(request: Request, v: Page, s: DB, csrf: str = Form(""), name: str = Form(""),
                 ttl_days: str = Form("")) -> HTMLResponse:
    """The secret is shown in this response only, with the note to copy it now."""
    check_form(request, v, csrf)
    try:
        body = TokenIn(name=name.strip(), ttl_days=int(ttl_days) if ttl_days.strip() else None)
        new = api_auth.create_token(body, v.principal, s)
        s.flush()
    except (ControlError, ValidationError, ValueError) as e:
        s.rollback()
        message = str(e) if isinstance(e, ControlError) else (
            "the form is not valid: give the token a name (at most 100 characters) and, if it should expire, "
            "a number of days from 1 to 3650")
        return _page(request, v, s, status=400, refused=message, form_name=name)
    return _page(request, v, s, new_token=new)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str, v: Page, s: DB, csrf: str = Form("")) -> Response:
    """Yours, or as an Admin one of your organization's users' (the API's rule: anything else is NotFound)."""
    check_form(request, v, csrf)
    try:
        api_auth.revoke_token(token_id, v.principal, s)
        s.flush()
    except NotFound as e:
        s.rollback()
        return _page(request, v, s, status=404, refused=str(e))
    return RedirectResponse(location("/account", confirmation("token_revoked")), status_code=303)
