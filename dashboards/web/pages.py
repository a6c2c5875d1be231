"""The pages: login, mail (mailboxes, folders, search, message view, exports), usage, users, MSP overview.

Every page calls the same functions as the REST API routes (dashboards.api.*), so authorization,
audit of content reads and licence rules are exactly the API's; a page never trusts itself.
Refusals become an HTML page with the service's own sentence and the API's status code.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from mailark.control import auth as cauth
from mailark.control import identity, metering
from mailark.control.models import Organization
from mailark.control.orgs import ControlError, Forbidden
from mailark.dashboards.api import exports as api_exports
from mailark.dashboards.api import messages as api_messages
from mailark.dashboards.api import search as api_search
from mailark.dashboards.api import usage as api_usage
from mailark.dashboards.api.models import UserIn
from mailark.dashboards.deps import DB, SESSION_COOKIE, Ctx
from mailark.dashboards.web.confirmations import confirm, from_query
from mailark.dashboards.web.i18n import LANG_COOKIE, language, translator
from mailark.dashboards.web.notices import say
from mailark.dashboards.web.refusals import refusal
from mailark.dashboards.web.session import Page, PageOtp, Redirect, check_form
from mailark.sources.directory.login import check_directory_password

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["say"] = say  # the services' sentences in the reader's language: {{ say(w, _, lang) }}
templates.env.globals["shown_gb"] = __import__("mailark.control.metering", fromlist=["shown_gb"]).shown_gb
templates.env.globals["confirm"] = confirm  # what a form did, from its code: {{ confirm(done, _, lang) }}

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; frame-src 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
                    "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    context.setdefault("viewer", None)
    context.setdefault("done", from_query(request.query_params))  # what the form before did: a code, never a sentence
    response = templates.TemplateResponse(request, name, {"_": translator(lang), "lang": lang, **context},
                                          status_code=status)
    if request.query_params.get("lang") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return response


def check_origin(request: Request) -> None:
    """A form posted from another site is refused (also the login form: no logging in victims as attackers)."""
    if request.method in ("GET", "HEAD"):
        return
    origin = request.headers.get("origin")
    ours = {request.headers.get("host"), request.headers.get("x-forwarded-host")}  # behind a proxy: the public host
    if origin and origin != "null" and urlsplit(origin).netloc not in ours:
        raise Forbidden("this form was sent from another site: open mailark itself and try again")


class PageRoute(APIRoute):
    """Pages answer in HTML: redirects to log in, refusals as a page; strict security headers on all."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                check_origin(request)
                response = await inner(request)
            except Redirect as r:
                response = RedirectResponse(r.location, status_code=303)
            except ControlError as e:
                if isinstance(e, Forbidden):
                    from mailark.dashboards.errors import _audit_refusal

                    _audit_refusal(request, e)
                message, status = refusal(e)
                response = render(request, "error.html", status=status, message=message, status_code=status)
            for k, v in SECURITY_HEADERS.items():
                response.headers.setdefault(k, v)
            return response

        return handler


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _home(s: DB, p: Any) -> str:
    if p.org_id:
        return f"/o/{s.get(Organization, p.org_id).name}/mail"
    return "/orgs"


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site: never `//host` or `/\\host`, which browsers read as another site."""
    ok = target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\\" not in target
    return target if ok else None


# ---- login, logout, password ---------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, s: DB, next: str | None = None, org: str = "") -> HTMLResponse:  # noqa: A002
    """`?org=acme` adds the button of that organization's sign-in provider (control.sign_in)."""
    from mailark.control.sign_in import button

    provider = button(s, org) if org.strip() else None
    sso = {"org": org.strip().lower(), "name": provider[1]} if provider else None
    return render(request, "login.html", next=_safe_next(next) or "", sso=sso)


PENDING_TTL = 300  # seconds the second step (the TOTP code) may take


def _pending(ctx: Any, login: str, password: str) -> str:
    """The first step's login and password for the second step, encrypted under the master key (never plain in the page)."""
    import base64
    import json
    import time

    blob = cauth.encrypt_secret(ctx.runtime.master_key, json.dumps({"l": login, "p": password,
                                                                   "exp": time.time() + PENDING_TTL}).encode(), "web-login")
    return base64.urlsafe_b64encode(blob).decode()


def _unpending(ctx: Any, token: str) -> tuple[str, str] | None:
    import base64
    import binascii
    import json
    import time

    try:
        data = json.loads(cauth.decrypt_secret(ctx.runtime.master_key, base64.urlsafe_b64decode(token.encode()), "web-login"))
    except (ControlError, ValueError, binascii.Error):
        return None
    return (data["l"], data["p"]) if data.get("exp", 0) > time.time() else None


@router.post("/login")
def login_submit(request: Request, s: DB, ctx: Ctx, login: str = Form(""), password: str = Form(""),
                 totp: str = Form(""), next: str = Form(""), pending: str = Form("")) -> Response:  # noqa: A002
    """Step one: login and password; step two (when TOTP is enrolled): the code."""
    back = _safe_next(next) or ""
    if pending:
        first = _unpending(ctx, pending)
        if first is None:
            return render(request, "login.html", status=401, error="the login took too long: start again", next=back)
        login, password = first
    result = cauth.login(s, ctx.runtime.master_key, login, password, totp.strip() or None,
                         directory_check=check_directory_password, source=request.client.host if request.client else None)
    if not result.ok:
        s.commit()  # the throttling row and the audit event stay
        if result.totp_needed:
            return render(request, "login.html", status=200, step="totp", login=login, next=back,
                          pending=_pending(ctx, login.strip().lower(), password))
        if pending and not result.locked:  # a wrong code: ask for it again, not for the password
            return render(request, "login.html", status=401, step="totp", error=result.error, login=login, next=back,
                          pending=pending)
        if result.locked:  # as the API answers it: 429 with Retry-After
            locked = render(request, "login.html", status=429, error=result.error, login=login, next=back)
            locked.headers["Retry-After"] = str(max(1, int(result.retry_after or 1)))
            return locked
        return render(request, "login.html", status=401, error=result.error, login=login, next=back)
    new = cauth.start_session(s, result)
    p = result.require()
    target = "/password" if result.must_change_password else (back or _home(s, p))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, new.cookie, max_age=int(cauth.SESSION_TTL.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=ctx.secure_cookies)
    return response


@router.post("/logout")
def logout(request: Request, v: PageOtp, s: DB, ctx: Ctx, csrf: str = Form("")) -> Response:
    check_form(request, v, csrf)
    cauth.end_session(s, v.cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=ctx.secure_cookies)
    return response


@router.get("/password")
def password_page(request: Request, v: PageOtp, s: DB) -> HTMLResponse:
    forced = v.principal.kind in ("user", "operator") and cauth.must_change_password(s, v.principal)
    return render(request, "password.html", viewer=v, forced=forced)


@router.post("/password")
def password_submit(request: Request, v: PageOtp, s: DB, csrf: str = Form(""), old_password: str = Form(""),
                    new_password: str = Form("")) -> Response:
    check_form(request, v, csrf)
    try:
        cauth.change_own_password(s, v.principal, old_password, new_password, keep_session_cookie=v.cookie)
    except ControlError as e:
        s.commit()  # a failed attempt is audited
        return render(request, "password.html", status=400, viewer=v, forced=True, error=str(e))
    return RedirectResponse(_home(s, v.principal), status_code=303)


@router.get("/totp")
def totp_page(request: Request, v: PageOtp) -> HTMLResponse:
    return render(request, "totp.html", viewer=v)


@router.post("/totp")
def totp_begin(request: Request, v: PageOtp, s: DB, ctx: Ctx, csrf: str = Form("")) -> HTMLResponse:
    """A new secret, shown once with its otpauth URI; it counts only after a code confirms it."""
    check_form(request, v, csrf)
    e = cauth.begin_totp(s, ctx.runtime.master_key, v.principal)
    return render(request, "totp.html", viewer=v, secret=e.secret, uri=e.uri)


@router.post("/totp/confirm")
def totp_confirm(request: Request, v: PageOtp, s: DB, ctx: Ctx, csrf: str = Form(""), code: str = Form("")) -> Response:
    check_form(request, v, csrf)
    try:
        cauth.confirm_totp(s, ctx.runtime.master_key, v.principal, code)
    except cauth.AuthFailed as e:
        s.commit()  # the failed attempt is audited
        return render(request, "totp.html", status=401, viewer=v, error=str(e))
    return RedirectResponse(_home(s, v.principal), status_code=303)  # the session is a full one now


@router.get("/")
def home(v: Page, s: DB) -> Response:
    return RedirectResponse(_home(s, v.principal), status_code=303)


# ---- mail ------------------------------------------------------------------------------------------


def _nav(s: DB, v: Any, org: str) -> dict[str, Any]:
    """What the navigation may offer (links only; every page checks again)."""
    from mailark.control.principals import ADMIN, AUDITOR, COMPLIANCE, roles_in

    o = s.scalar(select(Organization).where(Organization.name == org))
    roles = roles_in(s, v.principal, o) if o is not None else set()
    admin = v.principal.is_operator or ADMIN in roles
    from mailark.control.support import notice_for

    grants = notice_for(s, v.principal, o) if o is not None else []
    return {"org": org, "can_usage": admin or AUDITOR in roles, "can_admin": admin, "can_audit": AUDITOR in roles,
            "can_compliance": COMPLIANCE in roles, "support_grants": grants}


DAY = __import__("re").compile(r"^\d{4}-\d{2}-\d{2}$")


def search_query(q: str, after: str = "", before: str = "", attachment: bool = False) -> str:
    """The search box plus the filter fields, in the search syntax (a date that is not YYYY-MM-DD is left out)."""
    parts = [q.strip()] if q.strip() else []
    if DAY.match(after.strip()):
        parts.append(f"after:{after.strip()}")
    if DAY.match(before.strip()):
        parts.append(f"before:{before.strip()}")
    if attachment:
        parts.append("has:attachment")
    return " ".join(parts)


@router.get("/o/{org}/mail")
def mail(request: Request, org: str, v: Page, s: DB, ctx: Ctx, mailbox: str | None = None, folder: str | None = None,
         q: str = "", page: int = 1, sort: str = "newest", after: str = "", before: str = "",
         attachment: str = "") -> HTMLResponse:
    page = max(1, min(page, 10_000))
    boxes = api_messages.archive_mailboxes(org, v.principal, s, ctx)
    listing = results = None
    full = search_query(q, after, before, bool(attachment))
    if full:
        sort = sort if sort in ("newest", "oldest", "relevance") else "newest"
        results = api_search.search_sync(org, v.principal, s, ctx, q=full[:1000], page=page, per_page=25, sort=sort,  # type: ignore[arg-type]
                                    mailbox=mailbox or None)
    elif mailbox:
        listing = api_messages.mailbox_messages(org, mailbox, v.principal, s, ctx, folder=folder or None,
                                                subfolders=False, page=page, per_page=25)

    def link(**kw: Any) -> str:
        base = {"mailbox": mailbox, "folder": folder, "q": q, "sort": sort, "page": page, "after": after,
                "before": before, "attachment": attachment}
        base.update(kw)
        return f"/o/{org}/mail?" + urlencode({k: val for k, val in base.items() if val not in (None, "")})

    return render(request, "mail.html", viewer=v, nav=_nav(s, v, org), boxes=boxes, listing=listing, results=results,
                  mailbox=mailbox, folder=folder, q=q, sort=sort, page=page, link=link, full=full, syntax=api_search.SYNTAX,
                  after=after, before=before, attachment=attachment,
                  deleted=request.query_params.get("deleted"))


@router.get("/o/{org}/m/{item_id}")
def message(request: Request, org: str, item_id: str, v: Page, s: DB, ctx: Ctx) -> HTMLResponse:
    from mailark.dashboards.web.admin import can_delete

    m = api_messages.read_message(org, item_id, v.principal, s, ctx)  # audited as content.read
    compliance = can_delete(s, v, org)
    return render(request, "message.html", viewer=v, nav=_nav(s, v, org), m=m, can_delete=compliance,
                  can_restore=v.principal.kind == "user", can_restore_elsewhere=compliance)


@router.post("/o/{org}/m/{item_id}/restore")
def restore_message(request: Request, org: str, item_id: str, v: Page, ctx: Ctx, csrf: str = Form(""),
                    into_folder: str = Form("Restored"), target: str = Form("")) -> Response:
    """Restore this message into the viewer's own mailbox (Compliance: the one they name); the API's rules."""
    from mailark.dashboards.api import restores as api_restores
    from mailark.dashboards.web.confirmations import confirmation, location

    check_form(request, v, csrf)
    body = api_restores.RestoreIn(item_ids=[item_id], into_folder=into_folder.strip() or "Restored",
                                  target=target.strip() or None)
    result = api_restores.restore(org, body, v.principal, ctx)
    if result.status == "failed":
        raise ControlError(result.error or (result.failed[0].reason if result.failed else "the restore failed"))
    done = confirmation("mail_restored", restored=result.restored, selected=result.selected, mailbox=result.target,
                        folder=result.folder)
    return RedirectResponse(location(f"/o/{org}/m/{item_id}", done), status_code=303)


@router.post("/o/{org}/exports")
def start_export(request: Request, org: str, v: Page, s: DB, ctx: Ctx, csrf: str = Form(""), q: str = Form(""),
                 item: list[str] = Form(default_factory=list), scope: str = Form("selected"), mailbox: str = Form(""),
                 folder: str = Form("")) -> Response:
    """Selected search results, the whole search, or a mailbox (folder); the export API's rules decide."""
    from fastapi import BackgroundTasks

    check_form(request, v, csrf)
    if scope == "mailbox":
        tasks = BackgroundTasks()
        body = api_exports.ExportIn(mailboxes=[mailbox], folder=folder or None)
        job = api_exports.start(org, body, v.principal, s, ctx, tasks)
        response = RedirectResponse(f"/o/{org}/exports?started={job.id}", status_code=303)
        response.background = tasks
        return response
    if not q.strip():
        raise ControlError("an export from this page needs a search: search first, then export")
    tasks = BackgroundTasks()
    if scope == "selected":
        from mailark.control import exports as cx
        from mailark.operations.searching import matching_copies

        matching = set(matching_copies(s, v.principal, org, ctx.runtime.settings, q))
        chosen = sorted(i for i in set(item) if i in matching)  # only what this search matched and you may read
        if not chosen:
            raise ControlError("select at least one message of the search to export")
        job = cx.start_export(s, v.principal, org, cx.ExportRequest(query=q, item_ids=chosen))
        s.flush()
        tasks.add_task(api_exports._launch, ctx, job.id)
    else:
        job = api_exports.start(org, api_exports.ExportIn(query=q), v.principal, s, ctx, tasks)  # type: ignore[assignment]
    response = RedirectResponse(f"/o/{org}/exports?started={job.id}", status_code=303)
    response.background = tasks
    return response


@router.post("/o/{org}/exports/{export_id}/{what}")
def export_action(request: Request, org: str, export_id: str, what: str, v: Page, s: DB, ctx: Ctx,
                  csrf: str = Form("")) -> Response:
    """Resume an export paused by the quota (or failed), or delete its file now."""
    from fastapi import BackgroundTasks

    check_form(request, v, csrf)
    tasks = BackgroundTasks()
    if what == "resume":
        api_exports.resume(org, export_id, v.principal, s, ctx, tasks)
    elif what == "delete":
        api_exports.delete(org, export_id, v.principal, s, ctx)
    else:
        raise ControlError(f"an export can be resumed or deleted, not {what!r}")
    response = RedirectResponse(f"/o/{org}/exports", status_code=303)
    response.background = tasks
    return response


@router.get("/o/{org}/exports")
def exports_page(request: Request, org: str, v: Page, s: DB) -> HTMLResponse:
    jobs = api_exports.list_(org, v.principal, s)
    return render(request, "exports.html", viewer=v, nav=_nav(s, v, org), jobs=jobs,
                  started=request.query_params.get("started"))


# ---- usage -----------------------------------------------------------------------------------------


def storage_chart(points: list[api_usage.UsagePointOut], width: int = 640, height: int = 200) -> dict[str, Any] | None:
    """A server-rendered SVG line (storage and quota over time); None with fewer than two points."""
    if len(points) < 2:
        return None
    t0, t1 = points[0].measured_at.timestamp(), points[-1].measured_at.timestamp()
    top = max(max(p.storage_quota_bytes for p in points), max(p.storage_bytes for p in points), 1)
    span = max(t1 - t0, 1)

    def xy(p: api_usage.UsagePointOut, value: int) -> str:
        x = 40 + (p.measured_at.timestamp() - t0) / span * (width - 50)
        y = height - 20 - value / top * (height - 30)
        return f"{x:.1f},{y:.1f}"

    return {"width": width, "height": height, "used": " ".join(xy(p, p.storage_bytes) for p in points),
            "quota": " ".join(xy(p, p.storage_quota_bytes) for p in points), "top_gb": round(top / 1e9, 1),
            "start": points[0].measured_at.date().isoformat(), "end": points[-1].measured_at.date().isoformat()}


def projection(points: list[api_usage.UsagePointOut]) -> datetime | None:
    """When storage reaches the quota at the growth of the history (least squares); None if not growing."""
    if len(points) < 2:
        return None
    xs = [p.measured_at.timestamp() for p in points]
    ys = [float(p.storage_bytes) for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var  # bytes per second
    last = points[-1]
    if slope <= 0:
        return None
    remaining = last.storage_quota_bytes - last.storage_bytes
    if remaining <= 0:
        return last.measured_at
    seconds = remaining / slope
    return last.measured_at + timedelta(seconds=min(seconds, 100 * 365 * 86400))


@router.get("/o/{org}/usage")
def usage(request: Request, org: str, v: Page, s: DB, ctx: Ctx) -> HTMLResponse:
    from mailark.catalog.mailbox_stats import archived_per_day, mailbox_totals
    from mailark.control.principals import visible_org

    u = metering.get_usage(s, v.principal, org)  # Admin or Auditor (or its operator)
    points = api_usage.history(org, v.principal, s, ctx, days=90)
    archive = ctx.runtime.archive_for(visible_org(s, v.principal, org))
    with ctx.lake_lock:
        by_size, by_count = mailbox_totals(archive, 5)
        per_day = archived_per_day(archive, datetime.now(UTC) - timedelta(days=30))
    last = points[-1] if points else None
    saved = (1 - last.storage_bytes / last.raw_bytes) if last and last.raw_bytes else None
    top_day = max((n for _, n in per_day), default=0)
    from mailark.operations.retention import expiring_next

    with ctx.lake_lock:
        expiring = expiring_next(ctx.runtime, v.principal, org)
    return render(request, "usage.html", viewer=v, nav=_nav(s, v, org), u=u, chart=storage_chart(points),
                  expiring=expiring, expiring_total=sum(m["copies"] for m in expiring),
                  runs_out=projection(points), now=datetime.now(UTC), by_size=by_size, by_count=by_count,
                  per_day=per_day, top_day=top_day, saved=saved, raw_bytes=last.raw_bytes if last else 0)


@router.get("/orgs")
def overview(request: Request, v: Page, s: DB) -> HTMLResponse:
    views = metering.overview(s, v.principal)  # operators only; each sees the organizations it serves
    return render(request, "overview.html", viewer=v, nav=None, views=views)


# ---- admin: users ----------------------------------------------------------------------------------


@router.get("/o/{org}/users")
def users(request: Request, org: str, v: Page, s: DB) -> HTMLResponse:
    return render(request, "users.html", viewer=v, nav=_nav(s, v, org), users=identity.list_users(s, v.principal, org))


@router.post("/o/{org}/users")
def add_user(request: Request, org: str, v: Page, s: DB, csrf: str = Form(""), login: str = Form(""),
             display_name: str = Form(""), role: list[str] = Form(default_factory=list),
             with_mailbox: bool = Form(False)) -> HTMLResponse:
    check_form(request, v, csrf)
    try:
        body = UserIn(login=login, display_name=display_name or None, with_mailbox=with_mailbox, roles=role)  # type: ignore[arg-type]
        n = identity.create_user(s, v.principal, org, body.login, display_name=body.display_name,
                                 with_mailbox=body.with_mailbox, roles=tuple(body.roles))
        s.flush()
    except (ControlError, ValueError) as e:
        s.rollback()
        message, status = refusal(e)
        return render(request, "users.html", status=status, viewer=v, nav=_nav(s, v, org),
                      users=identity.list_users(s, v.principal, org), refused=message, form_login=login)
    return render(request, "users.html", viewer=v, nav=_nav(s, v, org), users=identity.list_users(s, v.principal, org),
                  added=n.user.login, one_time_password=n.one_time_password)
