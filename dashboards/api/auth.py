"""Login, logout, who am I, API tokens, own password and TOTP enrolment.

The session cookie is HttpOnly and SameSite=Strict (Secure unless settings say otherwise); logins
and cookie-authenticated changes need `X-Requested-With: mailark` (see dashboards.deps).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status
from sqlalchemy import select

from mailark.control import auth as cauth
from mailark.control.models import Organization
from mailark.control.orgs import NotFound
from mailark.control.principals import Principal
from mailark.dashboards.api.common import ERRORS
from mailark.dashboards.api.models import (
    LoginIn, LoginOut, MeOut, NewTokenOut, OkOut, PasswordChangeIn, TokenIn, TokenOut, TotpBeginOut, TotpConfirmIn,
)
from mailark.dashboards.deps import DB, SESSION_COOKIE, Acting, AnyCaller, Ctx, check_csrf
from mailark.sources.directory.login import check_directory_password

router = APIRouter(prefix="/api/auth", tags=["auth"])
AUTH_ERRORS = {**ERRORS, 429: {**ERRORS[401], "description": "too many failed logins: wait Retry-After seconds"}}


def _me(s: DB, p: Principal, via: str, pending: bool = False) -> MeOut:
    org = s.get(Organization, p.org_id).name if p.org_id else None  # type: ignore[union-attr]
    orgs = sorted(s.scalars(select(Organization.name).where(Organization.id.in_(p.org_ids)))) if p.org_ids is not None else None
    return MeOut(kind=p.kind, login=p.login, org=org, orgs=orgs, via=via, totp_enrolment_required=pending)


@router.post("/login", response_model=LoginOut, responses=AUTH_ERRORS,
             summary="Log in; sets the session cookie (needs X-Requested-With: mailark)")
def login(body: LoginIn, request: Request, response: Response, s: DB, ctx: Ctx) -> LoginOut:
    check_csrf(request)
    result = cauth.login(s, ctx.runtime.master_key, body.login, body.password, body.totp,
                         directory_check=check_directory_password, source=request.client.host if request.client else None)
    if not result.ok:
        s.commit()  # throttling row and audit event stay, though the login is refused
        result.require()
    new = cauth.start_session(s, result)
    p = result.require()
    response.set_cookie(SESSION_COOKIE, new.cookie, max_age=int(cauth.SESSION_TTL.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=ctx.secure_cookies)
    me = _me(s, p, "session", result.totp_enrolment_required)
    return LoginOut(**me.model_dump(), must_change_password=result.must_change_password, expires_at=new.expires_at)


@router.post("/logout", response_model=OkOut, responses=ERRORS, summary="End the web session (clears the cookie)")
def logout(caller: AnyCaller, response: Response, s: DB, ctx: Ctx) -> OkOut:
    if caller.session_cookie:
        cauth.end_session(s, caller.session_cookie)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=ctx.secure_cookies)
    return OkOut()


@router.get("/me", response_model=MeOut, responses=ERRORS, summary="Who is calling")
def me(caller: AnyCaller, s: DB) -> MeOut:
    return _me(s, caller.principal, caller.via, caller.mfa_pending)


@router.post("/tokens", response_model=NewTokenOut, status_code=status.HTTP_201_CREATED, responses=ERRORS,
             summary="Create an API token for yourself (returned only once)")
def create_token(body: TokenIn, p: Acting, s: DB) -> NewTokenOut:
    t = cauth.create_token(s, p, body.name, ttl=timedelta(days=body.ttl_days) if body.ttl_days else None,
                           scope=body.scope)
    return NewTokenOut(id=t.id, name=t.name, token=t.token, expires_at=t.expires_at)


@router.get("/tokens", response_model=list[TokenOut], responses=ERRORS, summary="Your API tokens (never the secrets)")
def list_tokens(p: Acting, s: DB) -> list[TokenOut]:
    return [TokenOut(id=t.id, name=t.name, created_at=t.created_at, expires_at=t.expires_at, revoked_at=t.revoked_at,
                     last_used_at=t.last_used_at, scope=t.scope) for t in cauth.list_tokens(s, p)]


@router.delete("/tokens/{token_id}", response_model=OkOut, responses=ERRORS,
               summary="Revoke a token (yours, or as Admin one of your organization's)")
def revoke_token(token_id: str, p: Acting, s: DB) -> OkOut:
    cauth.revoke_token(s, p, token_id)
    return OkOut()


@router.post("/password", response_model=OkOut, responses=ERRORS, summary="Change your own password")
def change_password(body: PasswordChangeIn, caller: AnyCaller, s: DB) -> OkOut:
    try:
        cauth.change_own_password(s, caller.principal, body.old_password, body.new_password,
                                  keep_session_cookie=caller.session_cookie, end_tokens=body.end_tokens)
    except cauth.AuthFailed:
        s.commit()  # the failed attempt is audited
        raise
    return OkOut()


@router.post("/totp", response_model=TotpBeginOut, responses=ERRORS, summary="Start TOTP enrolment (secret shown once)")
def totp_begin(caller: AnyCaller, s: DB, ctx: Ctx) -> TotpBeginOut:
    if caller.principal.kind == "system":
        raise NotFound("no such account")
    e = cauth.begin_totp(s, ctx.runtime.master_key, caller.principal)
    return TotpBeginOut(secret=e.secret, uri=e.uri)


@router.post("/totp/confirm", response_model=OkOut, responses=ERRORS,
             summary="Confirm TOTP with a code from the app; from now on logins need a code")
def totp_confirm(body: TotpConfirmIn, caller: AnyCaller, s: DB, ctx: Ctx) -> OkOut:
    try:
        cauth.confirm_totp(s, ctx.runtime.master_key, caller.principal, body.code)
    except cauth.AuthFailed:
        s.commit()
        raise
    return OkOut()
