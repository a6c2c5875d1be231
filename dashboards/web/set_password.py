"""The set-password page of first-login invitations: `/set-password?token=...` (control.invitations).

No session: the token in the link is the credential, valid once and for 72 hours. The page shows the
login it is for and asks for the new password twice; the password policy applies. Afterwards the user
logs in on the login page as usual. Kept apart from the login page (its own route module and template).
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from mailark.control import invitations
from mailark.control.orgs import ControlError
from mailark.dashboards.deps import DB
from mailark.dashboards.web.pages import render

router = APIRouter(include_in_schema=False)


@router.get("/set-password")
def set_password_page(request: Request, s: DB, token: str = "") -> HTMLResponse:
    try:
        login = invitations.login_for(s, token)
    except ControlError as e:
        return render(request, "set_password.html", status=400, error=str(e), token="")
    return render(request, "set_password.html", login=login, token=token)


@router.post("/set-password")
def set_password_submit(request: Request, s: DB, token: str = Form(""), password: str = Form(""),
                        repeat: str = Form("")) -> Response:
    try:
        login = invitations.login_for(s, token)
    except ControlError as e:
        return render(request, "set_password.html", status=400, error=str(e), token="")
    if password != repeat:
        return render(request, "set_password.html", status=400, login=login, token=token,
                      error="the two passwords differ: type the same password twice")
    try:
        invitations.set_password(s, token, password)
    except ControlError as e:
        s.rollback()
        return render(request, "set_password.html", status=400, login=login, token=token, error=str(e))
    return RedirectResponse("/login?password_set=1", status_code=303)
