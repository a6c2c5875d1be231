"""Retention policies and legal holds: what they cover, when a copy expires, and who may change them.

The rules (plain functions, no catalogue): a copy is covered by a policy when it lies in one of the
policy's mailboxes (or any, when it names none), in its folder or a folder below (or any), and
among the copies its query matches (or any). Its expiry under a policy is its message date (or the
date it was archived, as the policy says) plus the period. Precedence:

1. a legal hold beats every policy: a held copy is never deleted, whatever expired;
2. among the policies that cover a copy, the one that keeps it longest wins (the latest expiry;
   for policies counting from the same date, the longest period), so adding a policy can never
   shorten a promise; ties go to `review` over `delete`, then to the older policy;
3. a copy no policy covers is kept for ever.

A message without a date (or a quarantined item) counts from the date it was archived.

Changes are Compliance's and audited (`retention.policy.*`, `hold.*`); the evaluation over the
catalogue and the index is the runtime's (operations/retention.py).
"""

from __future__ import annotations

import calendar
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.control import audit
from mailark.control.models import LegalHold, Mailbox, Organization, RetentionPolicy
from mailark.control.orgs import Conflict, ControlError, NotFound, find_mailbox, new_id
from mailark.control.principals import COMPLIANCE, Principal, require_role

BASES = ("message-date", "archived")
ACTIONS = ("delete", "review")
MIN_REASON = 5
_PERIOD = re.compile(r"^\s*([1-9][0-9]{0,4})\s*([dmy])\s*$", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
MAX_YEARS = 200


# ---- periods ---------------------------------------------------------------------------------------


def parse_period(text: str) -> tuple[int, str]:
    """`10y` -> (10, "y"); days, months or years; refuses anything else in words."""
    m = _PERIOD.match(text or "")
    if not m:
        raise ControlError(f"a retention period is a number and d, m or y (e.g. 90d, 6m, 10y), not {text!r}")
    n, unit = int(m.group(1)), m.group(2).lower()
    if {"d": n / 365, "m": n / 12, "y": n}[unit] > MAX_YEARS:
        raise ControlError(f"a retention period is at most {MAX_YEARS} years")
    return n, unit


def add_period(start: datetime, n: int, unit: str) -> datetime:
    """`start` plus n days, months or years; a month end stays in its month (31 Jan + 1m = 28/29 Feb)."""
    if unit == "d":
        return start + timedelta(days=n)
    months = n if unit == "m" else 12 * n
    y, m0 = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m0 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def period_words(keep: str) -> str:
    n, unit = parse_period(keep)
    word = {"d": "day", "m": "month", "y": "year"}[unit]
    return f"{n} {word}{'' if n == 1 else 's'}"


# ---- the rules -------------------------------------------------------------------------------------


class CopyFacts(Protocol):
    """What the rules need of an archived copy (catalog.retention.CopyRow has these).

    `query_hits` arguments below map a query's text to the item ids it matches (the runtime asks
    the index once per distinct query)."""

    item_id: str
    mailbox_id: str
    folder: str
    date: datetime | None
    archived_at: datetime
    size: int


@dataclass(frozen=True)
class PolicyRule:
    id: str
    name: str
    keep: str
    base: str = "message-date"
    action: str = "delete"
    mailbox_ids: frozenset[str] = frozenset()
    folder: str | None = None
    query: str | None = None
    created_at: datetime = datetime(1970, 1, 1, tzinfo=UTC)

    def covers(self, c: CopyFacts, query_hits: Mapping[str, set[str]] | None = None) -> bool:
        if self.mailbox_ids and c.mailbox_id not in self.mailbox_ids:
            return False
        if self.folder and not (c.folder == self.folder or (c.folder or "").startswith(self.folder + "/")):
            return False
        if self.query:
            return query_hits is not None and c.item_id in query_hits.get(self.query, ())
        return True

    def expires(self, c: CopyFacts) -> datetime:
        start = c.archived_at if self.base == "archived" or c.date is None else c.date
        n, unit = parse_period(self.keep)
        return add_period(_utc(start), n, unit)


@dataclass(frozen=True)
class HoldRule:
    id: str
    case: str
    mailbox_ids: frozenset[str] = frozenset()
    query: str | None = None

    def covers(self, c: CopyFacts, query_hits: Mapping[str, set[str]] | None = None) -> bool:
        if self.mailbox_ids and c.mailbox_id in self.mailbox_ids:
            return True
        return bool(self.query) and query_hits is not None and c.item_id in query_hits.get(self.query or "", ())


@dataclass(frozen=True)
class Decision:
    """What happens to one copy: kept for ever (`policy` None), until `expires` under `policy`,
    and never while `holds` (case names) is not empty."""

    expires: datetime | None
    policy: PolicyRule | None
    holds: tuple[str, ...] = ()

    @property
    def held(self) -> bool:
        return bool(self.holds)

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now


def winning_policy(c: CopyFacts, policies: Iterable[PolicyRule],
                   query_hits: Mapping[str, set[str]] | None = None) -> tuple[PolicyRule | None, datetime | None]:
    """The covering policy that keeps the copy longest (see the module's precedence), and its expiry."""
    best: tuple[datetime, int, datetime, str] | None = None
    winner = None
    for p in policies:
        if not p.covers(c, query_hits):
            continue
        # latest expiry first; then review over delete; then the older policy
        rank = (p.expires(c), 1 if p.action == "review" else 0, -p.created_at.timestamp(), p.id)
        if best is None or rank[:3] > best[:3]:
            best, winner = rank, p  # type: ignore[assignment]
    return winner, (best[0] if best else None)


def decide(c: CopyFacts, policies: Iterable[PolicyRule], holds: Iterable[HoldRule],
           query_hits: Mapping[str, set[str]] | None = None) -> Decision:
    """The copy's fate: its winning policy and expiry, and the holds (case names) that keep it."""
    policy, expires = winning_policy(c, policies, query_hits)
    cases = tuple(sorted({h.case for h in holds if h.covers(c, query_hits)}))
    return Decision(expires, policy, cases)


@dataclass
class Shortening:
    """Copies whose expiry a change brings forward, by the policy that governed them before."""

    copies: int = 0
    bytes: int = 0
    by_policy: dict[str, int] = field(default_factory=dict)
    overridden: int = 0  # copies the changed policy covers that another policy keeps longer

    def warning(self, name: str) -> str | None:
        if not self.copies:
            return None
        whose = ", ".join(f"{k!r} ({v})" for k, v in sorted(self.by_policy.items()))
        return (f"saving policy {name!r} would shorten how long {self.copies} archived copies "
                f"({self.bytes:,} bytes) are kept, now governed by {whose}; confirm to save it anyway")


def shortening(copies: Iterable[CopyFacts], before: list[PolicyRule], after: list[PolicyRule], changed: str | None,
               query_hits: Mapping[str, set[str]] | None = None) -> Shortening:
    """Compare the expiry of every copy under two sets of policies (a copy kept for ever has no
    expiry, the longest of all). `changed`: the policy's id, to count copies it covers in vain."""
    out = Shortening()
    for c in copies:
        p0, e0 = winning_policy(c, before, query_hits)
        p1, e1 = winning_policy(c, after, query_hits)
        if e0 is not None and e1 is not None and e1 < e0:  # kept for ever (None) is never shorter
            out.copies += 1
            out.bytes += int(c.size or 0)
            assert p0 is not None
            out.by_policy[p0.name] = out.by_policy.get(p0.name, 0) + 1
        if changed is not None and p1 is not None and p1.id != changed and any(
                p.id == changed and p.covers(c, query_hits) for p in after):
            out.overridden += 1
    return out


# ---- the control-plane side: policies --------------------------------------------------------------


@dataclass(frozen=True)
class PolicySpec:
    name: str
    keep: str
    mailboxes: tuple[str, ...] = ()
    folder: str | None = None
    query: str | None = None
    base: str = "message-date"
    action: str = "delete"


def _utc(d: datetime) -> datetime:
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)


def _ids(text: str) -> frozenset[str]:
    return frozenset(json.loads(text or "[]"))


def rule_of(p: RetentionPolicy) -> PolicyRule:
    return PolicyRule(p.id, p.name, p.keep, p.base, p.action, _ids(p.mailbox_ids), p.folder, p.query, _utc(p.created_at))


def hold_rule_of(h: LegalHold) -> HoldRule:
    return HoldRule(h.id, h.case_name, _ids(h.mailbox_ids), h.query)


def _mailbox_ids(session: Session, org: Organization, addresses: Iterable[str]) -> list[str]:
    ids = []
    for a in addresses:
        mb = find_mailbox(session, org, a)
        if mb is None:
            raise NotFound(f"organization {org.name!r} has no archive mailbox {a!r}")
        ids.append(mb.id)
    return sorted(set(ids))


def _addresses(session: Session, ids: Iterable[str]) -> list[str]:
    ids = list(ids)
    if not ids:
        return []
    return sorted(session.scalars(select(Mailbox.primary_address).where(Mailbox.id.in_(ids))))


def validate_spec(session: Session, org: Organization, spec: PolicySpec) -> dict[str, Any]:
    """The columns of a policy from what a person typed, or ControlError saying what is wrong."""
    if not _NAME.match(spec.name or ""):
        raise ControlError("a policy name is 1-100 letters, digits, spaces, dots, dashes or underscores")
    parse_period(spec.keep)
    if spec.base not in BASES:
        raise ControlError(f"--from is one of {', '.join(BASES)}, not {spec.base!r}")
    if spec.action not in ACTIONS:
        raise ControlError(f"--action is one of {', '.join(ACTIONS)}, not {spec.action!r}")
    folder = (spec.folder or "").strip().strip("/") or None
    query = (spec.query or "").strip() or None
    return {"name": spec.name, "keep": spec.keep.strip().lower(), "base": spec.base, "action": spec.action,
            "folder": folder, "query": query,
            "mailbox_ids": json.dumps(_mailbox_ids(session, org, spec.mailboxes))}


def require_compliance(session: Session, principal: Principal, org: Organization | str, doing: str) -> Organization:
    return require_role(session, principal, org, (COMPLIANCE,), doing)


def policies(session: Session, org: Organization) -> list[RetentionPolicy]:
    return list(session.scalars(select(RetentionPolicy).where(RetentionPolicy.org_id == org.id)
                                .order_by(RetentionPolicy.created_at, RetentionPolicy.name)))


@dataclass(frozen=True)
class _NewCopy:
    item_id: str
    mailbox_id: str
    folder: str
    date: datetime | None
    archived_at: datetime
    size: int = 0


LockPlan = Callable[[str, str, datetime | None, datetime], datetime | None]


def lock_plan(session: Session, org_id: str, default_keep: str | None = None) -> LockPlan:
    """WORM: the date to lock a new copy's objects until, from the policies of now.

    The winning policy's expiry (the longest that covers the copy); a copy none covers is locked
    for ``default_keep`` from its message date, or not at all. Query policies are left out: a copy
    is not indexed when it arrives, so its lock would depend on timing (a later policy or hold
    lengthens locks, never the reverse)."""
    rules = [rule_of(p) for p in session.scalars(select(RetentionPolicy).where(RetentionPolicy.org_id == org_id))
             if not p.query]
    default = parse_period(default_keep) if default_keep else None

    def plan(mailbox_id: str, folder: str, date: datetime | None, archived_at: datetime) -> datetime | None:
        c = _NewCopy("", mailbox_id, folder, _utc(date) if date else None, _utc(archived_at))
        _, expires = winning_policy(c, rules)
        if expires is None and default is not None:
            expires = add_period(c.date or c.archived_at, *default)
        return expires

    return plan


def get_policy(session: Session, org: Organization, name: str) -> RetentionPolicy:
    p = session.scalar(select(RetentionPolicy).where(RetentionPolicy.org_id == org.id, RetentionPolicy.name == name))
    if p is None:
        raise NotFound(f"organization {org.name!r} has no retention policy named {name!r} (see mailark retention list)")
    return p


def draft_policy(session: Session, org: Organization, spec: PolicySpec, existing: RetentionPolicy | None,
                 now: datetime) -> PolicyRule:
    """The rule a save would make (for the shortening check before anything is written)."""
    cols = validate_spec(session, org, spec)
    pid = existing.id if existing else "(new)"
    created = _utc(existing.created_at) if existing else now
    return PolicyRule(pid, cols["name"], cols["keep"], cols["base"], cols["action"], _ids(cols["mailbox_ids"]),
                      cols["folder"], cols["query"], created)


def save_policy(session: Session, principal: Principal, org: Organization, spec: PolicySpec, *,
                existing: RetentionPolicy | None = None, warning: str | None = None,
                now: datetime | None = None) -> RetentionPolicy:
    """Create (or change `existing`) and audit; the caller has checked what it shortens."""
    now = now or datetime.now(UTC)
    cols = validate_spec(session, org, spec)
    if existing is None:
        if session.scalar(select(RetentionPolicy.id).where(RetentionPolicy.org_id == org.id,
                                                           RetentionPolicy.name == cols["name"])):
            raise Conflict(f"organization {org.name!r} already has a retention policy named {cols['name']!r}")
        p = RetentionPolicy(id=new_id(), org_id=org.id, created_at=now, created_by=principal.login,
                            updated_at=now, updated_by=principal.login, **cols)
        session.add(p)
        before: dict[str, Any] | None = None
        action = "retention.policy.create"
    else:
        p = existing
        before = describe_policy(session, p)
        if cols["name"] != p.name and session.scalar(select(RetentionPolicy.id).where(
                RetentionPolicy.org_id == org.id, RetentionPolicy.name == cols["name"])):
            raise Conflict(f"organization {org.name!r} already has a retention policy named {cols['name']!r}")
        for k, v in cols.items():
            setattr(p, k, v)
        p.updated_at, p.updated_by = now, principal.login
        action = "retention.policy.change"
    session.flush()
    details: dict[str, Any] = {"policy": describe_policy(session, p)}
    if before is not None:
        details["before"] = before
    if warning:
        details["confirmed_warning"] = warning
    audit.record(session, principal, action, org_id=org.id, target=p.name, details=details)
    return p


def remove_policy(session: Session, principal: Principal, org: Organization, p: RetentionPolicy,
                  warning: str | None = None) -> None:
    details: dict[str, Any] = {"policy": describe_policy(session, p)}
    if warning:
        details["confirmed_warning"] = warning
    audit.record(session, principal, "retention.policy.remove", org_id=org.id, target=p.name, details=details)
    session.delete(p)
    session.flush()


def describe_policy(session: Session, p: RetentionPolicy) -> dict[str, Any]:
    mailboxes = _addresses(session, _ids(p.mailbox_ids))
    scope = "organization" if not (mailboxes or p.folder or p.query) else "selection"
    return {"name": p.name, "keep": p.keep, "from": p.base, "action": p.action, "scope": scope,
            "mailboxes": mailboxes, "folder": p.folder, "query": p.query,
            "created_at": p.created_at, "created_by": p.created_by, "updated_at": p.updated_at,
            "updated_by": p.updated_by}


# ---- legal holds -----------------------------------------------------------------------------------


def active_holds(session: Session, org_id: str) -> list[LegalHold]:
    return list(session.scalars(select(LegalHold).where(LegalHold.org_id == org_id, LegalHold.released_at.is_(None))
                                .order_by(LegalHold.placed_at)))


def all_holds(session: Session, org: Organization) -> list[LegalHold]:
    return list(session.scalars(select(LegalHold).where(LegalHold.org_id == org.id).order_by(LegalHold.placed_at)))


def place_hold(session: Session, principal: Principal, org: Organization | str, case: str, reason: str, *,
               mailboxes: Iterable[str] = (), query: str | None = None, now: datetime | None = None) -> LegalHold:
    """A new hold on mailboxes or a query (the query is checked by the caller against the index)."""
    o = require_compliance(session, principal, org, "placing a legal hold")
    case = (case or "").strip()
    if not case or len(case) > 200:
        raise ControlError("name the case (1-200 characters)")
    if len((reason or "").strip()) < MIN_REASON:
        raise ControlError("say why the mail is held (a reason of at least 5 characters): it goes into the audit log")
    mailboxes = list(mailboxes)
    query = (query or "").strip() or None
    if bool(mailboxes) == bool(query):
        raise ControlError("a hold covers mailboxes (--mailbox, repeatable) or a search query (--query), one of the two")
    if any(h.case_name == case for h in active_holds(session, o.id)):
        raise Conflict(f"case {case!r} already has an active hold in organization {o.name!r}")
    h = LegalHold(id=new_id(), org_id=o.id, case_name=case, reason=reason.strip(),
                  mailbox_ids=json.dumps(_mailbox_ids(session, o, mailboxes)), query=query,
                  placed_at=now or datetime.now(UTC), placed_by=principal.login)
    session.add(h)
    session.flush()
    audit.record(session, principal, "hold.place", org_id=o.id, target=case, details=describe_hold(session, h))
    return h


def release_hold(session: Session, principal: Principal, org: Organization | str, case: str, reason: str,
                 now: datetime | None = None) -> LegalHold:
    o = require_compliance(session, principal, org, "releasing a legal hold")
    if len((reason or "").strip()) < MIN_REASON:
        raise ControlError("say why the hold is released (a reason of at least 5 characters): it goes into the audit log")
    h = next((h for h in active_holds(session, o.id) if h.case_name == case), None)
    if h is None:
        raise NotFound(f"organization {o.name!r} has no active hold for case {case!r} (see mailark hold list)")
    h.released_at, h.released_by, h.release_reason = now or datetime.now(UTC), principal.login, reason.strip()
    session.flush()
    audit.record(session, principal, "hold.release", org_id=o.id, target=case, details=describe_hold(session, h))
    return h


def describe_hold(session: Session, h: LegalHold) -> dict[str, Any]:
    return {"case": h.case_name, "reason": h.reason, "mailboxes": _addresses(session, _ids(h.mailbox_ids)),
            "query": h.query, "placed_at": h.placed_at, "placed_by": h.placed_by,
            "released_at": h.released_at, "released_by": h.released_by, "release_reason": h.release_reason,
            "active": h.released_at is None}
