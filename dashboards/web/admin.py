"""Admin pages: mailboxes with aliases and readers, groups and roles (sources and directory profiles:
sources_pages.py), and the Compliance deletion of a message.

Each form names an action; the action calls the same function as the REST API route, so the
rules (Admin only, licence, tenancy, audit) are the services'. A refusal shows on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from mailark.control import identity
from mailark.control import mailboxes as cmb
from mailark.control.orgs import ControlError, NotFound
from mailark.control.principals import COMPLIANCE, require_admin, require_role
from mailark.dashboards.api import aliases as api_aliases
from mailark.dashboards.api import deletions as api_deletions
from mailark.dashboards.api import groups as api_groups
from mailark.dashboards.api import mailboxes as api_mailboxes
from mailark.dashboards.api import permissions as api_permissions
from mailark.dashboards.api.models import AliasIn, GroupIn, MailboxIn, RoleIn
from mailark.dashboards.deps import DB, Ctx
from mailark.dashboards.web.confirmations import Confirmation, confirmation, location
from mailark.dashboards.web.pages import PageRoute, _nav, render
from mailark.dashboards.web.refusals import refusal
from mailark.dashboards.web.session import Page, check_form

router = APIRouter(route_class=PageRoute, include_in_schema=False)

def _mailbox_add(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    body = MailboxIn(address=f.get("address", ""), kind=f.get("kind") or "shared",  # type: ignore[arg-type]
                     owner=f.get("owner") or None, display_name=f.get("display_name") or None)
    return confirmation("mailbox_added", address=api_mailboxes.add(org, body, p, s).primary_address)


def _domain_add(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    from mailark.dashboards.api import domains as api_domains
    from mailark.dashboards.api.models import DomainIn

    body = DomainIn(name=f.get("name", ""), kind=f.get("kind") or "local")  # type: ignore[arg-type]
    return confirmation("domain_added", domain=api_domains.add(org, body, p, s).name)


def _retire(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    from mailark.control.retirement import retire_mailbox

    return confirmation("mailbox_retired", address=retire_mailbox(s, p, org, f.get("mailbox", "")).address)


def _unretire(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    from mailark.control.retirement import unretire_mailbox

    return confirmation("mailbox_unretired", address=unretire_mailbox(s, p, org, f.get("mailbox", "")).address)


def _alias_add(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    cmb.add_alias(s, p, org, f.get("mailbox", ""), AliasIn(alias=f.get("alias", "")).alias)  # relinked by act()
    return confirmation("alias_added", alias=f.get("alias", "").strip(), mailbox=f.get("mailbox", "").strip())


def _permission(grant: bool):  # type: ignore[no-untyped-def]
    """The form's "who" is "user LOGIN" or "group NAME"; one handler grants, the other revokes."""

    def act(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
        who, box = f.get("who", "").strip(), f.get("mailbox", "")
        group = who.startswith("group ")
        name = who[6:].strip() if group else who.removeprefix("user ").strip()
        if group:
            (api_permissions.grant_group if grant else api_permissions.revoke_group)(org, box, name, p, s)
        else:
            (api_permissions.grant_user if grant else api_permissions.revoke_user)(org, box, name, p, s)
        code = f"{'group' if group else 'user'}_may_{'' if grant else 'not_'}read"
        return confirmation(code, mailbox=box.strip(), **{"group" if group else "login": name})

    return act


_grant, _revoke = _permission(True), _permission(False)


def _group_add(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    return confirmation("group_added", group=api_groups.add(org, GroupIn(name=f.get("name", "")), p, s).name)


def _member_add(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    api_groups.add_member(org, f.get("group", ""), f.get("login", ""), p, s)
    return confirmation("member_added", login=f.get("login", "").strip(), group=f.get("group", "").strip())


def _role_assign(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    target = f.get("target", "").strip()
    group, user = (target[6:].strip(), None) if target.startswith("group ") else (None, target.removeprefix("user ").strip())
    identity.assign_role(s, p, org, RoleIn(role=f.get("role", ""), group=group, user=user).role,  # type: ignore[arg-type]
                         group=group, user=user)
    return _role_done("assigned", group, user, f.get("role", ""))


def _role_done(what: str, group: str | None, user: str | None, role: str) -> Confirmation:
    if group is not None:
        return confirmation(f"group_role_{what}", group=group, role=role.strip())
    return confirmation(f"user_role_{what}", login=user or "", role=role.strip())


def _user_active(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    active = f.get("kind") == "enable"
    identity.set_user_active(s, p, org, f.get("login", ""), active)
    return confirmation("user_enabled" if active else "user_disabled", login=f.get("login", "").strip())


def _user_delete(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    identity.delete_user(s, p, org, f.get("login", ""))
    return confirmation("user_deleted", login=f.get("login", "").strip())


def _user_totp_reset(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    from mailark.control import auth as cauth

    cauth.reset_totp(s, p, org, f.get("login", ""))
    return confirmation("user_totp_reset", login=f.get("login", "").strip())


def _user_password_reset(org: str, p: Any, s: Session, f: dict[str, str]) -> dict[str, Any]:
    """Shown on the page itself, never put into a redirect URL (URLs end up in logs)."""
    from mailark.control import auth as cauth

    login = f.get("login", "").strip().lower()
    password = cauth.reset_password(s, p, org, login)
    return {"reset": confirmation("user_password_reset", login=login), "one_time_password": password}


def _member_remove(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    api_groups.remove_member(org, f.get("group", ""), f.get("login", ""), p, s)
    return confirmation("member_removed", login=f.get("login", "").strip(), group=f.get("group", "").strip())


def _group_delete(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    api_groups.delete(org, f.get("group", ""), p, s)
    return confirmation("group_deleted", group=f.get("group", "").strip())


def _role_revoke(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    target = f.get("target", "").strip()
    group, user = (target[6:].strip(), None) if target.startswith("group ") else (None, target.removeprefix("user ").strip())
    identity.revoke_role(s, p, org, RoleIn(role=f.get("role", ""), group=group, user=user).role,  # type: ignore[arg-type]
                         group=group, user=user)
    return _role_done("revoked", group, user, f.get("role", ""))


def _alias_remove(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    api_aliases.remove(org, f.get("alias", ""), p, s)
    return confirmation("alias_removed", alias=f.get("alias", "").strip())


def _alias_primary(org: str, p: Any, s: Session, f: dict[str, str]) -> Confirmation:
    """The alias becomes the primary address; the old primary stays as an alias."""
    box = api_aliases.make_primary(org, f.get("alias", ""), p, s)
    return confirmation("alias_primary", address=box.primary_address, aliases=", ".join(box.aliases))


ACTIONS: dict[str, tuple[Callable[..., Any], str]] = {
    "member-remove": (_member_remove, "groups"), "group-delete": (_group_delete, "groups"),
    "role-revoke": (_role_revoke, "groups"), "alias-remove": (_alias_remove, "mailboxes"),
    "alias-primary": (_alias_primary, "mailboxes"),
    "user-active": (_user_active, "users"), "user-delete": (_user_delete, "users"),
    "user-totp-reset": (_user_totp_reset, "users"), "user-password-reset": (_user_password_reset, "users"),
    "mailbox-add": (_mailbox_add, "mailboxes"), "domain-add": (_domain_add, "mailboxes"), "alias-add": (_alias_add, "mailboxes"),
    "grant": (_grant, "mailboxes"), "revoke": (_revoke, "mailboxes"),
    "mailbox-retire": (_retire, "mailboxes"), "mailbox-unretire": (_unretire, "mailboxes"),
    "group-add": (_group_add, "groups"), "member-add": (_member_add, "groups"), "role-assign": (_role_assign, "groups"),
}


def _mailboxes_page(request: Request, org: str, v: Any, s: Session, **kw: Any) -> HTMLResponse:
    from mailark.dashboards.deps import context

    sort = request.query_params.get("sort", "address")
    boxes = api_mailboxes.list_(org, v.principal, s, context(request), sort if sort in ("size", "count") else "address")
    from mailark.dashboards.api import domains as api_domains
    from mailark.dashboards.api import licence as api_licence

    readers = {b.primary_address: cmb.list_permissions(s, v.principal, org, b.primary_address) for b in boxes}
    return render(request, "mailboxes.html", viewer=v, nav=_nav(s, v, org), boxes=boxes, readers=readers,
                  domains=api_domains.list_(org, v.principal, s), licence=api_licence.get(org, v.principal, s), **kw)


def _groups_page(request: Request, org: str, v: Any, s: Session, **kw: Any) -> HTMLResponse:
    return render(request, "groups.html", viewer=v, nav=_nav(s, v, org), groups=api_groups.list_(org, v.principal, s),
                  users=identity.list_users(s, v.principal, org), **kw)


def _users_page(request: Request, org: str, v: Any, s: Session, **kw: Any) -> HTMLResponse:
    return render(request, "users.html", viewer=v, nav=_nav(s, v, org), users=identity.list_users(s, v.principal, org), **kw)


PAGES = {"mailboxes": _mailboxes_page, "groups": _groups_page, "users": _users_page}


@router.get("/o/{org}/mailboxes")
def mailboxes(request: Request, org: str, v: Page, s: DB) -> HTMLResponse:
    require_admin(s, v.principal, org, "managing mailboxes")
    return _mailboxes_page(request, org, v, s)


@router.get("/o/{org}/groups")
def groups(request: Request, org: str, v: Page, s: DB) -> HTMLResponse:
    require_admin(s, v.principal, org, "managing groups and roles")
    return _groups_page(request, org, v, s)


FIELDS = ("address", "kind", "owner", "display_name", "mailbox", "alias", "who", "name", "group", "login", "role", "target")


@router.post("/o/{org}/admin/{action}")
def act(request: Request, org: str, action: str, v: Page, s: DB, ctx: Ctx, tasks: BackgroundTasks,
        csrf: str = Form(""), address: str = Form(""),
        kind: str = Form(""), owner: str = Form(""), display_name: str = Form(""), mailbox: str = Form(""),
        alias: str = Form(""), who: str = Form(""), name: str = Form(""), group: str = Form(""), login: str = Form(""),
        role: str = Form(""), target: str = Form("")) -> Response:
    """One admin form; success redirects back with what was done (a confirmation's code and parameters, never a
    sentence: dashboards.web.confirmations), a refusal shows on the same page."""
    check_form(request, v, csrf)
    values = locals()
    form = {k: values[k] for k in FIELDS}
    if action not in ACTIONS:
        raise NotFound(f"no such admin action {action!r}")
    fn, page = ACTIONS[action]
    try:
        done: Confirmation | dict[str, Any] = fn(org, v.principal, s, form)
        s.flush()
        if isinstance(done, dict):
            return PAGES[page](request, org, v, s, **done)
        if action == "alias-add":  # mail already archived for the address follows it (after the commit)
            tasks.add_task(api_aliases.relink_later, ctx, org, form["alias"].strip())
    except (ControlError, ValueError) as e:
        s.rollback()
        if isinstance(e, ControlError) and isinstance(e, NotFound) and "organization" in str(e):
            raise
        return PAGES[page](request, org, v, s, refused=refusal(e)[0])
    return RedirectResponse(location(f"/o/{org}/{page}", done), status_code=303)


# ---- compliance: delete a message --------------------------------------------------------------


@router.post("/o/{org}/m/{item_id}/delete")
def delete_message(request: Request, org: str, item_id: str, v: Page, s: DB, ctx: Ctx, csrf: str = Form(""),
                   reason: str = Form("")) -> Response:
    check_form(request, v, csrf)
    require_role(s, v.principal, org, (COMPLIANCE,), "deleting archived mail")
    if not reason.strip():
        raise ControlError("give a reason for the deletion: it goes into the audit log")
    result = api_deletions.delete(org, api_deletions.DeletionIn(reason=reason, item_ids=[item_id]), v.principal, s, ctx)
    return RedirectResponse(f"/o/{org}/mail?deleted={result.copies}", status_code=303)


def can_delete(s: Session, v: Any, org: str) -> bool:
    from mailark.control.principals import roles_in
    from mailark.control.reading import readable

    o, _ = readable(s, v.principal, org)
    return COMPLIANCE in roles_in(s, v.principal, o)

