"""Organizations and their keys: creation, lookup, and unwrapping keys for work on an archive."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from ulid import ULID

from control.models import Mailbox, MailboxAddress, Organization, OrgKey
from storage.keys import MasterKey, OrgKeys, WrappedKey, new_org_keys, unwrap_org_keys

ORG_NAME = re.compile(r"^[a-z0-9_-]{1,63}$")


class ControlError(Exception):
    """A refusal with a sentence for the person who asked (exit 1 in the CLI, 4xx in the API)."""


class NotFound(ControlError):
    pass


class Conflict(ControlError):
    pass


def new_id() -> str:
    return str(ULID()).lower()


def validate_org_name(name: str) -> str:
    if not ORG_NAME.match(name):
        raise ControlError(
            f"invalid organization name {name!r}: use 1-63 characters a-z, 0-9, '_' or '-' "
            f"(no dots: the name is the organization's default domain)"
        )
    return name


def create_org(session: Session, name: str, master: MasterKey) -> tuple[Organization, OrgKeys]:
    validate_org_name(name)
    if session.scalar(select(Organization).where(Organization.name == name)) is not None:
        raise Conflict(f"organization {name!r} already exists")
    org_id = new_id()
    keys, wrapped = new_org_keys(org_id, master)
    now = datetime.now(UTC)
    org = Organization(id=org_id, name=name, created_at=now, active_data_key_id=keys.data_key.key_id.hex())
    org.keys = [
        OrgKey(purpose=w.purpose, key_id=w.key_id, wrapped=w.wrapped, master_key_id=w.master_key_id, created_at=now)
        for w in wrapped
    ]
    try:
        with session.begin_nested():
            session.add(org)
    except IntegrityError:  # created by a concurrent call a moment ago
        raise Conflict(f"organization {name!r} already exists") from None
    return org, keys


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
    a = normalize_address(address)
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
