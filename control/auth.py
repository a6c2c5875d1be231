"""Authentication: passwords (argon2), API tokens, web sessions, TOTP, throttling, operators.

Failures are *recorded*, not only refused: `login`, `authenticate_token` and `resume_session`
return an `AuthResult` instead of raising, and write the failure (throttling row + audit event)
into the caller's session, so the caller must commit it even when the attempt failed (the API
layer commits, then answers 401/429; `AuthResult.require()` raises `AuthFailed` after that).

Throttling: after MAX_FAILURES failed logins of one login name within WINDOW, that login is
locked for LOCKOUT (even the right password is refused); before that, each failure asks the
client to wait 2^(n-1) seconds (`retry_after`). Unknown login names are throttled the same way
and cost the same argon2 work, so responses do not reveal which accounts exist.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Select, and_, bindparam, delete, func, select
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.models import ApiToken, LoginFailure, Operator, OperatorOrg, Organization, User, WebSession
from mailark.control.orgs import AuthFailed, Conflict, ControlError, Forbidden, NotFound, new_id
from mailark.control.principals import (
    Principal,
    operator_principal,
    require_admin,
    require_unrestricted_operator,
    user_principal,
)
from mailark.storage.keys import MasterKey

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
# Wrong current passwords on a password change are throttled like logins, under this source name.
PASSWORD_CHANGE = "password-change"
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common-passwords.txt"
SESSION_TTL = timedelta(hours=12)
TOKEN_PREFIX = "mla_"
TOTP_ISSUER = "mailark"



def production_hasher() -> PasswordHasher:
    """argon2id with the RFC 9106 low-memory parameters (t=3, m=64 MiB, p=4): ~0.1 s a hash."""
    return PasswordHasher()


_hasher = production_hasher()  # stateless: parameters only (tests swap in a cheap one)


@cache
def _dummy_hash() -> str:
    """Verified against when there is no account, so that unknown logins cost the same time."""
    return _hasher.hash("mailark-no-such-account")


def utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


# ---- passwords ------------------------------------------------------------------------------


@cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, login: str | None = None) -> None:
    """At least 12 characters, not the login (or its name part), not a commonly used password."""
    if len(password) < MIN_PASSWORD:
        raise ControlError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    p = password.strip().lower()
    if login and p in {login.strip().lower(), login.strip().lower().split("@", 1)[0]}:
        raise ControlError("the password must not be the login: choose another")
    if p in _common_passwords():
        raise ControlError("that password is among the most commonly used ones: choose another")


def hash_password(password: str, login: str | None = None) -> str:
    check_password_policy(password, login)
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """Shown once to whoever hands it over; the user must change it at first login."""
    return secrets.token_urlsafe(12)


def _sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


# ---- secrets encrypted with the master key --------------------------------------------------


def _secret_key(master: MasterKey) -> bytes:
    return HKDF(SHA256(), 32, salt=None, info=b"mailark control-plane secrets v1").derive(master.key)


def encrypt_secret(master: MasterKey, plaintext: bytes, context: str) -> bytes:
    """AES-256-GCM under a key derived from the master key; `context` (e.g. the row id) is bound as AAD.

    Layout: 1 byte version, 16 ASCII master key id, 12 byte nonce, ciphertext+tag.
    """
    nonce = os.urandom(12)
    return b"\x01" + master.key_id.encode() + nonce + AESGCM(_secret_key(master)).encrypt(nonce, plaintext, context.encode())


def decrypt_secret(master: MasterKey, blob: bytes, context: str) -> bytes:
    if blob[:1] != b"\x01" or blob[1:17].decode(errors="replace") != master.key_id:
        raise ControlError("a stored secret was encrypted with another master key: configure the right master key")
    try:
        return AESGCM(_secret_key(master)).decrypt(blob[17:29], blob[29:], context.encode())
    except InvalidTag:
        raise ControlError("a stored secret failed to decrypt (damaged, or moved to another row)") from None


# ---- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthResult:
    principal: Principal | None
    error: str | None = None
    retry_after: int | None = None
    must_change_password: bool = False
    totp_enrolment_required: bool = False
    locked: bool = False
    totp_needed: bool = False  # the password was right but no code came: ask for it (the web login's 2nd step)
    token_scope: str | None = None  # for a token: "admin" or "read"

    @property
    def ok(self) -> bool:
        return self.principal is not None

    def require(self) -> Principal:
        if self.principal is None:
            raise AuthFailed(self.error or "authentication failed", self.retry_after, self.locked)
        return self.principal


Account = User | Operator


def _find_account(session: Session, login: str) -> Account | None:
    if "@" in login:
        return session.scalar(select(User).where(User.login == login))
    return session.scalar(select(Operator).where(Operator.name == login))


def _principal(session: Session, acct: Account) -> Principal:
    return user_principal(acct) if isinstance(acct, User) else operator_principal(session, acct)


def _org_id(acct: Account | None) -> str | None:
    return acct.org_id if isinstance(acct, User) else None


def _throttle_state(session: Session, login: str, source: str | None, now: datetime) -> tuple[int, datetime | None]:
    """(failures within WINDOW, time of the newest one) of this login from this source address: a
    guesser elsewhere locks out only itself, never the account's owner (issue 13)."""
    same_source = LoginFailure.source.is_(None) if source is None else LoginFailure.source == source
    n, last = session.execute(
        select(func.count(), func.max(LoginFailure.at)).where(LoginFailure.login == login, same_source,
                                                               LoginFailure.at > now - WINDOW)
    ).one()
    return n or 0, utc(last)


def _fail(session: Session, login: str, source: str | None, acct: Account | None, reason: str, now: datetime, *,
          count: bool = True, message: str | None = None) -> AuthResult:
    if count:
        session.add(LoginFailure(login=login, source=source, at=now))
    n, last = _throttle_state(session, login, source, now)
    locked = n >= MAX_FAILURES and last is not None
    if locked:
        retry = int((last + LOCKOUT - now).total_seconds()) + 1  # type: ignore[operator]
        message = f"too many failed logins for {login}: locked, try again in {max(1, retry // 60)} minutes"
    else:
        retry = 2 ** max(0, n - 1) if n else None
        message = message or "wrong login, password or code"
    actor = Principal("user" if isinstance(acct, User) else "operator", acct.id, login) if acct else None
    audit.record(session, actor, "auth.login", org_id=_org_id(acct), target=login, outcome="failed",
                 details={"reason": reason, "failures_in_window": n, "source": source}, now=now)
    return AuthResult(None, message, retry, locked=locked)


def _totp_ok(session: Session, master: MasterKey, acct: Account, code: str | None, now: datetime) -> bool:
    if not code or acct.totp_secret is None:
        return False
    secret = decrypt_secret(master, acct.totp_secret, f"totp:{acct.id}").decode()
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):  # one step of clock drift either way
        at = now + timedelta(seconds=30 * drift)
        step = int(at.timestamp()) // 30
        if secrets.compare_digest(totp.at(at).encode(), code.strip().encode()) and (acct.totp_last_step or -1) < step:
            acct.totp_last_step = step  # a code works once
            return True
    return False


class DirectoryUnavailable(ControlError):
    """The directory that checks this user's password cannot be asked right now."""


# (session, synced user, password) -> (accepted, reason for the audit log when not). The directory's
# own check (an LDAP bind) is a source's work, so the front ends pass it in:
# mailark.sources.directory.login.check_directory_password.
DirectoryCheck = Callable[[Session, User, str], tuple[bool, str]]


def login(
    session: Session, master: MasterKey, login: str, password: str, totp_code: str | None = None,
    now: datetime | None = None, directory_check: DirectoryCheck | None = None, source: str | None = None,
) -> AuthResult:
    """Check a login (`name@domain` for users, a bare name for MSP operators). Commit even on failure.

    A user synced from a directory is checked by `directory_check` (without one, refused). Failures
    are counted per login and `source` (the client's address): the lockout stops that source only."""
    now = now or datetime.now(UTC)
    login = login.strip().lower()
    acct = _find_account(session, login)
    n, last = _throttle_state(session, login, source, now)
    if n >= MAX_FAILURES and last is not None and now < last + LOCKOUT:
        verify_password(None, password)  # the same work as a real attempt
        return _fail(session, login, source, acct, "locked", now, count=False)
    if isinstance(acct, User) and acct.directory_profile_id:
        # A synced user's password is the directory's (an LDAP bind); the local hash is never used.
        try:
            if directory_check is None:
                raise DirectoryUnavailable("directory logins are not available here: sign in through the web app or API")
            ok, reason = directory_check(session, acct, password)
        except DirectoryUnavailable as e:  # not the user's fault: not counted for throttling, but audited
            return _fail(session, login, source, acct, "directory unavailable", now, count=False, message=str(e))
        if not ok:
            return _fail(session, login, source, acct, reason, now)
    elif not verify_password(acct.password_hash if acct else None, password) or acct is None:
        return _fail(session, login, source, acct, "unknown login" if acct is None else "wrong password", now)
    if not acct.active:
        return _fail(session, login, source, acct, "account disabled", now)
    org = session.get(Organization, acct.org_id) if isinstance(acct, User) else None
    enrol = False
    if acct.totp_enabled:
        if not _totp_ok(session, master, acct, totp_code, now):
            failed = _fail(session, login, source, acct, "missing or wrong TOTP code", now)  # counted: no password oracle
            return replace(failed, totp_needed=not totp_code and not failed.locked)
    elif org is not None and org.mfa_required:
        enrol = True
    session.execute(delete(LoginFailure).where(LoginFailure.login == login))
    p = _principal(session, acct)
    audit.record(session, p, "auth.login", org_id=_org_id(acct), target=login, now=now,
                 details={"mfa": acct.totp_enabled})
    return AuthResult(p, must_change_password=acct.must_change_password, totp_enrolment_required=enrol)


# ---- passwords and TOTP of an account ------------------------------------------------------------


def _account_of(session: Session, principal: Principal) -> Account:
    acct = session.get(User if principal.kind == "user" else Operator, principal.id) if principal.kind != "system" else None
    if acct is None:
        raise NotFound("no such account")
    return acct


def must_change_password(session: Session, principal: Principal) -> bool:
    """True while the account still uses a one-time password it was given."""
    model = User if principal.kind == "user" else Operator
    return bool(session.scalar(select(model.must_change_password).where(model.id == principal.id)))


def change_own_password(session: Session, principal: Principal, old: str, new: str, *,
                        keep_session_cookie: str | None = None, end_tokens: bool = False) -> int:
    """Change the caller's password and end their other web sessions (a stolen session must not
    outlive the password it was opened with); with `end_tokens`, their API tokens too. Returns how
    many sessions and tokens were ended."""
    acct = _account_of(session, principal)
    if isinstance(acct, User) and acct.directory_profile_id:
        raise Conflict("your password is your directory password: change it there (e.g. in Windows or your "
                       "organization's password page)")
    now = datetime.now(UTC)
    n, last = _throttle_state(session, principal.login, PASSWORD_CHANGE, now)
    if n >= MAX_FAILURES and last is not None and now < last + LOCKOUT:
        verify_password(None, old)  # the same work as a real attempt
        raise AuthFailed("too many wrong current passwords: try again later",
                         int((last + LOCKOUT - now).total_seconds()) + 1, locked=True)
    if not verify_password(acct.password_hash, old):
        session.add(LoginFailure(login=principal.login, source=PASSWORD_CHANGE, at=now))
        audit.record(session, principal, "auth.password_change", org_id=_org_id(acct), target=principal.login, outcome="failed")
        raise AuthFailed("the current password is wrong", 2 ** n)
    acct.password_hash = hash_password(new, acct.login if isinstance(acct, User) else acct.name)
    acct.must_change_password = False
    ended = end_other_sessions(session, principal.kind, acct.id, keep_session_cookie, end_tokens=end_tokens)
    audit.record(session, principal, "auth.password_change", org_id=_org_id(acct), target=principal.login,
                 details={"sessions_and_tokens_ended": ended, "tokens_ended": end_tokens})
    return ended


def reset_password(session: Session, principal: Principal, org: Organization | str, login: str) -> str:
    """An admin (or operator) gives a user a new one-time password; returns it (show it once)."""
    o = require_admin(session, principal, org, "resetting a password")
    user = session.scalar(select(User).where(User.org_id == o.id, User.login == login.strip().lower()))
    if user is None:
        raise NotFound(f"organization {o.name!r} has no user {login!r}")
    from mailark.control.identity import refuse_synced

    refuse_synced(session, user, f"the password of {user.login}")
    password = one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    audit.record(session, principal, "user.password_reset", org_id=o.id, target=user.login)
    return password


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # shown once (as a QR code of `uri`)
    uri: str


def begin_totp(session: Session, master: MasterKey, principal: Principal) -> TotpEnrolment:
    """A new secret for the acting account; it takes effect once `confirm_totp` sees a valid code."""
    acct = _account_of(session, principal)
    if acct.totp_enabled:
        raise Conflict("TOTP is already set up for this account; an admin can reset it")
    secret = pyotp.random_base32()
    acct.totp_secret = encrypt_secret(master, secret.encode(), f"totp:{acct.id}")
    audit.record(session, principal, "auth.totp_begin", org_id=_org_id(acct), target=principal.login)
    return TotpEnrolment(secret, pyotp.TOTP(secret).provisioning_uri(name=principal.login, issuer_name=TOTP_ISSUER))


def confirm_totp(session: Session, master: MasterKey, principal: Principal, code: str, now: datetime | None = None) -> None:
    acct = _account_of(session, principal)
    if acct.totp_secret is None:
        raise Conflict("start TOTP enrolment first")
    if not _totp_ok(session, master, acct, code, now or datetime.now(UTC)):
        audit.record(session, principal, "auth.totp_confirm", org_id=_org_id(acct), target=principal.login, outcome="failed")
        raise AuthFailed("the code does not match: check the authenticator app's clock and try the next code")
    acct.totp_enabled = True
    for ws in session.scalars(select(WebSession).where(  # sessions waiting for enrolment may now do everything
            WebSession.subject_kind == principal.kind, WebSession.subject_id == acct.id, WebSession.mfa_pending.is_(True))):
        ws.mfa_pending = False
    audit.record(session, principal, "auth.totp_confirm", org_id=_org_id(acct), target=principal.login)


def reset_totp(session: Session, principal: Principal, org: Organization | str, login: str, *,
               end_tokens: bool = False) -> None:
    o = require_admin(session, principal, org, "resetting TOTP")
    user = session.scalar(select(User).where(User.org_id == o.id, User.login == login.strip().lower()))
    if user is None:
        raise NotFound(f"organization {o.name!r} has no user {login!r}")
    user.totp_secret, user.totp_enabled, user.totp_last_step = None, False, None
    # whoever held the second factor may hold a session too: every session ends (tokens when asked)
    ended = end_other_sessions(session, "user", user.id, None, end_tokens=end_tokens)
    audit.record(session, principal, "user.totp_reset", org_id=o.id, target=user.login,
                 details={"sessions_and_tokens_ended": ended, "tokens_ended": end_tokens})


def set_mfa_required(session: Session, principal: Principal, org: Organization | str, required: bool) -> None:
    o = require_admin(session, principal, org, "changing the MFA policy")
    o.mfa_required = required
    ended = 0
    if required:  # users without TOTP must not go on with sessions or tokens made without it
        for u in session.scalars(select(User).where(User.org_id == o.id, User.totp_enabled.is_(False))):
            ended += end_other_sessions(session, "user", u.id, None, end_tokens=True)
    audit.record(session, principal, "org.mfa_required", org_id=o.id, target=o.name,
                 details={"required": required, "sessions_and_tokens_ended": ended})


# ---- API tokens ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewToken:
    id: str
    name: str
    token: str  # shown once
    expires_at: datetime | None


TOKEN_SCOPES = ("admin", "read")
DEFAULT_TOKEN_TTL = timedelta(days=90)
# "Last used" shows the owner which tokens are forgotten; a minute's precision is plenty. Writing it
# on every request made every API call commit (an fsync of the control plane) before it began.
LAST_USED_PRECISION = timedelta(minutes=1)


def create_token(
    session: Session, principal: Principal, name: str, *, ttl: timedelta | None = None, scope: str = "admin",
    now: datetime | None = None,
) -> NewToken:
    """A token for the acting account (for automation): with scope "admin" it acts as that account,
    with "read" it only reads. It expires after `ttl` (default 90 days): a forgotten token dies."""
    if scope not in TOKEN_SCOPES:
        raise ControlError(f"unknown token scope {scope!r}: use read or admin")
    if principal.kind == "system":
        raise Forbidden("the deployment operator works on the server and needs no token: create an operator account")
    acct = _account_of(session, principal)
    now = now or datetime.now(UTC)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id=new_id(), token_hash=_sha256(token), subject_kind=principal.kind, subject_id=acct.id, org_id=_org_id(acct),
        name=name[:100], created_at=now, expires_at=now + (ttl or DEFAULT_TOKEN_TTL), scope=scope,
    )
    session.add(row)
    audit.record(session, principal, "auth.token_create", org_id=row.org_id, target=f"{principal.login}:{name}",
                 details={"token_id": row.id, "scope": scope, "expires_at": row.expires_at.isoformat()}, now=now)
    return NewToken(row.id, row.name, token, row.expires_at)


def _with_account(holder: type[ApiToken] | type[WebSession], hash_column: Any) -> Select[Any]:
    """A token's (or web session's) row with its account's in one statement, built once: a request's
    check ran three (the row, the account, its one-time-password flag), and building the statement
    cost about as much as running it. Any kind but "user" names an `Operator`."""
    return (select(holder, User, Operator)
            .outerjoin(User, and_(holder.subject_kind == "user", User.id == holder.subject_id))
            .outerjoin(Operator, and_(holder.subject_kind != "user", Operator.id == holder.subject_id))
            .where(hash_column == bindparam("digest")))


_TOKEN_WITH_ACCOUNT = _with_account(ApiToken, ApiToken.token_hash)
_SESSION_WITH_ACCOUNT = _with_account(WebSession, WebSession.session_hash)


def _active(user: User | None, operator: Operator | None) -> Account | None:
    acct = user if user is not None else operator
    return acct if acct is not None and acct.active else None


def authenticate_token(session: Session, token: str, now: datetime | None = None) -> AuthResult:
    now = now or datetime.now(UTC)
    found = session.execute(_TOKEN_WITH_ACCOUNT, {"digest": _sha256(token.strip())}).first()
    row, acct = (found[0], _active(found[1], found[2])) if found else (None, None)
    expired = row is not None and row.expires_at is not None and utc(row.expires_at) <= now
    if row is None or acct is None or row.revoked_at is not None or expired:
        reason = "unknown token" if row is None else "revoked" if row.revoked_at else "expired" if expired else "account gone"
        audit.record(session, None, "auth.token", org_id=row.org_id if row else None,
                     target=f"token {row.id}" if row else "", outcome="failed", details={"reason": reason}, now=now)
        return AuthResult(None, "the API token is not valid (unknown, expired or revoked)")
    last = utc(row.last_used_at)
    if last is None or now - last >= LAST_USED_PRECISION or now < last:
        row.last_used_at = now
    return AuthResult(_principal(session, acct), token_scope=row.scope or "admin",
                      must_change_password=acct.must_change_password)


def revoke_token(session: Session, principal: Principal, token_id: str, now: datetime | None = None) -> None:
    """The token's owner, an Admin of its organization, or an operator may revoke it."""
    row = session.get(ApiToken, token_id)
    mine = row is not None and row.subject_kind == principal.kind and row.subject_id == principal.id
    allowed = mine
    if row is not None and not mine:
        if row.org_id is not None:
            org = session.get(Organization, row.org_id)
            try:
                require_admin(session, principal, org, "revoking a token")  # type: ignore[arg-type]
                allowed = True
            except (NotFound, Forbidden):
                allowed = False
        else:
            allowed = principal.is_unrestricted_operator
    if row is None or not allowed:
        raise NotFound(f"no API token {token_id!r}")
    row.revoked_at = row.revoked_at or now or datetime.now(UTC)
    audit.record(session, principal, "auth.token_revoke", org_id=row.org_id, target=f"token {row.id}")


def list_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(
        ApiToken.subject_kind == principal.kind, ApiToken.subject_id == principal.id).order_by(ApiToken.created_at)))


def list_org_tokens(session: Session, principal: Principal, org: Organization | str) -> list[tuple[str, ApiToken]]:
    """(owner's login, token) of every API token of the organization's users, for its Admins, who may revoke
    them (`revoke_token`); only metadata: the secrets are not stored."""
    o = require_admin(session, principal, org, "listing the organization's API tokens")
    q = (select(User.login, ApiToken).join(User, User.id == ApiToken.subject_id)
         .where(ApiToken.org_id == o.id, ApiToken.subject_kind == "user").order_by(User.login, ApiToken.created_at))
    return [(login, row) for login, row in session.execute(q)]


# ---- web sessions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSession:
    id: str
    cookie: str  # the cookie value; only its SHA-256 is stored
    expires_at: datetime


def start_session(
    session: Session, result: AuthResult, *, ttl: timedelta = SESSION_TTL, now: datetime | None = None
) -> NewSession:
    """A web session after a successful login; `mfa_pending` limits it to TOTP enrolment when required."""
    p = result.require()
    now = now or datetime.now(UTC)
    cookie = secrets.token_urlsafe(32)
    row = WebSession(id=new_id(), session_hash=_sha256(cookie), subject_kind=p.kind, subject_id=p.id, org_id=p.org_id,
                     created_at=now, expires_at=now + ttl, mfa_pending=result.totp_enrolment_required)
    session.add(row)
    session.flush()
    return NewSession(row.id, cookie, row.expires_at)


@dataclass(frozen=True)
class SessionInfo:
    principal: Principal
    session_id: str
    mfa_pending: bool
    must_change_password: bool = False  # the account still uses a one-time password (read with the session)


def resume_session(session: Session, cookie: str, now: datetime | None = None) -> SessionInfo | None:
    """The principal behind a session cookie, or None (unknown, expired, ended, account gone)."""
    now = now or datetime.now(UTC)
    found = session.execute(_SESSION_WITH_ACCOUNT, {"digest": _sha256(cookie)}).first()
    if found is None:
        return None
    row = found[0]
    if row.revoked_at is not None or utc(row.expires_at) <= now:
        return None
    acct = _active(found[1], found[2])
    if acct is None:
        return None
    return SessionInfo(_principal(session, acct), row.id, row.mfa_pending, acct.must_change_password)


def end_session(session: Session, cookie: str, now: datetime | None = None) -> None:
    row = session.scalar(select(WebSession).where(WebSession.session_hash == _sha256(cookie)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now or datetime.now(UTC)
        audit.record(session, Principal(row.subject_kind, row.subject_id, row.subject_id),  # type: ignore[arg-type]
                     "auth.logout", org_id=row.org_id, target=f"session {row.id}")


def end_other_sessions(session: Session, kind: str, subject_id: str, keep_session_cookie: str | None, *,
                       end_tokens: bool = False, now: datetime | None = None) -> int:
    """End an account's web sessions but the one whose cookie is given (and its tokens if asked)."""
    now = now or datetime.now(UTC)
    keep = _sha256(keep_session_cookie) if keep_session_cookie else None
    ended = 0
    for row in session.scalars(select(WebSession).where(WebSession.subject_kind == kind, WebSession.subject_id == subject_id,
                                                         WebSession.revoked_at.is_(None))):
        if row.session_hash != keep:
            row.revoked_at, ended = now, ended + 1
    if end_tokens:
        for tok in session.scalars(select(ApiToken).where(ApiToken.subject_kind == kind, ApiToken.subject_id == subject_id,
                                                           ApiToken.revoked_at.is_(None))):
            tok.revoked_at, ended = now, ended + 1
    return ended


def end_all_sessions(session: Session, kind: str, subject_id: str, now: datetime | None = None) -> None:
    """Used when an account is deleted or disabled: its sessions and tokens stop at once."""
    now = now or datetime.now(UTC)
    for row in session.scalars(select(WebSession).where(WebSession.subject_kind == kind, WebSession.subject_id == subject_id,
                                                         WebSession.revoked_at.is_(None))):
        row.revoked_at = now
    for tok in session.scalars(select(ApiToken).where(ApiToken.subject_kind == kind, ApiToken.subject_id == subject_id,
                                                       ApiToken.revoked_at.is_(None))):
        tok.revoked_at = now


# ---- MSP operators -----------------------------------------------------------------------------------

OPERATOR_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def create_operator(
    session: Session, principal: Principal, name: str, *, password: str | None = None, orgs: list[str] | None = None,
) -> tuple[Operator, str | None]:
    """An operator account (no '@' in its name); `orgs` limits it to those organizations. Returns a one-time password."""
    require_unrestricted_operator(principal, "creating an operator account")
    name = name.strip().lower()
    if not OPERATOR_NAME.match(name):
        raise ControlError(f"invalid operator name {name!r}: use a-z, 0-9, '.', '_' or '-' (no '@')")
    if session.scalar(select(Operator).where(Operator.name == name)) is not None:
        raise Conflict(f"operator {name!r} already exists")
    generated = None if password else one_time_password()
    op = Operator(id=new_id(), name=name, password_hash=hash_password(password or generated, name),  # type: ignore[arg-type]
                  must_change_password=generated is not None, all_orgs=orgs is None, active=True,
                  created_at=datetime.now(UTC))
    session.add(op)
    session.flush()
    for org_name in orgs or []:
        org = session.scalar(select(Organization).where(Organization.name == org_name))
        if org is None:
            raise NotFound(f"no organization named {org_name!r}")
        session.add(OperatorOrg(operator_id=op.id, org_id=org.id))
    audit.record(session, principal, "operator.create", target=name, details={"orgs": orgs})
    return op, generated


def delete_operator(session: Session, principal: Principal, name: str) -> None:
    require_unrestricted_operator(principal, "deleting an operator account")
    op = session.scalar(select(Operator).where(Operator.name == name.strip().lower()))
    if op is None:
        raise NotFound(f"no operator {name!r}")
    end_all_sessions(session, "operator", op.id)
    session.delete(op)
    audit.record(session, principal, "operator.delete", target=name)


