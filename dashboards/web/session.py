"""Who is looking at a page: the same `mailark_session` cookie as the API, checked on every request.

Anonymous or expired: a redirect to /login. A one-time password: a redirect to /password.
Forms carry a token derived from the session cookie (a cross-site page cannot read the cookie, so
cannot forge it); the cookie itself is SameSite=Strict as well.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request

from mailark.control.auth import resume_session
from mailark.control.orgs import Forbidden
from mailark.control.principals import Principal
from mailark.dashboards.deps import SESSION_COOKIE, Ctx


class Redirect(Exception):
    """Raised by the page dependencies; the app turns it into a 303 to `location`."""

    def __init__(self, location: str) -> None:
        self.location = location


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    cookie: str

    @property
    def csrf(self) -> str:
        return form_token(self.cookie)


def form_token(cookie: str) -> str:
    return hmac.new(cookie.encode(), b"mailark-form", hashlib.sha256).hexdigest()[:32]


def check_form(request: Request, viewer: Viewer, token: str | None) -> None:
    if not token or not hmac.compare_digest(token, viewer.csrf):
        raise Forbidden("this form has expired or did not come from mailark: reload the page and try again")


def _viewer(request: Request, ctx: Ctx, allow_otp: bool) -> Viewer:
    """`allow_otp`: the pages a one-time password or a pending TOTP enrolment may still use."""
    cookie = request.cookies.get(SESSION_COOKIE)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not cookie:
        raise Redirect("/login?next=" + quote(target, safe=""))
    with ctx.runtime.control() as s:
        info = resume_session(s, cookie)
        if info is None:
            raise Redirect("/login?next=" + quote(target, safe=""))
        if info.mfa_pending and not allow_otp:
            raise Redirect("/totp")  # the organization requires two-factor login: enrol first
        if not allow_otp and info.must_change_password:  # read with the session (a second query before)
            raise Redirect("/password")
    request.state.principal = info.principal  # refusals are audited under it
    return Viewer(info.principal, cookie)


def viewer(request: Request, ctx: Ctx) -> Viewer:
    return _viewer(request, ctx, allow_otp=False)


def viewer_with_otp(request: Request, ctx: Ctx) -> Viewer:
    return _viewer(request, ctx, allow_otp=True)


Page = Annotated[Viewer, Depends(viewer)]
PageOtp = Annotated[Viewer, Depends(viewer_with_otp)]
