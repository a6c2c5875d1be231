"""Sign-in providers: an organization's users sign in with Microsoft (Entra ID) or another OpenID
Connect provider instead of a password (issue 18).

One provider per organization (`SignInProvider`), set by its Admins (audited):

- `entra`: the Microsoft tenant the organization's users are synced from. The provider is
  `https://login.microsoftonline.com/{tenant}/v2.0`; an id token must carry the tenant's id (`tid`)
  and is matched to a user synced from Microsoft 365 by the Entra object id (`oid` = the Graph id
  the directory sync stores as the user's `external_id`). A renamed user stays the same user.
- `oidc`: any provider by its issuer URL, matched by a claim (`email` by default, or
  `preferred_username`, ...) to the user's login, or (for `email`) to an address of their own
  archive mailbox, in the allowed email domains. An `email` the provider says is not verified is
  never matched.

The client secret is encrypted under the master key, bound to the organization, and never shown.
MFA then comes from the provider: a session it opens is not held for local TOTP enrolment.

Here: what is configured and who a *verified* set of claims is. The protocol (discovery, PKCE,
the code exchange, the id token's signature and claims) is mailark.sources.directory.oidc. A
refusal says the same for every reason (no matching user, disabled, other tenant, unverified
email), so the answer never tells whether an account exists; the audit log has the reason.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.auth import AuthResult, decrypt_secret, encrypt_secret, utc
from mailark.control.models import DirectoryProfile, Domain, Mailbox, MailboxAddress, Organization, SignInProvider, User
from mailark.control.orgs import ControlError, NotFound
from mailark.control.principals import Principal, require_admin, user_principal
from mailark.storage.keys import MasterKey

KINDS = ("entra", "oidc")
ENTRA_AUTHORITY = "https://login.microsoftonline.com/{tenant}/v2.0"
MATCH_CLAIMS = ("email", "preferred_username", "upn", "login")
DEFAULT_NAMES = {"entra": "Microsoft", "oidc": "single sign-on"}
TENANT_ID = re.compile(r"^[0-9a-fA-F-]{36}$|^[a-z0-9-]+(\.[a-z0-9-]+)+$")  # a GUID or a tenant's domain
REFUSED = ("your account at the sign-in provider does not belong to a user of this archive who may sign in: "
           "ask your organization's archive admin")


@dataclass(frozen=True)
class ProviderView:
    """What an Admin sees of the provider (never the secret)."""

    kind: str
    display_name: str
    issuer: str
    client_id: str
    tenant_id: str | None
    allowed_domains: list[str]
    match_claim: str
    enabled: bool
    has_secret: bool
    updated_at: datetime


@dataclass(frozen=True)
class LoginConfig:
    """What the sign-in needs, secret included: only for the web app's login routes."""

    org_id: str
    org_name: str
    kind: str
    display_name: str
    issuer: str
    client_id: str
    client_secret: str | None
    tenant_id: str | None
    allowed_domains: tuple[str, ...]
    match_claim: str


def _context(org_id: str) -> str:
    return f"sign-in:{org_id}"


def _view(row: SignInProvider) -> ProviderView:
    c = json.loads(row.config)
    return ProviderView(row.kind, row.display_name, c["issuer"], c["client_id"], c.get("tenant_id"),
                        list(c.get("allowed_domains", [])), c.get("match_claim", "oid"), row.enabled,
                        row.secret is not None, utc(row.updated_at))  # type: ignore[arg-type]


def check_issuer(url: str) -> str:
    """An https URL (http only on this machine, for tests and local providers): the id token's `iss`."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    loopback = False
    try:
        loopback = parts.hostname == "localhost" or ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        pass
    if not parts.hostname or parts.query or parts.fragment or not (parts.scheme == "https" or
                                                                   (parts.scheme == "http" and loopback)):
        raise ControlError(f"the issuer {url!r} is not an https URL without query: use the provider's issuer "
                           f"(e.g. https://accounts.example.com)")
    return url


def entra_authority(tenant_id: str) -> str:
    return ENTRA_AUTHORITY.format(tenant=tenant_id)


def _m365_tenant(session: Session, org_id: str) -> str | None:
    for cfg in session.scalars(select(DirectoryProfile.config).where(DirectoryProfile.org_id == org_id,
                                                                     DirectoryProfile.kind == "m365")):
        tenant = json.loads(cfg).get("tenant_id")
        if tenant:
            return str(tenant)
    return None


def set_provider(
    session: Session, principal: Principal, org: Organization | str, master: MasterKey, *, kind: str, client_id: str,
    client_secret: str | None = None, issuer: str | None = None, tenant_id: str | None = None,
    allowed_domains: list[str] | None = None, match_claim: str | None = None, display_name: str | None = None,
    enabled: bool = True,
) -> ProviderView:
    """Create or replace the organization's provider. A secret not given keeps the stored one (same kind)."""
    o = require_admin(session, principal, org, "setting up sign-in with a provider")
    if kind not in KINDS:
        raise ControlError(f"unknown sign-in provider kind {kind!r}: use entra (Microsoft) or oidc")
    client_id = client_id.strip()
    if not client_id or len(client_id) > 200:
        raise ControlError("the provider needs the client id (application id) of 1 to 200 characters it gave mailark")
    domains = sorted({d.strip().lower().lstrip("@") for d in allowed_domains or [] if d.strip()})
    if kind == "entra":
        tenant_id = (tenant_id or "").strip().lower() or _m365_tenant(session, o.id)
        if not tenant_id or not TENANT_ID.match(tenant_id):
            raise ControlError("sign-in with Microsoft needs the tenant id (a GUID): give it, or add the organization's "
                               "Microsoft 365 directory profile first")
        if not session.scalar(select(DirectoryProfile.id).where(DirectoryProfile.org_id == o.id,
                                                                DirectoryProfile.kind == "m365")):
            raise ControlError("sign-in with Microsoft matches users synced from Microsoft 365: add the organization's "
                               "Microsoft 365 directory profile first")
        issuer_url = check_issuer(issuer) if issuer else entra_authority(tenant_id)
        claim = "oid"
    else:
        if not issuer:
            raise ControlError("a generic OpenID Connect provider needs its issuer URL")
        issuer_url = check_issuer(issuer)
        claim = (match_claim or "email").strip()
        if claim not in MATCH_CLAIMS:
            raise ControlError(f"users can be matched by {', '.join(MATCH_CLAIMS)}, not {claim!r}")
        tenant_id = None
        own = {d.lower() for d in session.scalars(select(Domain.name).where(Domain.org_id == o.id))}
        foreign = [d for d in domains if d not in own]
        if foreign:
            raise ControlError(f"{', '.join(foreign)}: not a domain of organization {o.name!r}; allowed domains must be "
                               f"the organization's own")
    name = (display_name or "").strip() or DEFAULT_NAMES[kind]
    if len(name) > 100:
        raise ControlError("the button's name is at most 100 characters")
    now = datetime.now(UTC)
    row = session.get(SignInProvider, o.id)
    created = row is None
    if row is None:
        row = SignInProvider(org_id=o.id, created_at=now)
        session.add(row)
    elif row.kind != kind and not client_secret:
        row.secret = None  # another provider's secret is no secret of this one
    row.kind, row.display_name, row.enabled, row.updated_at = kind, name, enabled, now
    row.config = json.dumps({"issuer": issuer_url, "client_id": client_id, "tenant_id": tenant_id,
                             "allowed_domains": domains, "match_claim": claim}, sort_keys=True)
    if client_secret:
        row.secret = encrypt_secret(master, client_secret.encode(), _context(o.id))
    session.flush()
    audit.record(session, principal, "sign_in.set", org_id=o.id, target=o.name,
                 details={"kind": kind, "issuer": issuer_url, "client_id": client_id, "tenant_id": tenant_id,
                          "allowed_domains": domains, "match_claim": claim, "enabled": enabled, "created": created,
                          "secret_changed": bool(client_secret)})
    return _view(row)


def get_provider(session: Session, principal: Principal, org: Organization | str) -> ProviderView:
    o = require_admin(session, principal, org, "reading the sign-in provider")
    row = session.get(SignInProvider, o.id)
    if row is None:
        raise NotFound(f"organization {o.name!r} has no sign-in provider: users log in with their password")
    return _view(row)


def remove_provider(session: Session, principal: Principal, org: Organization | str) -> None:
    """Users log in with their password again; sessions opened through the provider run out as usual."""
    o = require_admin(session, principal, org, "removing the sign-in provider")
    row = session.get(SignInProvider, o.id)
    if row is None:
        raise NotFound(f"organization {o.name!r} has no sign-in provider")
    session.delete(row)
    audit.record(session, principal, "sign_in.remove", org_id=o.id, target=o.name, details={"kind": row.kind})


# ---- the login ----------------------------------------------------------------------------------


def org_for_email(session: Session, email: str) -> str | None:
    """The organization whose mail domain the address is in (whoever types it learns only the organization)."""
    domain = email.strip().lower().rpartition("@")[2]
    if not domain:
        return None
    return session.scalar(select(Organization.name).join(Domain, Domain.org_id == Organization.id)
                          .where(Domain.name == domain))


def button(session: Session, org_name: str) -> tuple[str, str] | None:
    """(kind, display name) of the organization's enabled provider, for the login page's button."""
    row = session.scalar(select(SignInProvider).join(Organization, Organization.id == SignInProvider.org_id)
                         .where(Organization.name == org_name.strip().lower(), SignInProvider.enabled.is_(True)))
    return (row.kind, row.display_name) if row else None


def login_config(session: Session, master: MasterKey, org_name: str) -> LoginConfig:
    org = session.scalar(select(Organization).where(Organization.name == org_name.strip().lower()))
    row = session.get(SignInProvider, org.id) if org else None
    if org is None or row is None or not row.enabled:
        raise NotFound("single sign-on is not set up for this organization: log in with your login and password")
    c = json.loads(row.config)
    secret = decrypt_secret(master, row.secret, _context(org.id)).decode() if row.secret else None
    return LoginConfig(org.id, org.name, row.kind, row.display_name, c["issuer"], c["client_id"], secret,
                       c.get("tenant_id"), tuple(c.get("allowed_domains", [])), c.get("match_claim", "oid"))


def _by_object_id(session: Session, org_id: str, oid: str) -> User | None:
    m365 = select(DirectoryProfile.id).where(DirectoryProfile.org_id == org_id, DirectoryProfile.kind == "m365")
    return session.scalar(select(User).where(User.org_id == org_id, User.external_id == oid,
                                             User.directory_profile_id.in_(m365)))


def _by_claim(session: Session, org_id: str, claim: str, value: str) -> User | None:
    user = session.scalar(select(User).where(User.org_id == org_id, User.login == value))
    if user is None and claim == "email":  # an address of the user's own archive mailbox
        user = session.scalar(select(User).join(Mailbox, Mailbox.owner_user_id == User.id)
                              .join(MailboxAddress, MailboxAddress.mailbox_id == Mailbox.id)
                              .where(User.org_id == org_id, Mailbox.org_id == org_id, Mailbox.kind == "user",
                                     MailboxAddress.address == value))
    return user


def _match(session: Session, cfg: LoginConfig, claims: dict[str, Any]) -> tuple[User | None, str]:
    """The user the claims name, or None and the reason (for the audit log only)."""
    if cfg.kind == "entra":
        if str(claims.get("tid", "")).lower() != (cfg.tenant_id or "").lower():
            return None, f"token of another tenant ({claims.get('tid')!r})"
        oid = str(claims.get("oid") or "").strip().lower()
        if not oid:
            return None, "no oid claim"
        user = _by_object_id(session, cfg.org_id, oid)
        return user, "" if user else f"no user synced from Microsoft 365 with object id {oid}"
    value = str(claims.get(cfg.match_claim) or "").strip().lower()
    if "@" not in value:
        return None, f"no usable {cfg.match_claim} claim"
    if cfg.match_claim == "email" and claims.get("email_verified") is False:
        return None, f"the provider says {value} is not verified"
    if cfg.allowed_domains and value.rpartition("@")[2] not in cfg.allowed_domains:
        return None, f"{value} is not in the allowed domains"
    user = _by_claim(session, cfg.org_id, cfg.match_claim, value)
    return user, "" if user else f"no user matches {cfg.match_claim} {value}"


def complete_sign_in(session: Session, cfg: LoginConfig, claims: dict[str, Any], *, source: str | None = None,
                     now: datetime | None = None) -> AuthResult:
    """Who the provider's (already verified) id token names; audited either way. Commit even on failure."""
    now = now or datetime.now(UTC)
    user, reason = _match(session, cfg, claims)
    details = {"method": cfg.kind, "issuer": cfg.issuer, "subject": str(claims.get("sub", "")), "source": source}
    if user is not None and not user.active:
        user, reason = None, f"{user.login} is disabled"
    if user is None:
        audit.record(session, None, "auth.login", org_id=cfg.org_id, target=str(claims.get("sub", "")), outcome="failed",
                     details={**details, "reason": reason}, now=now)
        return AuthResult(None, REFUSED)
    p = user_principal(user)
    audit.record(session, p, "auth.login", org_id=cfg.org_id, target=user.login, now=now,
                 details={**details, "mfa": "provider"})
    return AuthResult(p)  # MFA is the provider's: no local TOTP enrolment is asked for


def refuse_sign_in(session: Session, cfg: LoginConfig, reason: str, *, source: str | None = None) -> None:
    """Audit a sign-in that failed before any claims could be trusted (the provider refused, a bad token)."""
    audit.record(session, None, "auth.login", org_id=cfg.org_id, target=cfg.org_name, outcome="failed",
                 details={"method": cfg.kind, "issuer": cfg.issuer, "reason": reason, "source": source})
