"""Billing records: per organization and calendar month (UTC), what the month is billed on.

- Licensed users and storage quota: the highest held at any moment of the month. No proration: a
  tier held for an hour bills the month. The licence's history is read from the audit log, which
  records every change with its before and after (`org.create`, `licence.change`,
  `licence.auto_expand`), so a change made and undone between two metering runs still counts and
  a month can be recomputed at any time with the same result (the log is append-only).
- Trial months are marked (`trial`: in its trial for some of the month); `billable`: paid for
  some of the month. A trial that ends becomes paid unless it was cancelled (then `expired`, not
  billable, until an operator renews the licence).
- A cancelled subscription (`licence.cancel`) is billed up to the end of the month it ends in (that
  month's maximum, as always); from its end on the status is `ended`, not billable, until the
  cancellation is undone (`licence.resume`).
- A month is `closed` once it is over: the record is final and no longer recomputed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailark.control import licensing
from mailark.control.models import AuditEvent, BillingRecord, Licence, Organization
from mailark.control.orgs import ControlError, NotFound
from mailark.control.principals import ADMIN, AUDITOR, Principal, require_role

LICENCE_ACTIONS = ("org.create", "licence.change", "licence.auto_expand", "licence.cancel_trial", "licence.renew",
                   "licence.cancel", "licence.resume")


def parse_month(month: str) -> tuple[datetime, datetime]:
    """'YYYY-MM' -> [first instant, first instant of the next month) in UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise ControlError(f"{month!r} is not a month: write it as YYYY-MM, e.g. 2026-11") from None
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def month_of(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m")


@dataclass(frozen=True)
class Change:
    at: datetime
    users: int | None  # the value after the change (None: unchanged)
    storage_gb: int | None
    users_before: int | None = None
    storage_gb_before: int | None = None
    trial: bool | None = None  # org.create: created as a trial
    action: str = ""
    ends_at: datetime | None = None  # licence.cancel: when the subscription ends


def licence_history(session: Session, org: Organization) -> list[Change]:
    """The organization's licence events, oldest first, from the audit log."""
    q = (select(AuditEvent).where(AuditEvent.org_id == org.id, AuditEvent.action.in_(LICENCE_ACTIONS),
                                  AuditEvent.outcome == "ok").order_by(AuditEvent.seq))
    out = []
    for ev in session.scalars(q):
        d = json.loads(ev.details or "{}")
        at = datetime.fromisoformat(ev.at)
        if ev.action == "org.create":
            out.append(Change(at, d.get("users"), d.get("storage_gb"), trial=bool(d.get("trial")), action=ev.action))
        elif ev.action == "licence.change":
            b, a = d.get("before", {}), d.get("after", {})
            out.append(Change(at, a.get("users"), a.get("storage_gb"), b.get("users"), b.get("storage_gb"), action=ev.action))
        elif ev.action == "licence.auto_expand":
            out.append(Change(at, None, d.get("after_gb"), None, d.get("before_gb"), action=ev.action))
        elif ev.action == "licence.cancel":
            ends = d.get("subscription_ends_at")
            out.append(Change(at, None, None, action=ev.action, ends_at=datetime.fromisoformat(ends) if ends else None))
        else:
            out.append(Change(at, None, None, action=ev.action))
    return out


def _ended_spans(history: list[Change], until: datetime) -> list[tuple[datetime, datetime]]:
    """[from, to) in which a cancelled subscription had ended: from its end until it was resumed (or `until`);
    a cancellation undone before its end leaves nothing."""
    spans = []
    for i, c in enumerate(history):
        if c.action != "licence.cancel" or c.ends_at is None:
            continue
        resumed = next((r.at for r in history[i + 1:] if r.action in ("licence.resume", "licence.renew")), None)
        end = resumed if resumed is not None else until
        if end > c.ends_at:
            spans.append((c.ends_at, end))
    return spans


def _status_segments(org: Organization, lic: Licence, history: list[Change], until: datetime) -> list[tuple[datetime, datetime, str]]:
    """[start, end, status) from creation to `until`: trial, then paid (or expired if cancelled, until renewed);
    after a cancelled subscription's end, `ended` (not billable) until the cancellation is undone."""
    segs = _trial_and_paid(org, lic, history, until)
    for a, b in _ended_spans(history, until):
        cut = []
        for s0, s1, st in segs:
            if st != "paid" or s1 <= a or s0 >= b:
                cut.append((s0, s1, st))
                continue
            if s0 < a:
                cut.append((s0, a, st))
            cut.append((max(s0, a), min(s1, b), "ended"))
            if s1 > b:
                cut.append((b, s1, st))
        segs = cut
    return segs


def _trial_and_paid(org: Organization, lic: Licence, history: list[Change], until: datetime) -> list[tuple[datetime, datetime, str]]:
    created = licensing.utc(org.created_at) or until
    was_trial = next((c.trial for c in history if c.action == "org.create"), None)
    renewals = [c.at for c in history if c.action == "licence.renew"]
    cancels = [c.at for c in history if c.action == "licence.cancel_trial"]
    if was_trial is None:  # no creation event (made before the audit log): trust the licence row
        was_trial = lic.trial_ends_at is not None
    if not was_trial:
        return [(created, until, "paid")]
    trial_end = licensing.utc(lic.trial_ends_at) or created + timedelta(days=licensing.TRIAL_DAYS)
    first_renew = min((r for r in renewals if r >= created), default=None)
    if first_renew is not None and first_renew < trial_end:
        return [(created, first_renew, "trial"), (first_renew, until, "paid")]
    segs = [(created, trial_end, "trial")]
    cancelled = any(c < trial_end for c in cancels)
    if not cancelled:
        return segs + [(trial_end, until, "paid")]
    renew_after = min((r for r in renewals if r >= trial_end), default=None)
    if renew_after is None:
        return segs + [(trial_end, until, "expired")]
    return segs + [(trial_end, renew_after, "expired"), (renew_after, until, "paid")]


@dataclass(frozen=True)
class MonthFigures:
    org: str
    month: str
    licensed_users: int
    storage_gb: int
    trial: bool
    billable: bool
    status_at_end: str
    closed: bool

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def compute_month(session: Session, org: Organization, month: str, now: datetime | None = None) -> MonthFigures | None:
    """The month's figures, or None when the organization did not exist in it."""
    now = now or datetime.now(UTC)
    start, end = parse_month(month)
    created = licensing.utc(org.created_at) or now
    if created >= end or start > now:
        return None
    lic = session.get(Licence, org.id)
    if lic is None:
        raise NotFound(f"organization {org.name!r} has no licence")
    history = licence_history(session, org)
    # the licence as it stood at the start of the month, then every value it took during the month
    users, gb = None, None
    held_users: set[int] = set()
    held_gb: set[int] = set()
    for c in history:
        if c.at >= end:
            break
        if c.at >= start:
            if users is not None:
                held_users.add(users)
            if gb is not None:
                held_gb.add(gb)
        users = c.users if c.users is not None else (users if users is not None else c.users_before)
        gb = c.storage_gb if c.storage_gb is not None else (gb if gb is not None else c.storage_gb_before)
        if c.at >= start:
            held_users |= {users} - {None}  # type: ignore[arg-type]
            held_gb |= {gb} - {None}  # type: ignore[arg-type]
    if users is not None:
        held_users.add(users)
    if gb is not None:
        held_gb.add(gb)
    if not held_users:  # no history at all (made before the audit log): the licence as it is
        held_users.add(lic.licensed_users)
    if not held_gb:
        held_gb.add(lic.storage_gb)
    upto = min(end, now)
    segs = [(max(a, start), min(b, upto), s) for a, b, s in _status_segments(org, lic, history, upto)]
    segs = [(a, b, s) for a, b, s in segs if a < b]
    statuses = {s for _, _, s in segs}
    at_end = segs[-1][2] if segs else licensing.status(lic, upto)
    return MonthFigures(org.name, month, max(held_users), max(held_gb), "trial" in statuses, "paid" in statuses,
                        at_end, closed=now >= end)


def _months(first: datetime, last: datetime) -> list[str]:
    out, t = [], first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while t <= last:
        out.append(month_of(t))
        t = (t + timedelta(days=32)).replace(day=1)
    return out


def close_months(session: Session, org: Organization, now: datetime | None = None) -> list[BillingRecord]:
    """Write the records of every month from the organization's creation to now: finished months once
    (then final), the running month as it stands. Idempotent: safe to run as often as wanted."""
    now = now or datetime.now(UTC)
    existing = {r.month: r for r in session.scalars(select(BillingRecord).where(BillingRecord.org_id == org.id))}
    out = []
    for month in _months(licensing.utc(org.created_at) or now, now):
        rec = existing.get(month)
        if rec is not None and rec.closed:
            continue
        f = compute_month(session, org, month, now)
        if f is None:
            continue
        if rec is None:
            rec = BillingRecord(org_id=org.id, month=month)
            session.add(rec)
        rec.licensed_users, rec.storage_gb, rec.trial, rec.billable = f.licensed_users, f.storage_gb, f.trial, f.billable
        rec.status_at_end, rec.closed, rec.computed_at = f.status_at_end, f.closed, now
        out.append(rec)
    session.flush()
    return out


def _figures(org: Organization, r: BillingRecord) -> MonthFigures:
    return MonthFigures(org.name, r.month, r.licensed_users, r.storage_gb, r.trial, r.billable, r.status_at_end, r.closed)


def billing_records(session: Session, principal: Principal, org: Organization | str, month: str | None = None) -> list[MonthFigures]:
    """Admins and Auditors of the organization and its operators; the running month is computed live."""
    o = require_role(session, principal, org, (ADMIN, AUDITOR), "reading billing records")
    if month is not None:
        parse_month(month)
    q = select(BillingRecord).where(BillingRecord.org_id == o.id).order_by(BillingRecord.month)
    stored = {r.month: _figures(o, r) for r in session.scalars(q) if month in (None, r.month)}
    current = month_of(datetime.now(UTC))
    if month in (None, current) or (month and month not in stored):
        live = compute_month(session, o, month or current)
        if live is not None and not (live.month in stored and stored[live.month].closed):
            stored[live.month] = live
    return [stored[k] for k in sorted(stored)]
