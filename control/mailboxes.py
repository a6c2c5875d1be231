"""Archive mailboxes, their addresses (aliases) and who may read them.

Kinds: user, shared, journal. Every mailbox counts against the licence's mailbox quota (checked
in the writing transaction); a mailbox is never deleted with its user. Read access comes from a
permission for the user or one of the user's groups, or from the Compliance role (every mailbox).
Journal mailboxes are readable only through Compliance: permissions on them are refused, and
ignored if one exists. Operators (and the CLI) read every mailbox of the organizations they serve;
reads of message content are audited by whoever serves them.

`control.orgs.ensure_mailbox` (used by imports) stays as it was; `ensure_archive_mailbox` is the
licence-checked form for callers that act for a principal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mailark.config.settings import get_settings
from mailark.control import audit, licensing
from mailark.control.models import (
    SupportGrant,
    Domain, Group, GroupMember, Mailbox, MailboxAddress, MailboxPermission, Organization, SourceProfile, User,
)
from mailark.control.orgs import (
    Conflict, ControlError, NotFound, find_mailbox, new_address, new_id, normalize_address, reserved_domain,
)
from mailark.control.principals import ADMIN, COMPLIANCE, READER, Principal, can_see_org, require_admin, roles_in, user_of, visible_org

KINDS = ("user", "shared", "journal")


def _mailbox(session: Session, org: Organization, address: str) -> Mailbox:
    mb = find_mailbox(session, org, address)
    if mb is None:
        raise NotFound(f"organization {org.name!r} has no archive mailbox {address!r}")
    return mb


def _refuse_synced(mb: Mailbox) -> None:
    if mb.directory_profile_id:
        raise Conflict(f"the addresses of archive mailbox {mb.primary_address} come from a directory and are read-only "
                       f"here: change them in the directory; the next sync brings them to the archive")


def _require_org_domain(session: Session, org: Organization, address: str, what: str) -> None:
    """Refuse an address outside the organization's domains (aliases and primary addresses must be in one)."""
    domain = address.rsplit("@", 1)[-1]
    if not session.scalar(select(Domain.id).where(Domain.org_id == org.id, Domain.name == domain)):
        raise Conflict(f"{address!r} is not in a domain of organization {org.name!r}: {what} must be; add the domain "
                       f"{domain!r} first (mailark domain add {domain} --org {org.name}, Domains on the Mailboxes "
                       f"page, or POST /api/orgs/{org.name}/domains)")


def _require_mailbox_domain(session: Session, org: Organization, address: str, kind: str, *, strict: bool) -> None:
    """A mailbox an Admin creates lives in one of the organization's domains, as its aliases do (`strict`); a
    journal mailbox may also live in the organization's own journal domain (<org>.<journal domain>). One
    that ingest creates for the mail it meets (an import, a Microsoft 365 or IMAP account, journal fan-out)
    may carry a domain the organization has not registered, but never another organization's or one the
    deployment reserves: mail is never filed under a domain someone else owns."""
    domain = address.rsplit("@", 1)[-1]
    if kind == "journal":
        journal = get_settings().journal.domain.strip().lower().rstrip(".")
        if domain == f"{org.name}.{journal}":
            return
    if strict:
        _require_org_domain(session, org, address, "an archive mailbox's address")
        return
    owner = session.scalar(select(Domain.org_id).where(Domain.name == domain))
    if (owner is not None and owner != org.id) or reserved_domain(domain, org.name):
        raise Conflict(f"{address!r} is not available: its domain is not one of organization {org.name!r}'s; "
                       f"archive it under an address of the organization's own domains")


def profiles_filling(session: Session, org: Organization, address: str) -> list[str]:
    """Names of the source profiles that fill the archive mailbox found by `address`.

    A journal or SMTP-import profile names its mailbox in `config["mailbox"]` (without one, its own
    receiving `address`, or the default journal@<org>.<deployment domain> / import-<name>@... form);
    an IMAP account profile names it in `config["mailbox"]` too. Their runs look the mailbox up by that
    address and create one if none has it, so the address must stay while a profile names it.
    """
    names = []
    for p in session.scalars(select(SourceProfile).where(SourceProfile.org_id == org.id)):
        cfg = json.loads(p.config or "{}")
        named = cfg.get("mailbox")
        if not named and p.kind in ("journal", "smtp-import"):
            named = cfg.get("address")
            if not named:
                local = "journal" if p.kind == "journal" and p.name == "journal" else (
                    f"journal-{p.name}" if p.kind == "journal" else f"import-{p.name}")
                if address.startswith(f"{local}@{org.name}."):
                    named = address
        if isinstance(named, str) and named.strip().lower() == address:
            names.append(p.name)
    return sorted(names)


def _refuse_filled(session: Session, org: Organization, address: str) -> None:
    names = profiles_filling(session, org, address)
    if names:
        which = ", ".join(repr(n) for n in names)
        raise Conflict(f"mail source(s) {which} of organization {org.name!r} still fill the archive mailbox by "
                       f"{address!r}: removing the address would make their next run create a second mailbox for it; "
                       f"first set the source's mailbox to another address of it (PATCH /api/orgs/{org.name}/sources/NAME) "
                       f"or remove the source (mailark source remove NAME --org {org.name}, or the Sources page)")


def _address_free(session: Session, org: Organization, address: str) -> None:
    if session.scalar(select(MailboxAddress.id).where(MailboxAddress.org_id == org.id, MailboxAddress.address == address)):
        raise Conflict(f"address {address!r} already belongs to an archive mailbox of organization {org.name!r}")


def create_mailbox(
    session: Session,
    principal: Principal,
    org: Organization | str,
    address: str,
    *,
    kind: str = "user",
    owner: str | None = None,
    display_name: str | None = None,
    strict_domain: bool = True,
) -> Mailbox:
    """A new archive mailbox, within the licence; `owner` (a login, user mailboxes) gets read access at once.
    `strict_domain=False` is ingest's: see `_require_mailbox_domain`."""
    o = require_admin(session, principal, org, "adding an archive mailbox")
    if kind not in KINDS:
        raise ControlError(f"invalid mailbox kind {kind!r}: use user, shared or journal")
    a = new_address(address)
    _require_mailbox_domain(session, o, a, kind, strict=strict_domain)
    _address_free(session, o, a)
    owner_user = None
    if owner is not None:
        if kind != "user":
            raise ControlError("only user mailboxes have an owner; grant access to shared mailboxes with a permission")
        owner_user = session.scalar(select(User).where(User.org_id == o.id, User.login == owner.strip().lower()))
        if owner_user is None:
            raise NotFound(f"organization {o.name!r} has no user {owner!r}")
    licensing.check_can_add_mailbox(session, o)
    mb = Mailbox(id=new_id(), org_id=o.id, kind=kind, primary_address=a, created_at=datetime.now(UTC),
                 owner_user_id=owner_user.id if owner_user else None, display_name=display_name)
    mb.addresses = [MailboxAddress(org_id=o.id, address=a, is_primary=True)]
    session.add(mb)
    if owner_user is not None:
        session.add(MailboxPermission(org_id=o.id, mailbox_id=mb.id, user_id=owner_user.id, access="read"))
    session.flush()
    audit.record(session, principal, "mailbox.create", org_id=o.id, target=a,
                 details={"kind": kind, "owner": owner_user.login if owner_user else None})
    return mb


def ensure_archive_mailbox(session: Session, principal: Principal, org: Organization | str, address: str,
                           kind: str = "user") -> tuple[Mailbox, bool]:
    """The mailbox with this address, or a new one if the licence allows: (mailbox, created)."""
    o = visible_org(session, principal, org)
    found = find_mailbox(session, o, address)
    if found is not None:
        return found, False
    try:
        with session.begin_nested():
            return create_mailbox(session, principal, o, address, kind=kind, strict_domain=False), True
    except (IntegrityError, Conflict):  # created by a concurrent writer a moment ago
        found = find_mailbox(session, o, address)
        if found is None:
            raise
        return found, False


@dataclass(frozen=True)
class MailboxInfo:
    id: str
    kind: str
    primary_address: str
    aliases: list[str]
    owner: str | None
    display_name: str | None
    retired_at: datetime | None = None  # retired: no new mail (control.retirement)


def _info(session: Session, mb: Mailbox) -> MailboxInfo:
    owner = session.scalar(select(User.login).where(User.id == mb.owner_user_id)) if mb.owner_user_id else None
    aliases = sorted(a.address for a in mb.addresses if not a.is_primary)
    retired = mb.retired_at.replace(tzinfo=UTC) if mb.retired_at and not mb.retired_at.tzinfo else mb.retired_at
    return MailboxInfo(mb.id, mb.kind, mb.primary_address, aliases, owner, mb.display_name, retired)


def list_mailboxes(session: Session, principal: Principal, org: Organization | str) -> list[MailboxInfo]:
    """Admins see every mailbox (not its content); others see the ones they may read."""
    o = visible_org(session, principal, org)
    q = select(Mailbox).where(Mailbox.org_id == o.id).order_by(Mailbox.primary_address)
    if ADMIN not in roles_in(session, principal, o):
        q = q.where(Mailbox.id.in_(readable_mailbox_ids(session, principal, o) or {""}))
    return [_info(session, mb) for mb in session.scalars(q)]


def get_mailbox(session: Session, principal: Principal, org: Organization | str, address: str) -> MailboxInfo:
    o = visible_org(session, principal, org)
    mb = _mailbox(session, o, address)
    if ADMIN not in roles_in(session, principal, o) and mb.id not in readable_mailbox_ids(session, principal, o):
        raise NotFound(f"organization {o.name!r} has no archive mailbox {address!r}")
    return _info(session, mb)


def add_alias(session: Session, principal: Principal, org: Organization | str, mailbox: str, alias: str) -> None:
    """A secondary address; unique within the organization."""
    o = require_admin(session, principal, org, "adding an address")
    mb = _mailbox(session, o, mailbox)
    _refuse_synced(mb)
    a = new_address(alias)
    _address_free(session, o, a)
    _require_org_domain(session, o, a, "an address of an archive mailbox")
    mb.addresses.append(MailboxAddress(org_id=o.id, address=a, is_primary=False))  # the loaded collection stays true
    session.flush()
    audit.record(session, principal, "mailbox.add_alias", org_id=o.id, target=mb.primary_address, details={"alias": a})


def remove_alias(session: Session, principal: Principal, org: Organization | str, alias: str) -> None:
    o = require_admin(session, principal, org, "removing an address")
    a = normalize_address(alias)
    row = session.scalar(select(MailboxAddress).where(MailboxAddress.org_id == o.id, MailboxAddress.address == a))
    if row is None:
        raise NotFound(f"organization {o.name!r} has no archive mailbox address {a!r}")
    _refuse_synced(row.mailbox)
    if row.is_primary:
        raise Conflict(f"{a!r} is the primary address of its mailbox: make another address primary first")
    _refuse_filled(session, o, a)
    primary = row.mailbox.primary_address
    session.delete(row)
    session.flush()
    audit.record(session, principal, "mailbox.remove_alias", org_id=o.id, target=primary, details={"alias": a})


def make_primary(session: Session, principal: Principal, org: Organization | str, address: str) -> None:
    """Swap the primary address with one of the mailbox's aliases (the old primary stays as an alias).

    Mail keeps reaching the mailbox by either address (routing and `mailbox:` search go by any address
    to the mailbox id); the journal and import profiles that name the old address are moved to the new one,
    so that removing the old alias later cannot make them create a second mailbox.
    """
    o = require_admin(session, principal, org, "changing a primary address")
    a = normalize_address(address)
    row = session.scalar(select(MailboxAddress).where(MailboxAddress.org_id == o.id, MailboxAddress.address == a))
    if row is None:
        raise NotFound(f"organization {o.name!r} has no archive mailbox address {a!r}")
    mb = row.mailbox
    _refuse_synced(mb)
    if row.is_primary:
        raise Conflict(f"{a!r} is already the primary address of its mailbox")
    _require_org_domain(session, o, a, "a primary address")
    old = mb.primary_address
    for addr in mb.addresses:
        addr.is_primary = addr.address == a
    mb.primary_address = a
    moved = repoint_profiles(session, o, old, a)
    session.flush()
    audit.record(session, principal, "mailbox.make_primary", org_id=o.id, target=a,
                 details={"was": old, "profiles": moved} if moved else {"was": old})


def repoint_profiles(session: Session, org: Organization, old: str, new: str) -> list[str]:
    """Journal and SMTP-import profiles that fill the mailbox by its old primary address now name the new one."""
    moved = []
    for p in session.scalars(select(SourceProfile).where(SourceProfile.org_id == org.id)):
        cfg = json.loads(p.config or "{}")
        if cfg.get("mailbox") == old:
            cfg["mailbox"] = new
            p.config = json.dumps(cfg, sort_keys=True)
            moved.append(p.name)
    return sorted(moved)


def _grantee(session: Session, org: Organization, user: str | None, group: str | None) -> tuple[str | None, str | None, str]:
    if (user is None) == (group is None):
        raise ControlError("give exactly one of a user or a group")
    if user is not None:
        u = session.scalar(select(User).where(User.org_id == org.id, User.login == user.strip().lower()))
        if u is None:
            raise NotFound(f"organization {org.name!r} has no user {user!r}")
        return u.id, None, f"user {u.login}"
    g = session.scalar(select(Group).where(Group.org_id == org.id, Group.name == group.strip()))  # type: ignore[union-attr]
    if g is None:
        raise NotFound(f"organization {org.name!r} has no group {group!r}")
    return None, g.id, f"group {g.name}"


def grant_read(session: Session, principal: Principal, org: Organization | str, mailbox: str, *,
               user: str | None = None, group: str | None = None) -> None:
    o = require_admin(session, principal, org, "granting mailbox access")
    mb = _mailbox(session, o, mailbox)
    if mb.kind == "journal":
        raise Conflict("journal mailboxes are readable only through the Compliance role: assign that role instead")
    uid, gid, who = _grantee(session, o, user, group)
    exists_ = session.scalar(select(MailboxPermission.id).where(
        MailboxPermission.mailbox_id == mb.id,
        MailboxPermission.user_id == uid if uid else MailboxPermission.group_id == gid))
    if exists_ is None:
        session.add(MailboxPermission(org_id=o.id, mailbox_id=mb.id, user_id=uid, group_id=gid, access="read"))
        session.flush()
    audit.record(session, principal, "mailbox.grant", org_id=o.id, target=mb.primary_address, details={"to": who})


def revoke_read(session: Session, principal: Principal, org: Organization | str, mailbox: str, *,
                user: str | None = None, group: str | None = None) -> None:
    o = require_admin(session, principal, org, "revoking mailbox access")
    mb = _mailbox(session, o, mailbox)
    uid, gid, who = _grantee(session, o, user, group)
    rows = list(session.scalars(select(MailboxPermission).where(
        MailboxPermission.mailbox_id == mb.id,
        MailboxPermission.user_id == uid if uid else MailboxPermission.group_id == gid)))
    if not rows:
        raise NotFound(f"{who} has no permission on {mb.primary_address}")
    for r in rows:
        session.delete(r)
    session.flush()
    audit.record(session, principal, "mailbox.revoke", org_id=o.id, target=mb.primary_address, details={"from": who})


def list_permissions(session: Session, principal: Principal, org: Organization | str, mailbox: str) -> list[str]:
    """'user LOGIN' / 'group NAME' entries that may read the mailbox (Compliance holders not listed)."""
    o = require_admin(session, principal, org, "listing mailbox permissions")
    mb = _mailbox(session, o, mailbox)
    out = []
    for p in session.scalars(select(MailboxPermission).where(MailboxPermission.mailbox_id == mb.id)):
        if p.user_id:
            out.append(f"user {session.scalar(select(User.login).where(User.id == p.user_id))}")
        else:
            out.append(f"group {session.scalar(select(Group.name).where(Group.id == p.group_id))}")
    return sorted(out)


def require_readable(session: Session, principal: Principal, org: Organization | str, address: str) -> Mailbox:
    """The mailbox if the principal may read its content, else NotFound (for a reader, what it may not
    read does not exist). The caller audits the read itself (`audit.record(..., "mail.read", ...)`)."""
    o = visible_org(session, principal, org)
    mb = find_mailbox(session, o, address)
    if mb is None or mb.id not in readable_mailbox_ids(session, principal, o):
        raise NotFound(f"organization {o.name!r} has no archive mailbox {address!r} that you may read")
    return mb


def readable_mailbox_ids(session: Session, principal: Principal, org: Organization | str | None = None) -> set[str]:
    """The archive mailboxes whose content this principal may read (in `org`, or everywhere it may see)."""
    q = select(Mailbox.id)
    if org is not None:
        o = visible_org(session, principal, org)
        q = q.where(Mailbox.org_id == o.id)
    if principal.is_deployment:
        if principal.org_ids is not None:
            q = q.where(Mailbox.org_id.in_(principal.org_ids))
        return set(session.scalars(q))
    if principal.is_operator:
        # No content right of its own: only what an active support grant names (control.support).
        granted_ids = granted_mailbox_ids(session, principal)
        if principal.org_ids is not None:
            q = q.where(Mailbox.org_id.in_(principal.org_ids))
        return set(session.scalars(q.where(Mailbox.id.in_(granted_ids)))) if granted_ids else set()
    if org is not None and not can_see_org(principal, o.id):
        return set()
    user = user_of(session, principal.id)  # read with the organization when it was named
    if user is None or not user.active or (org is not None and o.id != user.org_id):
        return set()
    own_org = session.get(Organization, user.org_id)
    roles = roles_in(session, principal, own_org)  # type: ignore[arg-type]
    if COMPLIANCE in roles:
        return set(session.scalars(_ORG_MAILBOXES, {"org_id": user.org_id}))
    if own_org is not None and not own_org.readers_by_default and READER not in roles:
        return set()  # the organization gives web access to mail only to users with the Reader role
    return set(session.scalars(_GRANTED_MAILBOXES, {"org_id": user.org_id, "user_id": user.id}))


# A user's two cases, built once (building a statement cost more than running it, as in control.audit).
_ORG_MAILBOXES = select(Mailbox.id).where(Mailbox.org_id == bindparam("org_id"))
_GRANTED_MAILBOXES = select(Mailbox.id).where(
    Mailbox.org_id == bindparam("org_id"), Mailbox.kind != "journal",
    Mailbox.id.in_(select(MailboxPermission.mailbox_id).where(or_(
        MailboxPermission.user_id == bindparam("user_id"),
        MailboxPermission.group_id.in_(select(GroupMember.group_id).where(GroupMember.user_id == bindparam("user_id")))))))


def granted_mailbox_ids(session: Session, principal: Principal, now: datetime | None = None) -> set[str]:
    """The mailbox ids the operator's active (unexpired, unrevoked) support grants name, in any organization."""
    now = now or datetime.now(UTC)
    out: set[str] = set()
    for g in session.scalars(select(SupportGrant).where(SupportGrant.operator_id == principal.id,
                                                        SupportGrant.revoked_at.is_(None))):
        if _aware(g.expires_at) > now:
            out.update(json.loads(g.mailbox_ids))
    return out


def _aware(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=UTC)
