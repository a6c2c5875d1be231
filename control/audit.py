"""The audit log: append-only and hash-chained.

One chain for the whole deployment (events carry their org_id, so an organization's events are a
filter on it): seq runs 1, 2, 3, ... without gaps, each row stores the previous row's hash and its
own hash = SHA-256 over the canonical JSON of its fields including prev_hash. The single row of
`audit_head` holds the newest seq and hash; appends update it first, which serializes them (a
row lock on PostgreSQL, the write lock on SQLite) and lets `verify_chain` see a removed tail.
Anchor `head_hash` outside the database (e.g. in the operators' logs) to detect a rewrite of the
whole chain.

Details never hold secrets: keys that look like one are replaced by "[redacted]".
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from control.models import AuditEvent, AuditHead, Organization
from control.principals import AUDITOR, Principal, require_role, require_unrestricted_operator

GENESIS = "0" * 64
SECRET_KEY = re.compile(r"pass|secret|token|totp|otp|code|hash|key|cookie|session", re.I)
REDACTED = "[redacted]"


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): REDACTED if SECRET_KEY.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of an event's fields (prev_hash included, hash excluded)."""
    return hashlib.sha256(_dumps(fields).encode()).hexdigest()


def _fields(ev: AuditEvent) -> dict[str, Any]:
    return {
        "seq": ev.seq, "at": ev.at, "org_id": ev.org_id, "actor_kind": ev.actor_kind, "actor_id": ev.actor_id,
        "actor_login": ev.actor_login, "action": ev.action, "target": ev.target, "outcome": ev.outcome,
        "details": ev.details, "prev_hash": ev.prev_hash,
    }


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    *,
    org_id: str | None = None,
    target: str = "",
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the change)."""
    actor = actor or Principal("system", "anonymous", "anonymous")
    session.flush()
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    seq, prev = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    ev = AuditEvent(
        seq=seq,
        at=(now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds"),
        org_id=org_id,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_login=actor.login,
        action=action,
        target=target[:400],
        outcome=outcome,
        details=_dumps(_scrub(details or {})),
        prev_hash=prev,
    )
    ev.hash = event_hash(_fields(ev))
    session.add(ev)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=ev.hash))
    session.flush()
    return ev


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def verify_chain(session: Session) -> ChainVerdict:
    """Recompute the whole chain: any edited, deleted or inserted row shows as the first bad seq."""
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    head_seq, head_hash = head if head else (0, GENESIS)
    prev, expected, n = GENESIS, 1, 0

    def bad(seq: int, reason: str) -> ChainVerdict:
        return ChainVerdict(False, n, head_seq, head_hash, seq, reason)

    for ev in session.scalars(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000)):
        if ev.seq != expected:
            return bad(expected, f"event {expected} is missing (next is {ev.seq})")
        if ev.prev_hash != prev:
            return bad(ev.seq, f"event {ev.seq} does not link to the event before it")
        if event_hash(_fields(ev)) != ev.hash:
            return bad(ev.seq, f"event {ev.seq} was changed after it was written")
        prev, expected, n = ev.hash, expected + 1, n + 1
    if head_seq != expected - 1 or head_hash != prev:
        return bad(expected, f"the chain ends at event {expected - 1} but its head says {head_seq}: events were removed")
    return ChainVerdict(True, n, head_seq, head_hash)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    org_id: str | None
    actor: str
    action: str
    target: str
    outcome: str
    details: dict[str, Any]


def list_events(
    session: Session, principal: Principal, org: Organization | str | None, *, after_seq: int = 0, limit: int = 100
) -> list[AuditEntry]:
    """An organization's events (Auditor role), or the deployment's (operators serving every organization)."""
    q = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if org is None:
        require_unrestricted_operator(principal, "reading the deployment's audit log")
    else:
        o = require_role(session, principal, org, (AUDITOR,), "reading the audit log")
        q = q.where(AuditEvent.org_id == o.id)
    rows = session.scalars(q.order_by(AuditEvent.seq).limit(limit))
    return [
        AuditEntry(r.seq, r.at, r.org_id, r.actor_login, r.action, r.target, r.outcome, json.loads(r.details))
        for r in rows
    ]
