"""Directory-sync profiles: which directory an organization's people come from, and the rules to apply.

A profile is an LDAP/Active Directory server (`ldap`) or a Microsoft 365 tenant (`m365`). It claims
the mail domains whose users it manages: a domain is synced from at most one directory
(`Domain.directory_profile_id`), and a claimed domain cannot be removed while the profile exists.
Its `config` (JSON, no secrets) holds the connection, the attribute mapping (a preset with
overrides, see mailark.control.directory_presets) and the policies:

- `deleted_users` / `disabled_users`: "remove" (the user is deleted: the licence is freed; the
  archive mailbox stays) or "keep" (the user stays, disabled: no login, mailbox readable as before);
- `deleted_groups`: "remove" or "keep";
- `role_map`: directory group name -> role (e.g. {"archive-compliance": "Compliance"});
- `directory_login`: synced users log in with their directory password (LDAP bind as their DN);
- `max_removals` / `max_removal_percent`: the accidental-delete guard (default 10 users / 10 %): a
  sync that would remove or disable more synced users stops before changing anything
  (control.directory.mass_removal).

The secret (bind password, or the app's client secret) is encrypted under the master key, bound to
the profile id, and never returned or logged. Admins manage profiles; every change is audited.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.auth import decrypt_secret, encrypt_secret
from mailark.control.identity import add_domain, validate_domain
from mailark.control.models import DirectoryProfile, Domain, Group, Mailbox, MailboxAddress, Organization, User
from mailark.control.orgs import Conflict, ControlError, NotFound, new_id
from mailark.control.principals import ROLES, Principal, require_admin
from mailark.control.directory_presets import LDAP_PRESETS, SECURITY, ldap_config
from mailark.control.trust import checked_trust
from mailark.storage.keys import MasterKey

KINDS = ("ldap", "m365")
POLICIES = ("remove", "keep")
MIN_INTERVAL = 300
DEFAULT_INTERVAL = 3600
POLICY_DEFAULTS: dict[str, Any] = {
    "deleted_users": "remove", "disabled_users": "keep", "deleted_groups": "remove", "role_map": {},
    "directory_login": True, "max_removals": 10, "max_removal_percent": 10,
}
# What sources.graph reads (GraphConfig): https endpoints for national clouds or a test server.
M365_KEYS = ("tenant_id", "client_id", "authority_url", "graph_url", "scope", "include_shared_mailboxes")


@dataclass(frozen=True)
class DirectoryView:
    """A profile as admins see it: never its secret."""

    id: str
    org: str
    kind: str
    name: str
    config: dict[str, Any]
    domains: list[str]
    has_secret: bool
    interval_seconds: int
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_report: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utc(dt: datetime | None) -> datetime | None:
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def view(session: Session, p: DirectoryProfile) -> DirectoryView:
    org = session.get(Organization, p.org_id)
    domains = sorted(session.scalars(select(Domain.name).where(Domain.directory_profile_id == p.id)))
    return DirectoryView(p.id, org.name if org else "", p.kind, p.name, json.loads(p.config), domains,
                         p.secret is not None, p.interval_seconds, p.enabled, _utc(p.next_run_at), _utc(p.last_run_at),
                         p.last_status, p.last_error, json.loads(p.last_report) if p.last_report else None)


def _context(profile_id: str) -> str:
    return f"directory:{profile_id}"


def _policies(settings: dict[str, Any], kind: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {**POLICY_DEFAULTS, **(base or {})}
    for k in POLICY_DEFAULTS:
        if settings.get(k) is not None:
            out[k] = settings[k]
    for k in ("deleted_users", "disabled_users", "deleted_groups"):
        if out[k] not in POLICIES:
            raise ControlError(f"{k} must be 'remove' or 'keep', not {out[k]!r}")
    for k, top in (("max_removals", None), ("max_removal_percent", 100)):
        try:
            out[k] = int(out[k])
        except (TypeError, ValueError):
            raise ControlError(f"{k} is a whole number, not {out[k]!r}") from None
        if out[k] < 0 or (top is not None and out[k] > top):
            raise ControlError(f"{k} must be between 0 and {top if top is not None else 'any number'}, not {out[k]}")
    role_map = out["role_map"]
    if not isinstance(role_map, dict):
        raise ControlError("role_map maps directory group names to roles, e.g. {\"archive-compliance\": \"Compliance\"}")
    for group, role in role_map.items():
        if role not in ROLES:
            raise ControlError(f"role_map: {group!r} -> {role!r}: unknown role; use one of {', '.join(ROLES)}")
    out["role_map"] = {str(k): v for k, v in role_map.items()}
    if kind == "m365" and out["directory_login"] and settings.get("directory_login"):
        raise ControlError("Microsoft 365 profiles cannot check passwords (app-only access): set directory_login false")
    if kind == "m365":
        out["directory_login"] = False
    out["directory_login"] = bool(out["directory_login"])
    return out


def build_config(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The stored config of a new profile: validated, preset merged, policies filled in."""
    if kind not in KINDS:
        raise ControlError(f"unknown directory kind {kind!r}: use ldap or m365")
    if kind == "ldap":
        preset = settings.get("preset") or "ldap"
        if preset not in LDAP_PRESETS:
            raise ControlError(f"unknown LDAP preset {preset!r}: use one of {', '.join(LDAP_PRESETS)}")
        keys = ("url", "security", "ca_file", "ca_pem", "bind_dn", "base_dn", "user_base", "group_base", "user_filter",
                "group_filter", "attributes", "aliases_style", "disabled_style", "login_domain", "page_size", "timeout")
        cfg = ldap_config(preset, {k: settings.get(k) for k in keys})
        cfg.setdefault("security", "starttls")
        url = str(cfg.get("url") or "")
        if not url.startswith(("ldap://", "ldaps://")):
            raise ControlError(f"the directory URL {url!r} is not an LDAP URL: use ldap://host[:port] or ldaps://host[:port]")
        if cfg["security"] not in SECURITY:
            raise ControlError(f"security must be one of {', '.join(SECURITY)}")
        if url.startswith("ldaps://"):
            cfg["security"] = "ldaps"
        for k in ("bind_dn", "base_dn"):
            if not cfg.get(k):
                raise ControlError(f"an LDAP profile needs {k.replace('_', ' ')}")
    else:
        cfg = {k: settings[k] for k in M365_KEYS if settings.get(k) is not None}
        cfg["preset"] = "m365"
        for k in ("tenant_id", "client_id"):
            if not cfg.get(k):
                raise ControlError(f"a Microsoft 365 profile needs {k.replace('_', ' ')}")
        for k in ("authority_url", "graph_url"):
            if cfg.get(k) and not str(cfg[k]).startswith("https://"):
                raise ControlError(f"{k} {cfg[k]!r} must be an https:// URL")
    return {**cfg, **_policies(settings, kind)}


def _profile(session: Session, org: Organization, name: str) -> DirectoryProfile:
    p = session.scalar(select(DirectoryProfile).where(DirectoryProfile.org_id == org.id, DirectoryProfile.name == name))
    if p is None:
        raise NotFound(f"organization {org.name!r} has no directory profile named {name!r}")
    return p


def _claim_domains(session: Session, principal: Principal, org: Organization, p: DirectoryProfile, domains: list[str]) -> None:
    """Each domain is synced from at most one directory; missing ones are added to the organization."""
    if not domains:
        raise ControlError("a directory profile needs at least one mail domain whose users it manages (--domain)")
    for name in domains:
        d = name.strip().lower().rstrip(".")
        dom = session.scalar(select(Domain).where(Domain.name == d))
        if dom is None:
            kind = "global"
            try:
                validate_domain(d, "global")
            except ControlError:
                kind = "local"
            dom = add_domain(session, principal, org, d, kind)
        elif dom.org_id != org.id:
            raise Conflict(f"domain {d!r} is taken on this deployment")
        if dom.directory_profile_id not in (None, p.id):
            other = session.get(DirectoryProfile, dom.directory_profile_id)
            raise Conflict(f"domain {d!r} is already synced from directory profile {other.name if other else '?'!r}: "
                           f"a domain is synced from at most one directory")
        dom.directory_profile_id = p.id
    session.flush()


def create_profile(
    session: Session, principal: Principal, org: Organization | str, kind: str, name: str,
    settings: dict[str, Any], secret: dict[str, Any] | None, master: MasterKey, *, domains: list[str],
    interval_seconds: int = DEFAULT_INTERVAL, enabled: bool = True,
) -> DirectoryView:
    o = require_admin(session, principal, org, "adding a directory profile")
    if not name or len(name) > 100:
        raise ControlError("a directory profile needs a name of 1 to 100 characters")
    if interval_seconds < MIN_INTERVAL:
        raise ControlError(f"a directory is synced at most every {MIN_INTERVAL} seconds")
    if session.scalar(select(DirectoryProfile.id).where(DirectoryProfile.org_id == o.id, DirectoryProfile.name == name)):
        raise Conflict(f"organization {o.name!r} already has a directory profile named {name!r}")
    config = build_config(kind, checked_trust(principal, settings, None))
    now = datetime.now(UTC)
    p = DirectoryProfile(id=new_id(), org_id=o.id, kind=kind, name=name, config=json.dumps(config, sort_keys=True),
                         interval_seconds=interval_seconds, enabled=enabled, created_at=now, next_run_at=now)
    if secret:
        p.secret = encrypt_secret(master, json.dumps(secret).encode(), _context(p.id))
    session.add(p)
    session.flush()
    _claim_domains(session, principal, o, p, domains)
    audit.record(session, principal, "directory.create", org_id=o.id, target=name,
                 details={"kind": kind, "config": config, "domains": domains, "interval_seconds": interval_seconds})
    return view(session, p)


def update_profile(
    session: Session, principal: Principal, org: Organization | str, name: str, master: MasterKey, *,
    settings: dict[str, Any] | None = None, secret: dict[str, Any] | None = None,
    interval_seconds: int | None = None, enabled: bool | None = None, domains: list[str] | None = None,
) -> DirectoryView:
    """Changes only what is given; `settings` are merged into the stored config (policies, mapping, URL)."""
    o = require_admin(session, principal, org, "changing a directory profile")
    p = _profile(session, o, name)
    if settings:
        current = json.loads(p.config)
        merged = {**current, **{k: v for k, v in settings.items() if v is not None and k != "attributes"}}
        if settings.get("attributes"):
            merged["attributes"] = {**current.get("attributes", {}), **settings["attributes"]}
        p.config = json.dumps(build_config(p.kind, checked_trust(principal, merged, current)), sort_keys=True)
    if secret:
        p.secret = encrypt_secret(master, json.dumps(secret).encode(), _context(p.id))
    if interval_seconds is not None:
        if interval_seconds < MIN_INTERVAL:
            raise ControlError(f"a directory is synced at most every {MIN_INTERVAL} seconds")
        p.interval_seconds = interval_seconds
    if enabled is not None:
        p.enabled = enabled
        if enabled:
            p.next_run_at = datetime.now(UTC)
    if domains is not None:
        session.execute(update(Domain).where(Domain.directory_profile_id == p.id).values(directory_profile_id=None))
        _claim_domains(session, principal, o, p, domains)
    session.flush()
    audit.record(session, principal, "directory.update", org_id=o.id, target=name,
                 details={"settings": settings, "credentials_changed": bool(secret), "enabled": enabled,
                          "interval_seconds": interval_seconds, "domains": domains})
    return view(session, p)


def remove_profile(session: Session, principal: Principal, org: Organization | str, name: str) -> dict[str, int]:
    """Removes the profile; what it synced stays and becomes ordinary (editable) archive objects.

    Users it synced keep their mailboxes and roles but have no local password: an admin gives them
    one with `mailark user reset-password`.
    """
    o = require_admin(session, principal, org, "removing a directory profile")
    p = _profile(session, o, name)
    released = {}
    session.execute(update(MailboxAddress).where(MailboxAddress.mailbox_id.in_(
        select(Mailbox.id).where(Mailbox.directory_profile_id == p.id))).values(origin=None))
    session.execute(update(User).where(User.directory_profile_id == p.id).values(directory_dn=None))
    for model in (User, Group, Mailbox):
        r = session.execute(update(model).where(model.directory_profile_id == p.id)
                            .values(directory_profile_id=None, external_id=None))
        released[model.__tablename__] = r.rowcount or 0
    r = session.execute(update(Domain).where(Domain.directory_profile_id == p.id).values(directory_profile_id=None))
    released["domains"] = r.rowcount or 0
    session.delete(p)
    session.flush()
    audit.record(session, principal, "directory.remove", org_id=o.id, target=name, details={"released": released})
    return released


def list_profiles(session: Session, principal: Principal, org: Organization | str) -> list[DirectoryView]:
    o = require_admin(session, principal, org, "listing directory profiles")
    q = select(DirectoryProfile).where(DirectoryProfile.org_id == o.id).order_by(DirectoryProfile.name)
    return [view(session, p) for p in session.scalars(q)]


def get_profile(session: Session, principal: Principal, org: Organization | str, name: str) -> DirectoryView:
    o = require_admin(session, principal, org, "reading a directory profile")
    return view(session, _profile(session, o, name))


def profile_row(session: Session, principal: Principal, org: Organization | str, name: str) -> DirectoryProfile:
    """The profile row, for an Admin of its organization (the sync and test commands)."""
    o = require_admin(session, principal, org, "syncing a directory")
    return _profile(session, o, name)


# ---- for the sync (acts as the system or as the admin who started it) ----------------------------


def profile_config(p: DirectoryProfile) -> dict[str, Any]:
    return json.loads(p.config)  # type: ignore[no-any-return]


def profile_secret(p: DirectoryProfile, master: MasterKey) -> dict[str, Any]:
    """The decrypted credentials; keep them in memory only, never log them."""
    if p.secret is None:
        return {}
    return json.loads(decrypt_secret(master, p.secret, _context(p.id)))  # type: ignore[no-any-return]


def due_profiles(session: Session, now: datetime | None = None) -> list[DirectoryProfile]:
    now = now or datetime.now(UTC)
    q = select(DirectoryProfile).where(DirectoryProfile.enabled.is_(True)).order_by(DirectoryProfile.org_id,
                                                                                      DirectoryProfile.name)
    return [p for p in session.scalars(q) if p.next_run_at is None or _utc(p.next_run_at) <= now]  # type: ignore[operator]


def finish_sync(session: Session, p: DirectoryProfile, status: str, *, error: str | None = None,
                report: dict[str, Any] | None = None, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    p.last_run_at, p.last_status, p.last_error = now, status, error
    p.last_report = json.dumps(report, default=str) if report is not None else None
    p.next_run_at = now + timedelta(seconds=p.interval_seconds)
    session.flush()
