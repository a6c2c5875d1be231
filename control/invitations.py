"""First-login invitations: one-time links that set a user's password.

The link carries a random token; only its SHA-256 is stored (set_password_tokens), so a copy of the
control database cannot be used to set anyone's password. A token is valid for 72 hours and once; a
newer invitation for the same user replaces older ones. The password itself is never sent: the user
chooses it on the set-password page, under the password policy (control.auth.check_password_policy).
The e-mail is sent by operations.invites through the configured SMTP relay.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.auth import end_all_sessions, hash_password
from mailark.control.models import Organization, SetPasswordToken, User
from mailark.control.orgs import ControlError, new_id
from mailark.control.principals import Principal

VALID_FOR = timedelta(hours=72)
INVALID = ("this set-password link is not valid (it was used already, replaced by a newer invitation, or has "
           "expired after 72 hours): ask your administrator to send a new invitation")


@dataclass(frozen=True)
class Invitation:
    login: str
    org: str
    sent_to: str
    token: str  # the raw token: goes into the e-mail only, never stored or logged
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _utc(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def issue(session: Session, principal: Principal, user: User, sent_to: str | None = None,
          now: datetime | None = None) -> Invitation:
    """A new set-password token for `user` (earlier unused ones stop working); audited without the token."""
    now = now or datetime.now(UTC)
    to = (sent_to or user.login).strip()
    if "@" not in to:
        raise ControlError(f"{to!r} is not an e-mail address to send the invitation to")
    session.execute(update(SetPasswordToken).where(SetPasswordToken.user_id == user.id,
                                                   SetPasswordToken.used_at.is_(None)).values(used_at=now))
    token = secrets.token_urlsafe(32)
    session.add(SetPasswordToken(id=new_id(), org_id=user.org_id, user_id=user.id, token_hash=_hash(token), sent_to=to,
                                 created_at=now, expires_at=now + VALID_FOR))
    session.flush()
    org = session.get(Organization, user.org_id)
    audit.record(session, principal, "user.invite", org_id=user.org_id, target=user.login, details={"sent_to": to})
    return Invitation(user.login, org.name if org else "", to, token, now + VALID_FOR)


def _valid(session: Session, token: str, now: datetime) -> SetPasswordToken:
    row = session.scalar(select(SetPasswordToken).where(SetPasswordToken.token_hash == _hash(token or "")))
    if row is None or row.used_at is not None or _utc(row.expires_at) <= now:
        raise ControlError(INVALID)
    return row


def login_for(session: Session, token: str, now: datetime | None = None) -> str:
    """The login a valid token sets the password of (the page shows it); ControlError if not valid."""
    row = _valid(session, token, now or datetime.now(UTC))
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise ControlError(INVALID)
    return user.login


def set_password(session: Session, token: str, password: str, now: datetime | None = None) -> str:
    """Set the password of the token's user (policy checked) and use the token up; returns the login."""
    now = now or datetime.now(UTC)
    row = _valid(session, token, now)
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise ControlError(INVALID)
    user.password_hash = hash_password(password, user.login)
    user.must_change_password = False
    row.used_at = now
    end_all_sessions(session, "user", user.id)
    session.flush()
    audit.record(session, Principal("user", user.id, user.login, user.org_id), "user.set_password", org_id=user.org_id,
                 target=user.login, details={"via": "invitation"})
    return user.login
