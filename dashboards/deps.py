"""Per-request plumbing: the control-plane session and the authenticated principal.

Authentication (in this order):
- `Authorization: Bearer mla_...`: an API token (for automation); no CSRF check is needed since
  browsers never add this header by themselves.
- the `mailark_session` cookie (HttpOnly, SameSite=Strict, Secure when configured): a web login.
  Unsafe methods (POST, PUT, PATCH, DELETE) authenticated by the cookie must also carry the header
  `X-Requested-With: mailark`: a cross-site form cannot set it, and a cross-site script cannot send
  it without a CORS preflight that this API never grants.

A failed token check is written to the audit log and committed in its own short transaction
before the 401 goes out (control.auth's contract), so the request's own session stays clean.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from mailark.control.auth import authenticate_token, resume_session
from mailark.control.models import Organization
from mailark.control.orgs import AuthFailed, Forbidden
from mailark.control.principals import Principal
from mailark.runtime import Runtime

SESSION_COOKIE = "mailark_session"
CSRF_HEADER = "X-Requested-With"
CSRF_VALUE = "mailark"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def lake_storage_used(ctx: AppContext, org: Organization) -> int:
    """Bytes the organization occupies, as ingest counts them (read from the catalogue)."""
    from mailark.catalog.ingest import storage_used

    with ctx.lake_lock:  # the runtime's one DuckDB connection; requests run on many threads
        return storage_used(ctx.runtime.archive_for(org))


@dataclass
class AppContext:
    """What the app holds for its lifetime: the runtime built from settings (no other state)."""

    runtime: Runtime
    secure_cookies: bool
    storage_used: Callable[[AppContext, Organization], int] = lake_storage_used
    lake_lock: threading.Lock = field(default_factory=threading.Lock)


def context(request: Request) -> AppContext:
    return request.app.state.mailark  # type: ignore[no-any-return]


async def _context(request: Request) -> AppContext:
    """`context` as a dependency: async because it does no I/O, so it costs no trip to the thread
    pool (each trip is ~1 ms on a busy 2-core machine, and a request used to make seven)."""
    return context(request)


Ctx = Annotated[AppContext, Depends(_context)]


def _end(s: Session, commit: bool) -> None:
    try:
        if commit:
            s.commit()
        else:
            s.rollback()
    finally:
        s.close()


async def db(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed when the route returns, rolled back when it raises.

    Used with scope="function", so the commit happens before the response is sent: a client that
    saw 2xx can rely on the change being durable. Opening a session does no I/O (it connects on
    first use, in the route's thread); the commit or rollback and the close run in one trip to the
    thread pool (a sync generator took two: one to open, one to close), or none when the route
    already committed at the end of its own trip.
    """
    s = context(request).runtime.control()  # not through `Ctx`: each dependency costs FastAPI ~0.1 ms to solve
    try:
        yield s
    except BaseException:
        await run_in_threadpool(_end, s, False)
        raise
    if s.in_transaction():
        await run_in_threadpool(_end, s, True)
    else:
        s.close()  # the route committed in its own trip (the search does): closing does no I/O, so no trip


DB = Annotated[Session, Depends(db, scope="function")]


@dataclass(frozen=True)
class Caller:
    principal: Principal
    via: str  # "token" | "session"
    mfa_pending: bool = False
    session_cookie: str | None = None
    one_time_password: bool = False  # the account still uses a password it was given (see `principal`)


def check_csrf(request: Request) -> None:
    """Cookie-authenticated unsafe requests (and logins) must say they come from our own pages or tools."""
    if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER, "").lower() != CSRF_VALUE:
        raise Forbidden(f"cookie-authenticated requests that change something need the header "
                        f"'{CSRF_HEADER}: {CSRF_VALUE}' (or use an API token)")


# Declared so that /openapi.json documents both ways in; the checks below read the request themselves.
BEARER = HTTPBearer(auto_error=False, scheme_name="token", description="an API token: Bearer mla_...")
COOKIE = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                      description=f"the web session; unsafe methods also need '{CSRF_HEADER}: {CSRF_VALUE}'")


def authenticate(request: Request, _b: object = Security(BEARER), _c: object = Security(COOKIE)) -> Caller:
    """The caller, from a bearer token or the session cookie; 401 if neither is valid."""
    caller = _caller(request, context(request))
    request.state.principal = caller.principal  # refused requests are audited under this principal
    return caller


def _caller(request: Request, ctx: AppContext) -> Caller:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthFailed("use 'Authorization: Bearer mla_...' with an API token")
        with ctx.runtime.control() as s:
            result = authenticate_token(s, token.strip())  # with the account's one-time-password flag
            s.commit()  # the failure is recorded (audit) even though we refuse
        principal = result.require()
        if result.token_scope == "read" and request.method not in SAFE_METHODS:
            raise Forbidden("this API token may only read: make an admin token to change anything")
        return Caller(principal, "token", one_time_password=result.must_change_password)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with ctx.runtime.control() as s:
            info = resume_session(s, cookie)
        if info is not None:
            check_csrf(request)
            return Caller(info.principal, "session", info.mfa_pending, cookie, info.must_change_password)
        raise AuthFailed("your session has ended: log in again")
    raise AuthFailed("log in first (POST /api/auth/login) or send 'Authorization: Bearer mla_...'")


async def any_caller(caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
    """Also a session still waiting for TOTP enrolment (it may only enrol, look at itself, log out)."""
    return caller


async def principal(caller: Annotated[Caller, Depends(authenticate)]) -> Principal:
    """The acting principal of a fully authenticated caller.

    An account still on a one-time password (new, or reset by an admin) may only change it, look
    at itself, set up TOTP and log out: whoever read the one-time password must not act with it.
    """
    if caller.mfa_pending:
        raise Forbidden("your organization requires two-factor login: set up TOTP first "
                        "(POST /api/auth/totp, then POST /api/auth/totp/confirm)")
    if caller.one_time_password:
        raise Forbidden("you logged in with a one-time password: choose your own first "
                        "(POST /api/auth/password with old_password and new_password)")
    return caller.principal


AnyCaller = Annotated[Caller, Depends(any_caller)]
Acting = Annotated[Principal, Depends(principal)]
