"""Organizations and their keys: creation, lookup, and unwrapping keys for work on an archive.

Also the control plane's error types, and the licence-free `ensure_mailbox` used by imports
(the services acting for a principal are in identity, mailboxes, licensing, auth and audit).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from ulid import ULID

from mailark.control.models import Domain, Mailbox, MailboxAddress, Organization, OrgKey
from mailark.storage.keys import MasterKey, OrgKeys, WrappedKey, new_org_keys, unwrap_org_keys

if TYPE_CHECKING:  # control.principals imports this module's errors
    from mailark.control.principals import Principal

ORG_NAME = re.compile(r"^[a-z0-9_-]{1,63}$")
# Names no organization may take (its name is its default domain) and no Admin may add as a domain:
# the special-use names of RFC 6761 and the product's own. The deployment's journal domain and every
# name under it are reserved too (`reserved_domain`): journal addresses live there, one label per org.
RESERVED_NAMES = frozenset({"localhost", "invalid", "mailark"})
RESERVED_SUFFIXES = (".localhost", ".invalid")


def reserved_domain(domain: str, org_name: str | None = None) -> bool:
    """Is `domain` (normalized) one that only the deployment itself uses? An organization's own journal
    domain (<org_name>.<journal domain>) is not reserved for that organization."""
    from mailark.config.settings import get_settings

    journal = get_settings().journal.domain.strip().lower().rstrip(".")
    if org_name is not None and domain == f"{org_name}.{journal}":
        return False
    return (domain in RESERVED_NAMES or domain.endswith(RESERVED_SUFFIXES) or domain == journal
            or domain.endswith("." + journal))


class ControlError(Exception):
    """A refusal with a sentence for the person who asked (exit 1 in the CLI, 4xx in the API)."""


class NotFound(ControlError):
    pass


class Conflict(ControlError):
    pass


class Forbidden(ControlError):
    """The principal may see the thing but not do this to it (403)."""


class LimitExceeded(ControlError):
    """The licence does not allow it (the message names the limit and how to raise it)."""


class AuthFailed(ControlError):
    """Authentication failed; `retry_after` (seconds) is the back-off to respect; `locked` while even
    the right password is refused (the API answers 429 then, 401 otherwise)."""

    def __init__(self, message: str, retry_after: int | None = None, locked: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.locked = locked


def new_id() -> str:
    return str(ULID()).lower()


def validate_org_name(name: str) -> str:
    if not ORG_NAME.match(name):
        raise ControlError(
            f"invalid organization name {name!r}: use 1-63 characters a-z, 0-9, '_' or '-' "
            f"(no dots: the name is the organization's default domain)"
        )
    if reserved_domain(name):
        raise ControlError(f"the organization name {name!r} is reserved on this deployment: choose another")
    return name


class CreatedOrg(tuple):  # type: ignore[type-arg]
    """What `create_org` returns: unpacks as (org, keys) as it always did, and carries the first admin.

    `admin_password` is the one-time password of `admin_login`: show it once, it is stored hashed.
    """

    org: Organization
    keys: OrgKeys
    admin_login: str
    admin_password: str

    def __new__(cls, org: Organization, keys: OrgKeys, admin_login: str, admin_password: str) -> CreatedOrg:
        self = super().__new__(cls, (org, keys))
        self.org, self.keys, self.admin_login, self.admin_password = org, keys, admin_login, admin_password
        return self


def create_org(
    session: Session,
    name: str,
    master: MasterKey,
    *,
    users: int | None = None,
    storage_gb: int | None = None,
    trial: bool | None = None,
    mailboxes_per_user: int | None = None,
    auto_expand: bool = False,
    actor: Principal | None = None,
) -> CreatedOrg:
    """An organization with its keys, default domain, licence, an `admins` group and `admin@<name>`.

    Without licence figures it starts a 30-day trial with the small default licence; with them it
    is paid unless `trial` is set. Only operators serving every organization may create one.
    """
    from mailark.control import audit, identity, licensing
    from mailark.control.principals import ADMIN, Principal, require_unrestricted_operator

    actor = actor or Principal.deployment_operator()
    require_unrestricted_operator(actor, "creating an organization")
    validate_org_name(name)
    if trial is None:
        trial = users is None and storage_gb is None
    users = licensing.DEFAULT_USERS if users is None else users
    storage_gb = licensing.DEFAULT_STORAGE_GB if storage_gb is None else storage_gb
    mpu = licensing.DEFAULT_MAILBOXES_PER_USER if mailboxes_per_user is None else mailboxes_per_user
    licensing.check_terms(users, mpu, storage_gb)
    if session.scalar(select(Organization).where(Organization.name == name)) is not None:
        raise Conflict(f"organization {name!r} already exists")
    if session.scalar(select(Domain.id).where(Domain.name == name)) is not None:
        raise Conflict(f"{name!r} is already a domain of another organization: choose another name")
    org_id = new_id()
    keys, wrapped = new_org_keys(org_id, master)
    now = datetime.now(UTC)
    org = Organization(id=org_id, name=name, created_at=now, active_data_key_id=keys.data_key.key_id.hex())
    org.keys = [
        OrgKey(purpose=w.purpose, key_id=w.key_id, wrapped=w.wrapped, master_key_id=w.master_key_id, created_at=now)
        for w in wrapped
    ]
    lic = licensing.new_licence(org, users=users, mailboxes_per_user=mpu, storage_gb=storage_gb, trial=trial,
                                auto_expand=auto_expand, now=now)
    try:
        with session.begin_nested():
            session.add(org)
            session.flush()
            session.add_all([lic, identity.default_domain(org, now)])
            session.flush()
    except IntegrityError:  # created by a concurrent call a moment ago
        raise Conflict(f"organization {name!r} already exists") from None
    audit.record(session, actor, "org.create", org_id=org.id, target=name,
                 details={"users": users, "mailboxes_per_user": mpu, "storage_gb": storage_gb, "trial": trial})
    identity.create_group(session, actor, org, "admins", audit_event=False)
    identity.assign_role(session, actor, org, ADMIN, group="admins", audit_event=False)
    first = identity.create_user(session, actor, org, f"admin@{name}", display_name="Administrator", audit_event=False)
    identity.add_member(session, actor, org, "admins", first.user.login, audit_event=False)
    audit.record(session, actor, "user.create", org_id=org.id, target=first.user.login,
                 details={"first_admin": True, "group": "admins"})
    return CreatedOrg(org, keys, first.user.login, first.one_time_password or "")


def get_org(session: Session, name: str) -> Organization:
    org = session.scalar(select(Organization).where(Organization.name == name))
    if org is None:
        raise NotFound(f"no organization named {name!r} (create it with: mailark org create {name})")
    return org


def list_orgs(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization).order_by(Organization.name)))


def org_keys(session: Session, org: Organization, master: MasterKey) -> OrgKeys:
    rows = session.scalars(select(OrgKey).where(OrgKey.org_id == org.id).order_by(OrgKey.id)).all()
    wrapped = [WrappedKey(r.purpose, r.key_id, r.wrapped, r.master_key_id) for r in rows]
    return unwrap_org_keys(org.id, master, wrapped, org.active_data_key_id)


def normalize_address(address: str) -> str:
    a = address.strip().lower()
    if a.count("@") != 1 or not all(a.split("@")) or any(c.isspace() for c in a):
        raise ControlError(f"invalid mailbox address {address!r}: expected name@domain")
    return a


_UNSAFE_IN_ADDRESS = re.compile(r"[/\\\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]|\.\.")


def new_address(address: str) -> str:
    """An address a new mailbox, alias or synced user gets: `normalize_address`, and nothing that could
    turn into a path (`/`, `\\`, `..`), a control character or a bidi control. Lookups stay lenient."""
    a = normalize_address(address)
    if len(a) > 320 or _UNSAFE_IN_ADDRESS.search(a):
        raise ControlError(f"invalid mailbox address {address!r}: an address may not contain '/', '\\', '..', "
                           "control or direction characters")
    return a


def find_mailbox(session: Session, org: Organization, address: str) -> Mailbox | None:
    a = normalize_address(address)
    row = session.scalar(
        select(MailboxAddress).where(MailboxAddress.org_id == org.id, MailboxAddress.address == a)
    )
    return row.mailbox if row else None


def ensure_mailbox(session: Session, org: Organization, address: str, kind: str = "user") -> tuple[Mailbox, bool]:
    """The archive mailbox with this address, created if none has it yet: (mailbox, created)."""
    found = find_mailbox(session, org, address)
    if found is not None:
        return found, False
    a = new_address(address)
    mb = Mailbox(id=new_id(), org_id=org.id, kind=kind, primary_address=a, created_at=datetime.now(UTC))
    mb.addresses = [MailboxAddress(org_id=org.id, address=a, is_primary=True)]
    try:
        with session.begin_nested():
            session.add(mb)
    except IntegrityError:  # created by a concurrent import a moment ago
        found = find_mailbox(session, org, a)
        if found is None:
            raise
        return found, False
    return mb, True
