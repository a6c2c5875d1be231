"""The audit log: append-only and hash-chained.

One chain for the whole deployment (events carry their org_id, so an organization's events are a
filter on it): seq runs 1, 2, 3, ... without gaps, each row stores the previous row's hash and its
own hash = SHA-256 over the canonical JSON of its fields including prev_hash. The single row of
`audit_head` holds the newest seq and hash; appends update it first, which serializes them (a
row lock on PostgreSQL, the write lock on SQLite) and lets `verify_chain` see a removed tail.
Anchor `head_hash` outside the database (e.g. in the operators' logs) to detect a rewrite of the
whole chain.

Details never hold secrets: keys that look like one are replaced by "[redacted]".

Reading (`list_events`): filters and keyset paging on seq run in SQL (indexes of migration 0009),
so a page costs the same at the top of a million events as at the bottom; the authorization is
the Auditor role in the organization, or an operator serving every organization for the whole log.

Verifying (`verify_chain`): a full verification recomputes every event from seq 1 (seconds at
200,000 events), so pages and the API run the incremental one (`full=False`): it starts from the
newest checkpoint (`audit_checkpoints`: a seq and the hash a passing verification found there),
rechecks that event (still there, same stored hash, hash still matches its fields), then walks the
newer events exactly as the full walk does (links, hashes, gaps, the head). A passing verification
records a checkpoint at the head, in the caller's transaction, so it commits or rolls back with
what that transaction saw. The nightly maintenance flow and `mailark audit verify` run the full one.
What each catches:
- incremental: any change, insertion or removal after the newest checkpoint, a removed tail (the
  head, or a checkpoint beyond the head), and a change of the checkpoint's own event;
- NOT the incremental: an edit of an event BEFORE the newest checkpoint (its own hash recomputes
  fine and the checkpoint only vouches for the link at its seq). The next full verification
  (nightly) finds it; pages warn when the last full one is older than two days or never ran.
  Checkpoints are in the same database: whoever can rewrite events can rewrite them too, which
  only the full walk and an anchor outside the database (`head_hash`) expose.
The walk is bounded by the head read at its start: the head and the events up to it are written
by one transaction (`record` holds the head lock), so a concurrent append is never seen half-done.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from mailark.control.audit_events import GENESIS, HASHED, event_hash, new_event
from mailark.control.models import AuditCheckpoint, AuditEvent, AuditHead, Organization
from mailark.control.orgs import ControlError
from mailark.control.principals import AUDITOR, Principal, require_role, require_unrestricted_operator, visible_org


def _fields(ev: AuditEvent) -> dict[str, Any]:
    return {name: getattr(ev, name) for name in HASHED}


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
    conn = session.connection()  # Core statements: the ORM's machinery cost an audited read ~1 ms
    seq, prev = conn.execute(_NEXT_SEQ).one()
    row = new_event(seq, prev, (actor.kind, actor.id, actor.login), action, org_id=org_id, target=target,
                    outcome=outcome, details=details, now=now)
    conn.execute(_INSERT_EVENT, row)
    conn.execute(_SET_HEAD_HASH, {"head_hash": row["hash"]})
    return AuditEvent(**row)  # what was written (not attached to the session)


# Built once: building them cost more than running them (an audited read paid ~1 ms for it). The
# head's UPDATE takes the lock and returns the new seq with the previous hash in one statement.
_HEAD, _EVENTS = AuditHead.__table__, AuditEvent.__table__
_NEXT_SEQ = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + 1).returning(_HEAD.c.seq, _HEAD.c.hash)
_INSERT_EVENT = insert(_EVENTS)
_SET_HEAD_HASH = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("head_hash"))


# Checkpoints kept: the newest incremental ones, and every full one of the last days (plus the newest full).
KEEP_INCREMENTAL = 20
KEEP_FULL_DAYS = 90
FULL_STALE_AFTER = timedelta(days=2)


@dataclass(frozen=True)
class ChainVerdict:
    """The verdict of one verification.

    from_seq: where the walk started (1, or the checkpoint's seq); full: it walked from the genesis;
    events_checked: events whose hash it recomputed (the checkpoint's own included); events: events
    found intact from seq 1 (those a checkpoint vouches for included); last_full_at: the newest
    passing full verification (this one included), None if there never was one.
    """

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None
    from_seq: int = 1
    full: bool = True
    events_checked: int = 0
    last_full_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def full_is_stale(self, now: datetime | None = None) -> bool:
        """No full verification ever, or the last one is older than two days (pages warn)."""
        return self.last_full_at is None or (now or datetime.now(UTC)) - self.last_full_at > FULL_STALE_AFTER


def _utc(when: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they were written in UTC."""
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def last_full_verification(session: Session) -> datetime | None:
    return _utc(session.scalar(select(func.max(AuditCheckpoint.verified_at)).where(AuditCheckpoint.full.is_(True))))


def verify_chain(session: Session, *, full: bool = True, now: datetime | None = None) -> ChainVerdict:
    """Check the chain: any edited, deleted or inserted row shows as the first bad seq.

    full: recompute every event from seq 1. Otherwise start from the newest checkpoint (see the module
    docstring for what that misses). A passing verification records a checkpoint at the head in the
    caller's transaction (the caller commits it); a failing one records nothing.
    """
    now = now or datetime.now(UTC)
    # The checkpoint before the head: a checkpoint committed before this read had its head committed too.
    cp = None if full else session.execute(
        select(AuditCheckpoint.seq, AuditCheckpoint.hash).order_by(AuditCheckpoint.seq.desc()).limit(1)).one_or_none()
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    head_seq, head_hash = head if head else (0, GENESIS)
    prev, expected, n, checked, from_seq = GENESIS, 1, 0, 0, 1

    def bad(seq: int, reason: str) -> ChainVerdict:
        return ChainVerdict(False, n, head_seq, head_hash, seq, reason, from_seq, cp is None, checked,
                            last_full_verification(session))

    if cp is not None:
        from_seq = cp.seq
        if cp.seq > head_seq:
            return bad(head_seq + 1, f"event {cp.seq} was verified before, but the chain's head is now {head_seq}: "
                                     f"events were removed")
        ev = session.scalars(select(AuditEvent).where(AuditEvent.seq == cp.seq)
                             .execution_options(populate_existing=True)).one_or_none()
        if ev is None:
            return bad(cp.seq, f"event {cp.seq} was verified before and is missing now")
        checked = 1
        if ev.hash != cp.hash:
            return bad(cp.seq, f"event {cp.seq} was changed since it was verified (its stored hash differs)")
        if event_hash(_fields(ev)) != ev.hash:
            return bad(cp.seq, f"event {cp.seq} was changed after it was written")
        prev, expected, n = ev.hash, cp.seq + 1, cp.seq

    walk = (select(AuditEvent).where(AuditEvent.seq >= expected, AuditEvent.seq <= head_seq)
            .order_by(AuditEvent.seq).execution_options(yield_per=1000))
    for ev in session.scalars(walk):
        if ev.seq != expected:
            return bad(expected, f"event {expected} is missing (next is {ev.seq})")
        checked += 1
        if ev.prev_hash != prev:
            return bad(ev.seq, f"event {ev.seq} does not link to the event before it")
        if event_hash(_fields(ev)) != ev.hash:
            return bad(ev.seq, f"event {ev.seq} was changed after it was written")
        prev, expected, n = ev.hash, expected + 1, n + 1
    if head_seq != expected - 1 or head_hash != prev:
        return bad(expected, f"the chain ends at event {expected - 1} but its head says {head_seq}: events were removed")
    beyond = session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.seq > head_seq))
    if beyond is not None:  # appended since the head was read (read committed), or put there behind its back
        if (session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0) < beyond:
            return bad(beyond, f"event {beyond} lies beyond the chain's head ({head_seq}): it was inserted")
    if head_seq and (cp is None or head_seq > cp.seq):
        _record_checkpoint(session, head_seq, head_hash, cp is None, now)
    return ChainVerdict(True, n, head_seq, head_hash, None, None, from_seq, cp is None, checked,
                        last_full_verification(session))


def _record_checkpoint(session: Session, seq: int, hash_: str, full: bool, now: datetime) -> None:
    """Insert the checkpoint (a concurrent verification that recorded the same seq wins; a full one
    marks it full), then prune the table to a bounded size."""
    row = {"seq": seq, "hash": hash_, "verified_at": now, "full": full}
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        # Imported here: the PostgreSQL dialect costs a SQLite deployment's every CLI call ~30 ms to import.
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        ins = insert(AuditCheckpoint).values(**row)
        session.execute(ins.on_conflict_do_update(index_elements=["seq"], set_={"full": True, "verified_at": now})
                        if full else ins.on_conflict_do_nothing(index_elements=["seq"]))
    else:  # pragma: no cover - the control plane runs on SQLite or PostgreSQL
        from sqlalchemy.exc import IntegrityError

        try:
            with session.begin_nested():
                session.add(AuditCheckpoint(**row))
        except IntegrityError:
            pass
    oldest_kept = session.scalar(select(AuditCheckpoint.seq).where(AuditCheckpoint.full.is_(False))
                                 .order_by(AuditCheckpoint.seq.desc()).offset(KEEP_INCREMENTAL - 1).limit(1))
    if oldest_kept is not None:
        session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.full.is_(False), AuditCheckpoint.seq < oldest_kept))
    newest_full = session.scalar(select(func.max(AuditCheckpoint.seq)).where(AuditCheckpoint.full.is_(True)))
    if newest_full is not None:
        session.execute(delete(AuditCheckpoint).where(
            AuditCheckpoint.full.is_(True), AuditCheckpoint.seq < newest_full,
            AuditCheckpoint.verified_at < now - timedelta(days=KEEP_FULL_DAYS)))


class AuditChainBroken(ControlError):
    """The audit chain failed its check: a security event (the message names the first bad event)."""

    def __init__(self, verdict: ChainVerdict) -> None:
        super().__init__(f"the audit log's hash chain is BROKEN at event {verdict.first_bad_seq}: {verdict.reason}. "
                         f"Treat this as a security incident: compare with a backup and the head hashes "
                         f"recorded outside the database")
        self.verdict = verdict


def verify_audit_chain(sessions: Callable[[], AbstractContextManager[Session]]) -> ChainVerdict:
    """The nightly full verification, in its own transaction (its checkpoint is committed); raises
    AuditChainBroken when the chain fails."""
    with sessions() as s:
        v = verify_chain(s, full=True)
    if not v.ok:
        raise AuditChainBroken(v)
    return v


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


@dataclass(frozen=True)
class AuditFilter:
    """Which events to list; empty fields match every event. Every field becomes SQL (no Python filtering).

    action: exact (`auth.login`), or a prefix when it ends with "." or "*" (`content.`, `content.export*`);
    actor: a login, exact (case-insensitive for lower-case logins); target: a substring, any case;
    since/until: `at` >= since and `at` < until (UTC); org: one organization's events, by name, in the
    deployment-wide log only.
    """

    action: str = ""
    actor: str = ""
    outcome: str = ""
    target: str = ""
    since: datetime | None = None
    until: datetime | None = None
    org: str = ""

    def as_dict(self) -> dict[str, str]:
        """The non-empty fields as text (what an export records in its audit event)."""
        out = {k: (v.isoformat() if isinstance(v, datetime) else str(v).strip()) for k, v in self.__dict__.items() if v}
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class AuditPage(Sequence[AuditEntry]):
    """One page of events plus the cursors around it (None: there is nothing more that way).

    `older` is the `before_seq` of the next older page, `newer` the `after_seq` of the next newer one;
    keyset cursors, so a page never repeats or skips an event while new ones are appended. The page is
    also the sequence of its events (callers that want only the list iterate it).
    """

    events: list[AuditEntry]
    older: int | None = None
    newer: int | None = None

    def __len__(self) -> int:
        return len(self.events)

    def __getitem__(self, i: Any) -> Any:
        return self.events[i]

    def __iter__(self) -> Iterator[AuditEntry]:
        return iter(self.events)


MAX_LIMIT = 10_000


def parse_time(text: str | None, *, end_of_day: bool = False) -> datetime | None:
    """A filter bound from `YYYY-MM-DD` or ISO 8601 (no zone = UTC); None when empty.

    A date alone is the start of that day, or with `end_of_day` the start of the next (so an `until`
    date includes the whole day). Raises ValueError saying what is expected.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date: use YYYY-MM-DD or an ISO 8601 time such as "
                         f"2026-11-27T14:30:00Z") from None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if end_of_day and len(text) == 10:
        when += timedelta(days=1)
    return when


def _stamp(when: datetime) -> str:
    """A bound in the stored form of `at` (ISO 8601, UTC, microseconds): text that compares in time order."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return when.isoformat(timespec="microseconds")


def _conditions(f: AuditFilter) -> list[ColumnElement[bool]]:
    c: list[ColumnElement[bool]] = []
    action = f.action.strip()
    if action.endswith(("*", ".")):
        prefix = action.rstrip("*")
        if prefix:
            # LIKE, right under every collation. Measured (bench/audit_query.py): walking the organization's
            # events newest first and testing the prefix beats an index range that must then be sorted.
            c.append(AuditEvent.action.startswith(prefix, autoescape=True))
    elif action:
        c.append(AuditEvent.action == action)
    actor = f.actor.strip()
    if actor:
        c.append(AuditEvent.actor_login.in_(sorted({actor, actor.lower()})))
    if f.outcome.strip():
        c.append(AuditEvent.outcome == f.outcome.strip())
    if f.target.strip():
        c.append(AuditEvent.target.icontains(f.target.strip(), autoescape=True))
    if f.since is not None:
        c.append(AuditEvent.at >= _stamp(f.since))
    if f.until is not None:
        c.append(AuditEvent.at < _stamp(f.until))
    return c


def _scope(session: Session, principal: Principal, org: Organization | str | None, f: AuditFilter,
           doing: str = "reading") -> Organization | None:
    """Who may read what: an organization's Auditor its events; operators serving every organization all."""
    if org is None:
        require_unrestricted_operator(principal, f"{doing} the deployment's audit log")
        return visible_org(session, principal, f.org.strip()) if f.org.strip() else None
    o = require_role(session, principal, org, (AUDITOR,), f"{doing} the audit log")
    if f.org.strip() and f.org.strip() != o.name:
        raise ControlError("the organization filter is for the deployment-wide audit log: "
                           f"this is the log of {o.name!r}")
    return o


def list_events(
    session: Session,
    principal: Principal,
    org: Organization | str | None,
    *,
    filters: AuditFilter | None = None,
    after_seq: int = 0,
    before_seq: int | None = None,
    newest_first: bool | None = None,
    limit: int = 100,
) -> AuditPage:
    """An organization's events (Auditor role), or the deployment's (operators serving every organization).

    Keyset paging on seq: newest first below `before_seq` (the default when it is given), or oldest
    first above `after_seq` (followers: pass the last seq seen). Filters and paging run in SQL.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ControlError(f"a page holds 1 to {MAX_LIMIT} events, not {limit}")
    f = filters or AuditFilter()
    o = _scope(session, principal, org, f)
    conds = _conditions(f)
    if o is not None:
        conds.insert(0, AuditEvent.org_id == o.id)
    window = list(conds)
    if after_seq:
        window.append(AuditEvent.seq > after_seq)
    if before_seq is not None:
        window.append(AuditEvent.seq < before_seq)
    desc = before_seq is not None if newest_first is None else newest_first
    q = select(AuditEvent).where(*window).order_by(AuditEvent.seq.desc() if desc else AuditEvent.seq)
    rows = list(session.scalars(q.limit(limit + 1)))
    more = len(rows) > limit
    events = [AuditEntry(r.seq, r.at, r.org_id, r.actor_login, r.action, r.target, r.outcome, json.loads(r.details))
              for r in rows[:limit]]

    def any_beyond(*where: ColumnElement[bool]) -> bool:
        return session.scalar(select(AuditEvent.seq).where(*conds, *where).limit(1)) is not None

    if desc:
        older = events[-1].seq if more else None
        top = events[0].seq if events else (before_seq - 1 if before_seq is not None else None)
        newer = top if before_seq is not None and top is not None and any_beyond(AuditEvent.seq > top) else None
    else:
        newer = events[-1].seq if more else None
        bottom = events[0].seq if events else after_seq + 1
        older = bottom if after_seq and any_beyond(AuditEvent.seq < bottom) else None
    return AuditPage(events, older, newer)


def newest_seq(session: Session) -> int:
    return int(session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0)


def start_export(session: Session, principal: Principal, org: Organization | str | None,
                 filters: AuditFilter | None = None) -> int:
    """Check the reader, record `audit.export` (an export of the log is itself an event) and return the
    newest seq it covers: the export lists the events up to it, so what it holds is fixed at this moment."""
    f = filters or AuditFilter()
    o = _scope(session, principal, org, f, "exporting")
    upto = newest_seq(session)
    record(session, principal, "audit.export", org_id=o.id if o is not None else None,
           target=o.name if o is not None else "deployment", details={"filters": f.as_dict(), "up_to_seq": upto})
    return upto


def iter_events(sessions: Callable[[], AbstractContextManager[Session]], principal: Principal,
                org: Organization | str | None, filters: AuditFilter | None, up_to_seq: int,
                chunk: int = 1000) -> Iterator[AuditEntry]:
    """Every matching event up to `up_to_seq`, newest first, a chunk per short session (for streaming):
    memory stays flat however long the log, and each chunk checks the reader's role again."""
    cursor: int | None = up_to_seq + 1
    while cursor is not None:
        with sessions() as s:
            page = list_events(s, principal, org, filters=filters, before_seq=cursor, limit=chunk)
        yield from page.events
        cursor = page.older
