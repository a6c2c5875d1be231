"""Sign in with the organization's provider (Microsoft or OpenID Connect), and the Admin's page to set it up.

The browser goes to the provider with a fresh state, nonce and PKCE verifier, which wait for it in
a short-lived cookie encrypted under the master key (SameSite=Lax, path /login/sso: the provider
sends the browser back with a cross-site redirect, and a Strict cookie would not come along). The
callback checks the state, lets mailark.sources.directory.oidc exchange the code and verify the id
token, and mailark.control.sign_in name the user; the session is the same as a password login's.

The session cookie is SameSite=Strict, and a browser does not send it on a redirect that a
cross-site navigation started: so the callback answers with a small page that moves on by itself
(a meta refresh, no JavaScript) from our own site, where the cookie is then sent.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import time
from typing import Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from mailark.control import auth as cauth
from mailark.control import sign_in
from mailark.control.orgs import ControlError
from mailark.dashboards.api import sign_in as api_sign_in
from mailark.dashboards.deps import DB, SESSION_COOKIE, Ctx
from mailark.dashboards.web.confirmations import confirmation, location
from mailark.dashboards.web.pages import PageRoute, _home, _nav, _safe_next, render
from mailark.dashboards.web.refusals import refusal
from mailark.dashboards.web.session import Page, check_form
from mailark.sources.directory.oidc import SignInError, begin, discover, finish

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FLOW_COOKIE = "mailark_sso"
FLOW_PATH = "/login/sso"
FLOW_TTL = 600  # seconds from leaving for the provider to coming back
CALLBACK = "/login/sso/callback"
STARTED_ELSEWHERE = "the sign-in took too long or was not started here: start again"


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _redirect_uri(request: Request) -> str:
    """Our callback as the browser reaches it (behind a proxy: uvicorn's proxy headers give scheme and host)."""
    return str(request.base_url).rstrip("/") + CALLBACK


def _seal(ctx: Any, data: dict[str, Any]) -> str:
    blob = cauth.encrypt_secret(ctx.runtime.master_key, json.dumps(data).encode(), "web-sign-in")
    return base64.urlsafe_b64encode(blob).decode()


def _unseal(ctx: Any, token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        data = json.loads(cauth.decrypt_secret(ctx.runtime.master_key, base64.urlsafe_b64decode(token.encode()),
                                               "web-sign-in"))
    except (ControlError, ValueError, binascii.Error):
        return None
    return data if isinstance(data, dict) and data.get("exp", 0) > time.time() else None


def _login_error(request: Request, status: int, error: str, next_: str = "") -> HTMLResponse:
    response = render(request, "login.html", status=status, error=error, next=next_)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.get(FLOW_PATH)
def sso_start(request: Request, s: DB, ctx: Ctx, org: str = "", email: str = "",
              next: str = "") -> Response:
    """Leave for the provider of the organization named, or of the email address's domain."""
    back = _safe_next(next) or ""
    name = org.strip().lower() or (sign_in.org_for_email(s, email) if "@" in email else None) or ""
    try:
        cfg = sign_in.login_config(s, ctx.runtime.master_key, name)
        req = begin(discover(cfg.issuer), cfg.client_id, _redirect_uri(request), login_hint=email.strip() or None)
    except SignInError as e:
        return _login_error(request, 502, str(e), back)
    except ControlError as e:
        message, status = refusal(e)
        return _login_error(request, status, message, back)
    flow = {"o": cfg.org_name, "s": req.state, "n": req.nonce, "v": req.code_verifier, "r": _redirect_uri(request),
            "next": back, "exp": time.time() + FLOW_TTL}
    response = RedirectResponse(req.url, status_code=303)
    response.set_cookie(FLOW_COOKIE, _seal(ctx, flow), max_age=FLOW_TTL, path=FLOW_PATH, httponly=True,
                        samesite="lax", secure=ctx.secure_cookies)
    return response


@router.get(CALLBACK)
def sso_callback(request: Request, s: DB, ctx: Ctx, code: str = "", state: str = "", error: str = "") -> Response:
    """The provider sends the browser back here: check, exchange, verify, match, open the session."""
    flow = _unseal(ctx, request.cookies.get(FLOW_COOKIE))
    if flow is None or not state or not hmac.compare_digest(state.encode(), str(flow["s"]).encode()):
        return _login_error(request, 400, STARTED_ELSEWHERE)
    back = _safe_next(flow.get("next")) or ""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in back):  # it goes into a header (Refresh): no control characters
        back = ""
    try:
        cfg = sign_in.login_config(s, ctx.runtime.master_key, flow["o"])
    except ControlError as e:
        message, status = refusal(e)
        return _login_error(request, status, message, back)
    if error or not code:
        sign_in.refuse_sign_in(s, cfg, f"the provider answered {error or 'without a code'}", source=_client(request))
        s.commit()
        return _login_error(request, 401, "the sign-in was cancelled or refused at the provider: start again", back)
    try:
        claims = finish(discover(cfg.issuer), cfg.client_id, cfg.client_secret, flow["r"], code, flow["v"], flow["n"])
    except SignInError as e:
        sign_in.refuse_sign_in(s, cfg, str(e), source=_client(request))
        s.commit()
        return _login_error(request, 401, str(e), back)
    result = sign_in.complete_sign_in(s, cfg, claims, source=_client(request))
    if not result.ok:
        s.commit()  # the audit event stays
        return _login_error(request, 401, result.error or sign_in.REFUSED, back)
    new = cauth.start_session(s, result)
    target = back or _home(s, result.require())
    response = render(request, "sso_continue.html", target=target)
    response.headers["Refresh"] = f"0; url={target}"
    response.set_cookie(SESSION_COOKIE, new.cookie, max_age=int(cauth.SESSION_TTL.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=ctx.secure_cookies)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


# ---- the Admin's page ------------------------------------------------------------------------------


def _page(request: Request, org: str, v: Any, s: Any, status: int = 200, **kw: Any) -> HTMLResponse:
    try:
        current = api_sign_in.get(org, v.principal, s)
    except ControlError:
        current = None
    return render(request, "sign_in.html", status=status, viewer=v, nav=_nav(s, v, org), x=current,
                  callback=_redirect_uri(request), **kw)


@router.get("/o/{org}/sign-in")
def sign_in_page(request: Request, org: str, v: Page, s: DB) -> HTMLResponse:
    from mailark.control.principals import require_admin

    require_admin(s, v.principal, org, "setting up sign-in with a provider")
    return _page(request, org, v, s)


@router.post("/o/{org}/sign-in")
def sign_in_save(request: Request, org: str, v: Page, s: DB, ctx: Ctx, csrf: str = Form(""), kind: str = Form("entra"),
                 display_name: str = Form(""), issuer: str = Form(""), tenant_id: str = Form(""),
                 client_id: str = Form(""), client_secret: str = Form(""), allowed_domains: str = Form(""),
                 match_claim: str = Form("email"), enabled: str = Form("")) -> Response:
    check_form(request, v, csrf)
    form = {"kind": kind, "display_name": display_name, "issuer": issuer, "tenant_id": tenant_id,
            "client_id": client_id, "allowed_domains": allowed_domains, "match_claim": match_claim}
    try:
        body = api_sign_in.SignInIn(
            kind=kind, display_name=display_name.strip() or None, issuer=issuer.strip() or None,  # type: ignore[arg-type]
            tenant_id=tenant_id.strip() or None, client_id=client_id.strip(), client_secret=client_secret or None,
            allowed_domains=[d for d in allowed_domains.replace(",", " ").split() if d],
            match_claim=match_claim or None, enabled=bool(enabled))  # type: ignore[arg-type]
        saved = api_sign_in.put(org, body, v.principal, s, ctx)
        s.flush()
    except (ControlError, ValueError) as e:
        s.rollback()
        message, status = refusal(e)
        return _page(request, org, v, s, status=status, refused=message, form=form)
    return RedirectResponse(location(f"/o/{org}/sign-in", confirmation("sign_in_saved", provider=saved.display_name)),
                            status_code=303)


@router.post("/o/{org}/sign-in/remove")
def sign_in_remove(request: Request, org: str, v: Page, s: DB, csrf: str = Form("")) -> Response:
    check_form(request, v, csrf)
    api_sign_in.remove(org, v.principal, s)
    return RedirectResponse(location(f"/o/{org}/sign-in", confirmation("sign_in_removed")), status_code=303)
