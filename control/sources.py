"""Mail source profiles: what to fetch from where, on which schedule, and where it left off.

Every kind (imap, graph, journal, smtp-import) shares this bookkeeping; what a kind puts in
`config` (no secrets) and in its secret (credentials, stored encrypted under the master key, never
returned by the API or logged) is the business of its package in `sources/`. Admins manage
profiles; the flows read them as the system. A run ends with `finish_run`, which records the
status the admin sees and schedules the next run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.auth import decrypt_secret, encrypt_secret
from mailark.control.models import Domain, MailboxAddress, Organization, SourceCursor, SourceProfile
from mailark.control.orgs import Conflict, ControlError, NotFound, find_mailbox, new_id, normalize_address
from mailark.control.principals import Principal, require_admin
from mailark.control.trust import checked_trust
from mailark.storage.keys import MasterKey

KINDS = ("imap", "graph", "journal", "smtp-import")
# Kinds the SMTP endpoint routes to by address. Their address and the mailbox that receives the mail
# are fixed at creation: changing them would let one organization take over another's address.
ENDPOINT_KINDS = ("journal", "smtp-import")
FIXED_KEYS = ("address", "mailbox")
STATUSES = ("ok", "failed", "paused", "partial")
MIN_INTERVAL = 60


@dataclass(frozen=True)
class SourceView:
    """A profile as admins see it: never its secret."""

    id: str
    org_id: str
    kind: str
    name: str
    domain: str | None
    config: dict[str, Any]
    has_secret: bool
    interval_seconds: int
    enabled: bool
    paused_reason: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_counts: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def view(p: SourceProfile) -> SourceView:
    return SourceView(
        p.id, p.org_id, p.kind, p.name, p.domain, json.loads(p.config), p.secret is not None, p.interval_seconds, p.enabled,
        p.paused_reason, p.next_run_at, p.last_run_at, p.last_status, p.last_error,
        json.loads(p.last_counts) if p.last_counts else None,
    )


def _secret_context(profile_id: str) -> str:
    return f"source:{profile_id}"


def _check(kind: str, name: str, interval_seconds: int) -> None:
    if kind not in KINDS:
        raise ControlError(f"unknown source kind {kind!r}: use one of {', '.join(KINDS)}")
    if not name or len(name) > 100:
        raise ControlError("a source needs a name of 1 to 100 characters")
    if interval_seconds < MIN_INTERVAL:
        raise ControlError(f"a source runs at most every {MIN_INTERVAL} seconds")


def _profile(session: Session, org: Organization, name: str) -> SourceProfile:
    p = session.scalar(select(SourceProfile).where(SourceProfile.org_id == org.id, SourceProfile.name == name))
    if p is None:
        raise NotFound(f"organization {org.name!r} has no source named {name!r}")
    return p


def create_source(
    session: Session,
    principal: Principal,
    org: Organization | str,
    kind: str,
    name: str,
    config: dict[str, Any],
    secret: dict[str, Any] | None,
    master: MasterKey,
    *,
    interval_seconds: int = 900,
    enabled: bool = True,
    domain: str | None = None,
) -> SourceView:
    """A new profile; `domain` ties it to one of the organization's domains (removed with it)."""
    o = require_admin(session, principal, org, "adding a mail source")
    _check(kind, name, interval_seconds)
    if domain is not None:
        domain = domain.strip().lower().rstrip(".")
        if not session.scalar(select(Domain.id).where(Domain.org_id == o.id, Domain.name == domain)):
            raise NotFound(f"organization {o.name!r} has no domain {domain!r}: add it first")
    if session.scalar(select(SourceProfile.id).where(SourceProfile.org_id == o.id, SourceProfile.name == name)):
        raise Conflict(f"organization {o.name!r} already has a source named {name!r}")
    config = checked_trust(principal, config, None)
    endpoint_address = None
    if kind in ENDPOINT_KINDS:
        if not config.get("address"):
            raise ControlError(f"a {kind} source needs an address")
        endpoint_address = normalize_address(str(config["address"]))
        _claim_address(session, endpoint_address)
        if kind == "journal":
            receiving = find_mailbox(session, o, str(config.get("mailbox") or endpoint_address))
            if receiving is not None and receiving.kind != "journal":
                raise Conflict(f"journal mail goes into a journal mailbox (readable with the Compliance role only), "
                               f"and {receiving.primary_address!r} is a {receiving.kind} mailbox: choose another address")
    p = SourceProfile(
        id=new_id(), org_id=o.id, kind=kind, name=name, domain=domain, config=json.dumps(config, sort_keys=True),
        interval_seconds=interval_seconds, enabled=enabled, created_at=datetime.now(UTC),
        next_run_at=datetime.now(UTC), endpoint_address=endpoint_address,
    )
    if secret is not None:
        p.secret = encrypt_secret(master, json.dumps(secret).encode(), _secret_context(p.id))
    session.add(p)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # another transaction took the address in between
        raise Conflict(f"the address {endpoint_address!r} is already in use: choose another") from None
    audit.record(session, principal, "source.create", org_id=o.id, target=name,
                 details={"kind": kind, "domain": domain, "config": config, "interval_seconds": interval_seconds})
    return view(p)


def update_source(
    session: Session,
    principal: Principal,
    org: Organization | str,
    name: str,
    master: MasterKey,
    *,
    config: dict[str, Any] | None = None,
    secret: dict[str, Any] | None = None,
    interval_seconds: int | None = None,
    enabled: bool | None = None,
) -> SourceView:
    """Changes only what is given; `config` replaces the whole configuration."""
    o = require_admin(session, principal, org, "changing a mail source")
    p = _profile(session, o, name)
    if interval_seconds is not None:
        _check(p.kind, p.name, interval_seconds)
        p.interval_seconds = interval_seconds
    if config is not None:
        config = checked_trust(principal, config, json.loads(p.config))
        if p.kind in ENDPOINT_KINDS:
            config = _keep_fixed(session, o, p, config)
        p.config = json.dumps(config, sort_keys=True)
    if secret is not None:
        p.secret = encrypt_secret(master, json.dumps(secret).encode(), _secret_context(p.id))
    if enabled is not None:
        p.enabled = enabled
        if enabled:
            p.next_run_at = datetime.now(UTC)
    session.flush()
    audit.record(session, principal, "source.update", org_id=o.id, target=name,
                 details={"config": config, "credentials_changed": secret is not None,
                          "interval_seconds": interval_seconds, "enabled": enabled})
    return view(p)


def _claim_address(session: Session, address: str) -> None:
    """One neutral refusal, whoever holds the address: it must not reveal another organization."""
    if session.scalar(select(SourceProfile.id).where(SourceProfile.endpoint_address == address)):
        raise Conflict(f"the address {address!r} is already in use: choose another")


def _keep_fixed(session: Session, o: Organization, p: SourceProfile, config: dict[str, Any]) -> dict[str, Any]:
    """A new configuration of an endpoint profile. Its address stays; its mailbox may be named by
    another address of the same archive mailbox (an alias, a new primary), never another mailbox."""
    old = json.loads(p.config)
    given = config.get("address")
    if given is not None and normalize_address(str(given)) != normalize_address(str(old.get("address") or "")):
        raise Conflict(f"the address of a {p.kind} source is fixed when it is created: to use another, add a new "
                       f"source with it and remove {p.name!r}")
    merged = {**config, **{k: old[k] for k in FIXED_KEYS if k in old}}
    wanted = config.get("mailbox")
    if wanted is not None and normalize_address(str(wanted)) != normalize_address(str(old.get("mailbox") or "")):
        now, then = find_mailbox(session, o, str(wanted)), find_mailbox(session, o, str(old.get("mailbox") or ""))
        if now is None or then is None or now.id != then.id:
            raise Conflict(f"the mailbox of a {p.kind} source is fixed when it is created: to fill another, add a "
                           f"new source for it and remove {p.name!r}")
        merged["mailbox"] = normalize_address(str(wanted))
    return merged


def remove_source(session: Session, principal: Principal, org: Organization | str, name: str) -> None:
    """Removes the profile and its cursors; what it archived stays archived."""
    o = require_admin(session, principal, org, "removing a mail source")
    p = _profile(session, o, name)
    session.delete(p)
    session.flush()
    audit.record(session, principal, "source.remove", org_id=o.id, target=name, details={"kind": p.kind})


def remove_domain_sources(session: Session, principal: Principal, org: Organization, domain: str) -> list[str]:
    """With a domain go its sources (control.identity.remove_domain calls this); names removed."""
    q = select(SourceProfile).where(SourceProfile.org_id == org.id, SourceProfile.domain == domain)
    names = []
    for p in session.scalars(q):
        names.append(p.name)
        session.delete(p)
        audit.record(session, principal, "source.remove", org_id=org.id, target=p.name,
                     details={"kind": p.kind, "because": f"domain {domain} removed"})
    session.flush()
    return names


def disable_sources_filling_domain(session: Session, principal: Principal, org: Organization, domain: str) -> list[str]:
    """Disable every source that fills an archive mailbox with an address in `domain` (removing the domain
    calls this): once the domain moves to another organization its mail must not keep landing here.
    Names disabled (already disabled ones included, so the caller can say which fill those mailboxes)."""
    from mailark.control.mailboxes import profiles_filling

    addresses = session.scalars(select(MailboxAddress).where(MailboxAddress.org_id == org.id,
                                                              MailboxAddress.address.like(f"%@{domain}")))
    mailbox_ids = {a.mailbox_id for a in addresses if a.address.rsplit("@", 1)[-1] == domain}
    names: set[str] = set()
    for a in session.scalars(select(MailboxAddress.address).where(MailboxAddress.mailbox_id.in_(mailbox_ids or {""}))):
        names.update(profiles_filling(session, org, a))
    for name in sorted(names):
        p = _profile(session, org, name)
        if p.enabled:
            p.enabled = False
            audit.record(session, principal, "source.disable", org_id=org.id, target=name,
                         details={"kind": p.kind, "because": f"domain {domain} removed"})
    session.flush()
    return sorted(names)


def list_sources(session: Session, principal: Principal, org: Organization | str) -> list[SourceView]:
    o = require_admin(session, principal, org, "listing mail sources")
    q = select(SourceProfile).where(SourceProfile.org_id == o.id).order_by(SourceProfile.name)
    return [view(p) for p in session.scalars(q)]


def get_source(session: Session, principal: Principal, org: Organization | str, name: str) -> SourceView:
    o = require_admin(session, principal, org, "reading a mail source")
    return view(_profile(session, o, name))


# ---- for the flows (they act as the system; no principal) ----------------------------------


def profile_by_id(session: Session, profile_id: str) -> SourceProfile:
    p = session.get(SourceProfile, profile_id)
    if p is None:
        raise NotFound(f"no source profile {profile_id!r} (removed?)")
    return p


def source_secret(profile: SourceProfile, master: MasterKey) -> dict[str, Any]:
    """The decrypted credentials; keep them in memory only, never log them."""
    if profile.secret is None:
        return {}
    return json.loads(decrypt_secret(master, profile.secret, _secret_context(profile.id)))


def due_sources(session: Session, kind: str, now: datetime | None = None) -> list[SourceProfile]:
    """Enabled profiles of a kind whose next run is due (paused ones too: a run is how they resume)."""
    now = now or datetime.now(UTC)
    q = select(SourceProfile).where(SourceProfile.kind == kind, SourceProfile.enabled.is_(True))
    return [p for p in session.scalars(q) if p.next_run_at is None or _utc(p.next_run_at) <= now]


def finish_run(
    session: Session,
    profile: SourceProfile,
    status: str,
    *,
    error: str | None = None,
    counts: dict[str, Any] | None = None,
    paused_reason: str | None = None,
    now: datetime | None = None,
) -> None:
    """Record how a run ended; a paused source is retried on its normal schedule and resumes then."""
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}")
    now = now or datetime.now(UTC)
    profile.last_run_at = now
    profile.last_status = status
    profile.last_error = error
    profile.last_counts = json.dumps(counts) if counts is not None else None
    profile.paused_reason = paused_reason if status == "paused" else None
    profile.next_run_at = now + timedelta(seconds=profile.interval_seconds)
    session.flush()


def get_cursors(session: Session, profile_id: str) -> dict[str, Any]:
    q = select(SourceCursor).where(SourceCursor.profile_id == profile_id)
    return {c.key: json.loads(c.value) for c in session.scalars(q)}


def set_cursor(session: Session, profile_id: str, key: str, value: Any) -> None:
    """Upsert one cursor; write it in the same transaction as the work it describes when possible."""
    c = session.get(SourceCursor, (profile_id, key))
    if c is None:
        session.add(SourceCursor(profile_id=profile_id, key=key, value=json.dumps(value), updated_at=datetime.now(UTC)))
    else:
        c.value, c.updated_at = json.dumps(value), datetime.now(UTC)
    session.flush()


def drop_cursor(session: Session, profile_id: str, key: str) -> None:
    session.execute(delete(SourceCursor).where(SourceCursor.profile_id == profile_id, SourceCursor.key == key))


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
