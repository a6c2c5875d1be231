"""Journal and SMTP-import profiles: their addresses, credentials and the endpoint's address table.

A profile's `config` (no secrets) holds:
- journal: ``address``, ``auth_required`` (bool), ``mailbox`` (the journal archive mailbox), and
  when AUTH is not required, who may send: ``allow_networks`` (CIDRs) or ``allow_any_sender``;
- smtp-import: ``address``, ``mailbox`` (the archive mailbox it fills), ``folder``.
Its secret is ``{"password": ...}``. The SMTP AUTH user name is the profile's address. Addresses
are unique over the whole deployment (a unique index on `endpoint_address`) and fixed when the
profile is made: the endpoint finds the organization by the recipient.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import secrets
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.control.mailboxes import ensure_archive_mailbox
from mailark.control.models import Domain, Organization, SourceProfile
from mailark.control.orgs import Conflict, ControlError, normalize_address
from mailark.control.principals import Principal, require_admin
from mailark.control.sources import SourceView, create_source, source_secret
from mailark.storage.keys import MasterKey

JOURNAL = "journal"
IMPORT = "smtp-import"
KINDS = (JOURNAL, IMPORT)
DEFAULT_IMPORT_FOLDER = "Imported"
log = logging.getLogger("mailark.journal")


@dataclass(frozen=True)
class Route:
    """Where mail for one address goes; `password` is kept in memory only, never logged."""

    address: str
    kind: str
    org_id: str
    org_name: str
    profile_id: str
    profile_name: str
    auth_required: bool
    mailbox: str
    folder: str
    password: str | None = field(default=None, repr=False)
    # Without AUTH, mail is taken only from these sender networks, or from anyone if allow_any_sender.
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    allow_any_sender: bool = False
    # Two enabled profiles claim this address (only possible in a database edited by hand): mail to
    # it is refused for now (451) rather than given to either organization.
    conflict: bool = False

    def check_password(self, given: str) -> bool:
        return self.password is not None and hmac.compare_digest(self.password.encode(), given.encode())

    def sender_allowed(self, peer: str, authenticated_as: str | None) -> bool:
        """May a client at `peer` (authenticated as `authenticated_as`, if at all) send to this address?"""
        if authenticated_as == self.address:
            return True
        if self.auth_required:
            return False
        if self.allow_any_sender:
            return True
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in net for net in self.allow_networks)


def check_senders(config: dict[str, object]) -> dict[str, object]:
    """A journal configuration after a change: AUTH, or sender networks, or explicitly anyone."""
    if config.get("auth_required"):
        return config
    networks = sender_networks(config.get("allow_networks"))  # type: ignore[arg-type]
    if not networks and not config.get("allow_any_sender"):
        raise ControlError("a journal address without SMTP AUTH needs the sender networks it takes mail from "
                           "(allow_networks), or SMTP AUTH (auth_required); allow_any_sender opens it to anyone")
    return {**config, "allow_networks": networks, "allow_any_sender": bool(config.get("allow_any_sender"))}


def sender_networks(given: list[str] | tuple[str, ...] | None) -> list[str]:
    """The allow-list as normalized CIDR strings; a wrong entry is refused with what to type."""
    out = []
    for item in given or []:
        try:
            out.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
        except ValueError:
            raise ControlError(f"{item!r} is not a network: give one as CIDR, e.g. 192.0.2.0/24 or 2001:db8::/32") from None
    return out


def default_address(kind: str, org_name: str, profile_name: str, domain: str) -> str:
    local = "journal" if kind == JOURNAL and profile_name == "journal" else (
        f"journal-{profile_name}" if kind == JOURNAL else f"import-{profile_name}")
    return normalize_address(f"{local}@{org_name}.{domain}")


def _address_taken(session: Session, address: str, domain: str) -> bool:
    """Does a profile already own `address`? (Profiles made before addresses were recorded in
    `endpoint_address` own their default address.)"""
    if session.scalar(select(SourceProfile.id).where(SourceProfile.endpoint_address == address)):
        return True
    q = (select(SourceProfile, Organization.name).join(Organization, Organization.id == SourceProfile.org_id)
         .where(SourceProfile.kind.in_(KINDS), SourceProfile.endpoint_address.is_(None)))
    return any(default_address(p.kind, org_name, p.name, domain) == address for p, org_name in session.execute(q))


def _check_own_address(session: Session, o: Organization, address: str, domain: str) -> None:
    """An organization's endpoint address is in its own journal domain (<org>.<journal domain>) or in one
    of its own domains, never in another organization's: one neutral refusal, whoever else might hold it."""
    host = address.rsplit("@", 1)[-1]
    journal = domain.strip().lower().rstrip(".")
    if host == f"{o.name}.{journal}":
        return
    if host != journal and not host.endswith("." + journal) and session.scalar(
            select(Domain.id).where(Domain.org_id == o.id, Domain.name == host)):
        return
    raise Conflict(f"the address {address!r} is not available: a journal or import address is in the organization's "
                   f"journal domain ({o.name}.{journal}) or in one of its own domains")


def _password(given: str | None) -> str:
    if given is None:
        return secrets.token_urlsafe(18)
    if len(given) < 12:
        raise ControlError("an SMTP password needs at least 12 characters")
    return given


def add_journal(
    session: Session,
    principal: Principal,
    org: Organization | str,
    master: MasterKey,
    domain: str,
    *,
    name: str = "journal",
    address: str | None = None,
    auth_required: bool = False,
    password: str | None = None,
    allow_networks: list[str] | None = None,
    allow_any_sender: bool = False,
) -> tuple[SourceView, str | None]:
    """A journal address for the organization and its journal archive mailbox (created now, within
    the licence). Returns the profile and the SMTP password when AUTH is required (show it once).
    Without AUTH the profile names the sender networks it takes mail from, or explicitly anyone."""
    o = require_admin(session, principal, org, "adding a journal address")
    addr = normalize_address(address) if address else default_address(JOURNAL, o.name, name, domain)
    _check_own_address(session, o, addr, domain)
    if _address_taken(session, addr, domain):
        raise Conflict(f"the journal address {addr!r} is already in use: choose another")
    networks = sender_networks(allow_networks)
    if not auth_required and not networks and not allow_any_sender:
        raise ControlError("a journal address without SMTP AUTH needs the sender networks it takes mail from "
                           "(e.g. --allow-network 192.0.2.0/24, your mail servers), or SMTP AUTH (--auth); "
                           "--allow-any-sender opens it to the whole internet")
    mb, _ = ensure_archive_mailbox(session, principal, o, addr, kind="journal")
    if mb.kind != "journal":
        raise Conflict(f"{addr!r} is the address of a {mb.kind} archive mailbox: choose another journal address")
    pw = _password(password) if auth_required or password else None
    view = create_source(
        session, principal, o, JOURNAL, name,
        {"address": addr, "auth_required": auth_required, "mailbox": mb.primary_address,
         **({} if auth_required else {"allow_networks": networks, "allow_any_sender": allow_any_sender})},
        {"password": pw} if pw else None, master, interval_seconds=60,
    )
    return view, pw


def add_import(
    session: Session,
    principal: Principal,
    org: Organization | str,
    master: MasterKey,
    domain: str,
    *,
    mailbox: str,
    name: str = "import",
    address: str | None = None,
    folder: str = DEFAULT_IMPORT_FOLDER,
    password: str | None = None,
) -> tuple[SourceView, str]:
    """An SMTP import address that fills one archive mailbox (created if the licence allows).
    SMTP AUTH is always required; returns the profile and its password (show it once)."""
    o = require_admin(session, principal, org, "adding an SMTP import")
    addr = normalize_address(address) if address else default_address(IMPORT, o.name, name, domain)
    _check_own_address(session, o, addr, domain)
    if _address_taken(session, addr, domain):
        raise Conflict(f"the import address {addr!r} is already in use: choose another")
    if not folder.strip():
        raise ControlError("an SMTP import needs a folder name")
    mb, _ = ensure_archive_mailbox(session, principal, o, mailbox)
    if mb.kind == "journal":
        raise Conflict("an SMTP import fills a user or shared mailbox, not a journal mailbox")
    pw = _password(password)
    view = create_source(
        session, principal, o, IMPORT, name,
        {"address": addr, "mailbox": mb.primary_address, "folder": folder.strip()},
        {"password": pw}, master, interval_seconds=60,
    )
    return view, pw


def load_routes(session: Session, master: MasterKey, domain: str) -> dict[str, Route]:
    """Every enabled journal and import address of the deployment. A profile made through the
    generic sources API without an address gets the default one (unique: org and name are)."""
    routes: dict[str, Route] = {}
    claimed: dict[str, list[str]] = {}
    q = (select(SourceProfile, Organization.name).join(Organization, Organization.id == SourceProfile.org_id)
         .where(SourceProfile.kind.in_(KINDS), SourceProfile.enabled.is_(True)))
    for p, org_name in session.execute(q):
        cfg = json.loads(p.config)
        addr = cfg.get("address") or default_address(p.kind, org_name, p.name, domain)
        pw = source_secret(p, master).get("password")
        claimed.setdefault(addr, []).append(f"{org_name}/{p.name} ({p.id})")
        if addr in routes:
            routes[addr] = replace(routes[addr], conflict=True, password=None)
            continue
        routes[addr] = Route(
            address=addr, kind=p.kind, org_id=p.org_id, org_name=org_name, profile_id=p.id, profile_name=p.name,
            auth_required=p.kind == IMPORT or bool(cfg.get("auth_required")), mailbox=cfg.get("mailbox") or addr,
            folder=cfg.get("folder") or ("Journal" if p.kind == JOURNAL else DEFAULT_IMPORT_FOLDER), password=pw,
            allow_networks=tuple(ipaddress.ip_network(n, strict=False) for n in cfg.get("allow_networks") or []),
            allow_any_sender=bool(cfg.get("allow_any_sender")),
        )
    for addr, owners in claimed.items():
        if len(owners) > 1:
            log.error("the endpoint address %s is claimed by %d profiles (%s): mail to it is refused until all but "
                      "one are removed", addr, len(owners), ", ".join(owners))
    return routes
