"""The Sources pages (Admin): mail sources of every kind and directory profiles, added, edited,
enabled or disabled, removed (after a confirmation), tested, and directories synced or planned.

Every form calls the REST API's own route function (dashboards.api.sources / .directory), so
authorization, validation, encryption of credentials and the audit log are exactly the API's. A
refusal shows on the page with the service's sentence, the API's status code and the values the
admin typed, except secrets: a password is never put back into a page, a URL or a log.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from mailark.control.orgs import ControlError, Forbidden, NotFound
from mailark.control.principals import require_admin
from mailark.dashboards.api import directory as api_directory
from mailark.dashboards.api import sources as api_sources
from mailark.dashboards.deps import DB, Ctx
from mailark.dashboards.web.confirmations import confirmation, location
from mailark.dashboards.web.pages import PageRoute, _nav, render
from mailark.dashboards.web.refusals import refusal
from mailark.dashboards.web.session import Page, Viewer, check_form
from mailark.control.directory_presets import LDAP_PRESETS

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# Form fields that carry a credential: never rendered back, never in a redirect.
SECRET_FIELDS = frozenset({"password", "client_secret", "bind_password", "csrf"})
# The add forms: which form (its <details> opens again after a refusal) makes which source kind.
SOURCE_FORMS = {"imap-account": "imap", "imap-server": "imap", "graph": "graph", "smtp-import": "smtp-import",
                "journal": "journal"}
DIRECTORY_FORMS = ("ldap", "m365")
SPLIT = re.compile(r"[\s,;]+")


async def _form_fields(request: Request) -> dict[str, str]:
    """The posted form as text fields (a checkbox that is ticked arrives as its value, else not at all)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Fields = Annotated[dict[str, str], Depends(_form_fields)]


# ---- reading the forms ----------------------------------------------------------------------------


def _text(f: dict[str, str], key: str) -> str:
    return f.get(key, "").strip()


def _list(f: dict[str, str], key: str, *, lines: bool = False) -> list[str]:
    """A list typed one per line (folder patterns may hold spaces), or separated by spaces or commas."""
    raw = f.get(key, "")
    parts = raw.splitlines() if lines else SPLIT.split(raw)
    return [p.strip() for p in parts if p.strip()]


def _number(f: dict[str, str], key: str, what: str) -> int | None:
    value = _text(f, key)
    if not value:
        return None
    if not value.isdigit():
        raise ControlError(f"{what} is a whole number, not {value!r}: correct it and send the form again")
    return int(value)


def _checked(f: dict[str, str], key: str) -> bool:
    return f.get(key, "") in ("true", "on", "1", "yes")


def _role_map(f: dict[str, str]) -> dict[str, str]:
    """`group name = Role`, one per line."""
    out = {}
    for line in f.get("role_map", "").splitlines():
        if not line.strip():
            continue
        group, eq, role = line.rpartition("=")
        if not eq or not group.strip() or not role.strip():
            raise ControlError(f"role mapping {line.strip()!r}: write one group per line as `group name = Role`")
        out[group.strip()] = role.strip()
    return out


def _imap_config(f: dict[str, str], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The IMAP settings of the form over the stored ones (settings the form does not show are kept)."""
    cfg = dict(base or {})
    mode = cfg.get("mode") or f.get("mode") or "account"
    for key in ("host", "username", "ca_pem"):  # a ca_file stored before ca_pem stays as it is
        if _text(f, key):
            cfg[key] = _text(f, key)
        else:
            cfg.pop(key, None)
    port = _number(f, "port", "the port")
    if port is None:
        cfg.pop("port", None)
    else:
        cfg["port"] = port
    cfg["security"] = _text(f, "security") or "ssl"
    if _checked(f, "verify_cert"):
        cfg.pop("verify_cert", None)
    else:
        cfg["verify_cert"] = False
    cfg["include"] = _list(f, "include", lines=True) or ["*"]
    cfg["exclude"] = _list(f, "exclude", lines=True)
    cfg["mode"] = mode
    if mode == "server":
        cfg.pop("mailbox", None)
        cfg["accounts"] = _list(f, "accounts")
        cfg["all_user_mailboxes"] = _checked(f, "all_user_mailboxes")
        cfg["master_separator"] = _text(f, "master_separator") or "*"
    else:
        for key in ("accounts", "all_user_mailboxes", "master_separator"):
            cfg.pop(key, None)
        cfg["mailbox"] = _text(f, "mailbox")
    return cfg


def _graph_config(f: dict[str, str], base: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg = dict(base or {})
    for key in ("tenant_id", "client_id", "authority_url", "graph_url"):
        if _text(f, key):
            cfg[key] = _text(f, key)
        else:
            cfg.pop(key, None)  # the tenant and app ids are then refused by the validation; URLs: Microsoft's
    return cfg


def _policies(f: dict[str, str]) -> dict[str, Any]:
    return {k: _text(f, k) or None for k in ("deleted_users", "disabled_users", "deleted_groups", "max_removals",
                                              "max_removal_percent")} | {"role_map": _role_map(f)}


# ---- refusals ---------------------------------------------------------------------------------------


def _public(f: dict[str, str]) -> dict[str, str]:
    """What the admin typed, without the secrets, to fill the form again."""
    return {k: v for k, v in f.items() if k not in SECRET_FIELDS}


def _admin(request: Request, v: Viewer, s: DB, org: str, token: str | None, doing: str) -> None:
    """Form token first (a forged form is refused), then the organization and the Admin role."""
    check_form(request, v, token)
    require_admin(s, v.principal, org, doing)


def _done(org: str, code: str, name: str, anchor: str = "") -> RedirectResponse:
    """Back to the list, saying what was done (a code and the name: never a sentence in the URL)."""
    return RedirectResponse(location(f"/o/{org}/sources", confirmation(code, name=name), anchor), status_code=303)


def _sources_page(request: Request, org: str, v: Viewer, s: DB, status: int = 200, **kw: Any) -> HTMLResponse:
    kw.setdefault("form", {})
    kw.setdefault("open_form", request.query_params.get("kind"))
    return render(request, "sources.html", status=status, viewer=v, nav=_nav(s, v, org),
                  sources=api_sources.list_(org, v.principal, s), profiles=api_directory.list_(org, v.principal, s),
                  presets=LDAP_PRESETS, **kw)


def _refused(request: Request, org: str, v: Viewer, s: DB, e: Exception, page: str = "sources", **kw: Any
             ) -> HTMLResponse:
    s.rollback()
    if isinstance(e, Forbidden):
        raise e
    message, status = refusal(e)
    if page == "sources":
        return _sources_page(request, org, v, s, status=status, refused=message, **kw)
    return _edit_page(request, org, v, s, page, status=status, refused=message, **kw)


# ---- mail sources -----------------------------------------------------------------------------------


@router.get("/o/{org}/sources")
def sources(request: Request, org: str, v: Page, s: DB) -> HTMLResponse:
    return _sources_page(request, org, v, s)


def _networks(f: dict[str, str]) -> list[str]:
    return [n for n in re.split(r"[\s,]+", _text(f, "allow_networks") or "") if n]


def _source_in(f: dict[str, str]) -> api_sources.SourceIn:
    which = f.get("form") or "journal"
    if which not in SOURCE_FORMS:
        raise ControlError(f"unknown kind of source {which!r}: use one of the forms on this page")
    kind, name = SOURCE_FORMS[which], _text(f, "name")
    interval = _number(f, "interval_seconds", "the interval") or 900
    if kind == "imap":
        if not f.get("password"):
            raise ControlError("an IMAP source needs the password of its login (for a whole server: the master user's)")
        secret = {"password": f["password"]}
        return api_sources.SourceIn(kind=kind, name=name, config=_imap_config(f | {"mode": which[5:]}), secret=secret,
                                    interval_seconds=interval, domain=_text(f, "domain") or None)
    if kind == "graph":
        secret = {"client_secret": f["client_secret"]} if f.get("client_secret") else None
        if secret is None:
            raise ControlError("a Microsoft 365 source needs the client secret of its app registration")
        return api_sources.SourceIn(kind=kind, name=name, config=_graph_config(f), secret=secret,
                                    interval_seconds=interval, domain=_text(f, "domain") or None)
    config: dict[str, Any] = {"address": _text(f, "address") or None}
    if kind == "journal":
        config["auth_required"] = _checked(f, "auth_required")
        config["allow_networks"] = _networks(f)
    else:
        config |= {"mailbox": _text(f, "mailbox"), "folder": _text(f, "folder") or None}
    return api_sources.SourceIn(kind=kind, name=name, config=config)


@router.post("/o/{org}/sources")
def add_source(request: Request, org: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> HTMLResponse:
    """Any kind; a journal or import address shows its generated SMTP password here, once."""
    _admin(request, v, s, org, f.get("csrf"), "adding a mail source")
    try:
        out = api_sources.add(org, _source_in(f), v.principal, s, ctx)
        s.flush()
    except (ControlError, ValueError) as e:
        return _refused(request, org, v, s, e, form=_public(f), open_form=f.get("form") or "journal")
    return _sources_page(request, org, v, s, added=out.name, address=out.config.get("address"),
                         generated_password=out.generated_password)


@router.get("/o/{org}/sources/{name}")
def source_page(request: Request, org: str, name: str, v: Page, s: DB) -> HTMLResponse:
    return _edit_page(request, org, v, s, "source", name=name)


def _edit_page(request: Request, org: str, v: Viewer, s: DB, what: str, *, name: str, status: int = 200,
               **kw: Any) -> HTMLResponse:
    if what == "source":
        item = api_sources.get(org, name, v.principal, s)
        return render(request, "source_edit.html", status=status, viewer=v, nav=_nav(s, v, org), x=item,
                      form=kw.pop("form", None) or _source_form(item), **kw)
    item = api_directory.get(org, name, v.principal, s)  # type: ignore[assignment]
    return render(request, "directory_edit.html", status=status, viewer=v, nav=_nav(s, v, org), x=item,
                  form=kw.pop("form", None) or _directory_form(item), presets=LDAP_PRESETS, **kw)


def _source_form(x: api_sources.SourceOut) -> dict[str, str]:
    """The stored settings as the edit form's fields."""
    c = x.config
    out = {k: str(c[k]) for k in ("host", "port", "security", "ca_pem", "username", "mailbox", "master_separator",
                                  "tenant_id", "client_id", "authority_url", "graph_url", "folder", "address")
           if c.get(k) is not None}
    out["include"] = "\n".join(c.get("include") or ["*"]) if x.kind == "imap" else ""
    out["exclude"] = "\n".join(c.get("exclude") or [])
    out["accounts"] = "\n".join(c.get("accounts") or [])
    out["allow_networks"] = " ".join(c.get("allow_networks") or [])
    for key, default in (("verify_cert", True), ("all_user_mailboxes", False), ("auth_required", False)):
        if c.get(key, default):
            out[key] = "true"
    out["interval_seconds"] = str(x.interval_seconds)
    return out


@router.post("/o/{org}/sources/{name}/edit")
def edit_source(request: Request, org: str, name: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> Response:
    """Non-secret settings; a secret field left empty keeps the stored credential."""
    _admin(request, v, s, org, f.get("csrf"), "changing a mail source")
    try:
        current = api_sources.get(org, name, v.principal, s)
        kind, interval, secret = current.kind, _number(f, "interval_seconds", "the interval"), None
        if kind == "imap":
            config = _imap_config(f, current.config)
            if f.get("password"):
                secret = {"token" if config.get("auth") == "xoauth2" else "password": f["password"]}
        elif kind == "graph":
            config = _graph_config(f, current.config)
            if f.get("client_secret"):
                secret = {"client_secret": f["client_secret"]}
        else:  # journal, smtp-import: the address and mailbox stay (remove and add again to change them)
            config, interval = dict(current.config), None
            if kind == "journal":
                config["auth_required"] = _checked(f, "auth_required")
                config["allow_networks"] = _networks(f)
                if config["allow_networks"] or config["auth_required"]:
                    config["allow_any_sender"] = False  # named senders (or AUTH) close an open address
            else:
                config["folder"] = _text(f, "folder") or config.get("folder")
            if f.get("password"):
                secret = {"password": f["password"]}
        api_sources.change(org, name, api_sources.SourcePatch(config=config, secret=secret, interval_seconds=interval),
                           v.principal, s, ctx)
        s.flush()
    except (ControlError, ValueError) as e:
        if isinstance(e, NotFound) and not _source_exists(org, name, v, s):
            raise
        return _refused(request, org, v, s, e, page="source", name=name, form=_public(f))
    return _done(org, "source_saved", name)


def _source_exists(org: str, name: str, v: Viewer, s: DB) -> bool:
    s.rollback()
    return any(x.name == name for x in api_sources.list_(org, v.principal, s))


@router.post("/o/{org}/sources/{name}/enabled")
def enable_source(request: Request, org: str, name: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> Response:
    _admin(request, v, s, org, f.get("csrf"), "changing a mail source")
    enabled = _checked(f, "enabled")
    api_sources.change(org, name, api_sources.SourcePatch(enabled=enabled), v.principal, s, ctx)
    return _done(org, "source_enabled" if enabled else "source_disabled", name)


@router.post("/o/{org}/sources/{name}/remove")
def remove_source(request: Request, org: str, name: str, v: Page, s: DB, f: Fields) -> Response:
    """Without `confirm`: the question; with it: removed (what it archived stays archived)."""
    _admin(request, v, s, org, f.get("csrf"), "removing a mail source")
    x = api_sources.get(org, name, v.principal, s)
    if f.get("confirm") != "yes":
        return render(request, "remove_confirm.html", viewer=v, nav=_nav(s, v, org), what="source", x=x,
                      action=f"/o/{org}/sources/{quote(name, safe='')}/remove")
    api_sources.remove(org, name, v.principal, s)
    return _done(org, "source_removed", name)


@router.post("/o/{org}/sources/{name}/test")
def test_source(request: Request, org: str, name: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> HTMLResponse:
    _admin(request, v, s, org, f.get("csrf"), "testing a mail source")
    probe = api_sources.test(org, name, v.principal, s, ctx)
    return _sources_page(request, org, v, s, probe=(name, probe.ok, probe.message))


# ---- directory profiles -----------------------------------------------------------------------------


@router.post("/o/{org}/directory")
def add_directory(request: Request, org: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> Response:
    _admin(request, v, s, org, f.get("csrf"), "adding a directory profile")
    which = f.get("form") or ""
    try:
        common = {"name": _text(f, "name"), "domains": _list(f, "domains"), **_policies(f)}
        interval = _number(f, "interval_seconds", "the interval")
        if interval is not None:
            common["interval_seconds"] = interval
        if which == "ldap":
            body = api_directory.LdapProfileIn(
                **common, preset=_text(f, "preset") or "ad", url=_text(f, "url"), security=_text(f, "security") or "starttls",
                ca_pem=_text(f, "ca_pem") or None, bind_dn=_text(f, "bind_dn"), bind_password=f.get("bind_password", ""),
                base_dn=_text(f, "base_dn"), user_filter=_text(f, "user_filter") or None,
                group_filter=_text(f, "group_filter") or None, login_domain=_text(f, "login_domain") or None,
                directory_login=_checked(f, "directory_login"))
            api_directory.add_ldap(org, body, v.principal, s, ctx)
        elif which == "m365":
            m365 = api_directory.M365ProfileIn(
                **common, tenant_id=_text(f, "tenant_id"), client_id=_text(f, "client_id"),
                client_secret=f.get("client_secret", ""), include_shared_mailboxes=_checked(f, "include_shared_mailboxes"),
                graph_url=_text(f, "graph_url") or None, authority_url=_text(f, "authority_url") or None)
            api_directory.add_m365(org, m365, v.principal, s, ctx)
        else:
            raise ControlError(f"unknown kind of directory {which!r}: use the LDAP or the Microsoft 365 form")
        s.flush()
    except (ControlError, ValueError) as e:
        return _refused(request, org, v, s, e, form=_public(f), open_form=which)
    return _done(org, "directory_added", _text(f, "name"), "#directory-list")


@router.get("/o/{org}/directory/{name}")
def directory_page(request: Request, org: str, name: str, v: Page, s: DB) -> HTMLResponse:
    return _edit_page(request, org, v, s, "directory", name=name)


def _directory_form(x: api_directory.DirectoryOut) -> dict[str, str]:
    c = x.config
    out = {k: str(c[k]) for k in ("url", "security", "ca_pem", "bind_dn", "base_dn", "user_filter", "group_filter",
                                  "login_domain", "tenant_id", "client_id", "graph_url", "authority_url",
                                  "deleted_users", "disabled_users", "deleted_groups", "max_removals",
                                  "max_removal_percent") if c.get(k) is not None}
    out["domains"] = " ".join(x.domains)
    out["role_map"] = "\n".join(f"{g} = {r}" for g, r in (c.get("role_map") or {}).items())
    for key in ("directory_login", "include_shared_mailboxes"):
        if c.get(key):
            out[key] = "true"
    out["interval_seconds"] = str(x.interval_seconds)
    return out


@router.post("/o/{org}/directory/{name}/edit")
def edit_directory(request: Request, org: str, name: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> Response:
    _admin(request, v, s, org, f.get("csrf"), "changing a directory profile")
    try:
        current = api_directory.get(org, name, v.principal, s)
        preset = LDAP_PRESETS.get(str(current.config.get("preset")), {})
        change: dict[str, Any] = {"domains": _list(f, "domains"), "interval_seconds": _number(f, "interval_seconds", "the interval"),
                                  **_policies(f)}
        if current.kind == "ldap":
            change |= {k: _text(f, k) or None for k in ("url", "security", "bind_dn", "base_dn")}
            # an emptied filter is the preset's again; an emptied CA file or login domain is none
            change |= {k: _text(f, k) or preset.get(k) for k in ("user_filter", "group_filter")}
            change |= {k: _text(f, k) for k in ("ca_pem", "login_domain")}
            change |= {"directory_login": _checked(f, "directory_login"), "bind_password": f.get("bind_password") or None}
        else:
            change |= {k: _text(f, k) or None for k in ("tenant_id", "client_id")}
            change |= {k: _text(f, k) or None for k in ("graph_url", "authority_url")}
            change |= {"include_shared_mailboxes": _checked(f, "include_shared_mailboxes"),
                       "client_secret": f.get("client_secret") or None}
        api_directory.change(org, name, api_directory.ProfileChangeIn(**change), v.principal, s, ctx)
        s.flush()
    except (ControlError, ValueError) as e:
        if isinstance(e, NotFound) and not any(x.name == name for x in _relisted(org, v, s)):
            raise
        return _refused(request, org, v, s, e, page="directory", name=name, form=_public(f))
    return _done(org, "directory_saved", name, "#directory-list")


def _relisted(org: str, v: Viewer, s: DB) -> list[api_directory.DirectoryOut]:
    s.rollback()
    return api_directory.list_(org, v.principal, s)


@router.post("/o/{org}/directory/{name}/enabled")
def enable_directory(request: Request, org: str, name: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> Response:
    _admin(request, v, s, org, f.get("csrf"), "changing a directory profile")
    enabled = _checked(f, "enabled")
    api_directory.change(org, name, api_directory.ProfileChangeIn(enabled=enabled), v.principal, s, ctx)
    return _done(org, "directory_enabled" if enabled else "directory_disabled", name, "#directory-list")


@router.post("/o/{org}/directory/{name}/remove")
def remove_directory(request: Request, org: str, name: str, v: Page, s: DB, f: Fields) -> Response:
    _admin(request, v, s, org, f.get("csrf"), "removing a directory profile")
    x = api_directory.get(org, name, v.principal, s)
    if f.get("confirm") != "yes":
        return render(request, "remove_confirm.html", viewer=v, nav=_nav(s, v, org), what="directory", x=x,
                      action=f"/o/{org}/directory/{quote(name, safe='')}/remove")
    api_directory.remove(org, name, v.principal, s)
    return _done(org, "directory_removed", name, "#directory-list")


@router.post("/o/{org}/directory/{name}/test")
def test_directory(request: Request, org: str, name: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> HTMLResponse:
    _admin(request, v, s, org, f.get("csrf"), "testing a directory profile")
    probe = api_directory.test(org, name, v.principal, ctx)
    message = (f"{probe.users} users, {probe.groups} groups" if probe.ok else (probe.error or "failed"))
    if probe.problems:
        message += "; " + "; ".join(probe.problems[:5])
    return _sources_page(request, org, v, s, probe=(name, probe.ok, message))


@router.post("/o/{org}/directory/{name}/sync")
def sync_directory(request: Request, org: str, name: str, v: Page, s: DB, ctx: Ctx, f: Fields) -> HTMLResponse:
    """Sync now, or with dry_run the plan: what would change and what would be refused."""
    _admin(request, v, s, org, f.get("csrf"), "syncing a directory")
    report = api_directory.sync(org, name, v.principal, ctx, dry_run=_checked(f, "dry_run"),
                                allow_mass_removal=_checked(f, "allow_mass_removal"))
    return _sources_page(request, org, v, s, report=report)
