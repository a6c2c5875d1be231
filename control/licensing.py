"""Licences: licensed users, mailboxes per user, storage tiers, auto-expand, trial.

The mailbox quota is licensed users x mailboxes per user; every archive mailbox counts (shared and
journal ones too, though they need no user licence). A licence-limited write first bumps the
licence row's `version` (a row lock on PostgreSQL, the write lock on SQLite), then counts, then
writes, all in the caller's transaction, so two concurrent writes cannot both take the last place.
`Organization.storage_quota_bytes` (read by ingest) always equals the licence's tier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mailark.control import audit, notices
from mailark.control.models import GB, Licence, Mailbox, Organization, User
from mailark.control.orgs import ControlError, LimitExceeded, NotFound
from mailark.control.principals import ADMIN, AUDITOR, Principal, require_operator, require_role

TIERS_GB = (10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000)
TRIAL_DAYS = 30
DEFAULT_USERS = 5
DEFAULT_MAILBOXES_PER_USER = 2
DEFAULT_STORAGE_GB = 10
STORAGE_WARN_FRACTION = 0.9


def utc(dt: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def check_tier(storage_gb: int) -> int:
    if storage_gb not in TIERS_GB:
        raise ControlError(
            f"storage of {storage_gb} GB is not a tier: choose one of {', '.join(map(str, TIERS_GB))} GB"
        )
    return storage_gb


def check_terms(users: int, mailboxes_per_user: int, storage_gb: int) -> None:
    if users < 1:
        raise ControlError("a licence needs at least 1 user (the organization's admin is one)")
    if mailboxes_per_user < 1:
        raise ControlError("mailboxes per user must be at least 1")
    check_tier(storage_gb)


def new_licence(
    org: Organization, *, users: int, mailboxes_per_user: int, storage_gb: int, trial: bool,
    auto_expand: bool = False, now: datetime | None = None,
) -> Licence:
    """A licence for a new organization (its quota copied onto the organization)."""
    check_terms(users, mailboxes_per_user, storage_gb)
    now = now or datetime.now(UTC)
    org.storage_quota_bytes = storage_gb * GB
    return Licence(
        org_id=org.id, licensed_users=users, mailboxes_per_user=mailboxes_per_user, storage_gb=storage_gb,
        auto_expand=auto_expand, trial_ends_at=now + timedelta(days=TRIAL_DAYS) if trial else None,
        cancelled_at=None, version=0, updated_at=now,
    )


def status(lic: Licence, now: datetime | None = None) -> str:
    """trial (until its end), paid (a trial not cancelled becomes paid), expired (a cancelled trial that ended);
    a cancelled subscription: cancelled (until the end of its month, still paid), grace (ended: no archiving,
    users log in and export), locked (the grace period is over: read-only, due for deletion)."""
    now = now or datetime.now(UTC)
    sub_ends, due = utc(lic.subscription_ends_at), utc(lic.deletion_due_at)
    if sub_ends is not None:
        if now < sub_ends:
            return "cancelled"
        return "grace" if due is not None and now < due else "locked"
    ends = utc(lic.trial_ends_at)
    if ends is not None and now < ends:
        return "trial"
    if lic.cancelled_at is not None:
        return "expired"
    return "paid"


@dataclass(frozen=True)
class LicenceView:
    org: str
    status: str
    licensed_users: int
    users: int
    mailboxes_per_user: int
    mailbox_quota: int
    mailboxes: int
    storage_gb: int
    storage_quota_bytes: int
    auto_expand: bool
    trial_ends_at: datetime | None
    cancelled_at: datetime | None
    subscription_ends_at: datetime | None = None
    deletion_due_at: datetime | None = None
    over_licence: list[str] = field(default_factory=list)  # "users", "mailboxes": more in use than licensed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _licence(session: Session, org: Organization) -> Licence:
    lic = session.get(Licence, org.id)
    if lic is None:
        raise NotFound(f"organization {org.name!r} has no licence (ask the MSP operator to set one)")
    return lic


def count_users(session: Session, org_id: str) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.org_id == org_id)) or 0


def count_mailboxes(session: Session, org_id: str) -> int:
    """Archive mailboxes counted against the quota: all but retired ones released from it (control.retirement)."""
    from mailark.control.retirement import released_ids

    n = session.scalar(select(func.count()).select_from(Mailbox).where(Mailbox.org_id == org_id)) or 0
    return n - len(released_ids(session, org_id))


def view(session: Session, org: Organization, now: datetime | None = None) -> LicenceView:
    lic = _licence(session, org)
    users, mailboxes = count_users(session, org.id), count_mailboxes(session, org.id)
    over = [k for k, used, allowed in (("users", users, lic.licensed_users),
                                       ("mailboxes", mailboxes, lic.licensed_users * lic.mailboxes_per_user))
            if used > allowed]
    return LicenceView(
        org=org.name, status=status(lic, now), licensed_users=lic.licensed_users, users=users,
        mailboxes_per_user=lic.mailboxes_per_user, mailbox_quota=lic.licensed_users * lic.mailboxes_per_user,
        mailboxes=mailboxes, storage_gb=lic.storage_gb,
        storage_quota_bytes=lic.storage_gb * GB, auto_expand=lic.auto_expand,
        trial_ends_at=utc(lic.trial_ends_at), cancelled_at=utc(lic.cancelled_at),
        subscription_ends_at=utc(lic.subscription_ends_at), deletion_due_at=utc(lic.deletion_due_at),
        over_licence=over,
    )


def get_licence(session: Session, principal: Principal, org: Organization | str) -> LicenceView:
    o = require_role(session, principal, org, (ADMIN, AUDITOR), "reading the licence")
    return view(session, o)


def lock_licence(session: Session, org: Organization) -> Licence:
    """Take the licence row for this transaction, so that count-then-write cannot race."""
    session.flush()
    session.execute(update(Licence).where(Licence.org_id == org.id).values(version=Licence.version + 1))
    lic = _licence(session, org)
    session.refresh(lic)
    return lic


def _raise_hint(org: Organization) -> str:
    return f"the MSP operator raises it with: mailark licence set --org {org.name} --users N"


def check_can_add_user(session: Session, org: Organization, now: datetime | None = None) -> None:
    lic = lock_licence(session, org)
    _check_active(lic, org, now)
    n = count_users(session, org.id)
    if n + 1 > lic.licensed_users:
        raise LimitExceeded(
            f"organization {org.name!r} uses all {lic.licensed_users} licensed users: "
            f"remove a user or raise the licence ({_raise_hint(org)})"
        )


def check_can_add_mailbox(session: Session, org: Organization, now: datetime | None = None) -> None:
    lic = lock_licence(session, org)
    _check_active(lic, org, now)
    quota = lic.licensed_users * lic.mailboxes_per_user
    if count_mailboxes(session, org.id) + 1 > quota:
        raise LimitExceeded(
            f"organization {org.name!r} has all {quota} archive mailboxes its licence allows "
            f"({lic.licensed_users} users x {lic.mailboxes_per_user} mailboxes per user; shared and journal "
            f"mailboxes count too): raise the licence ({_raise_hint(org)} or --mailboxes-per-user N)"
        )


def _check_active(lic: Licence, org: Organization, now: datetime | None) -> None:
    if status(lic, now) in ("grace", "locked"):
        raise LimitExceeded(
            f"the subscription of organization {org.name!r} was cancelled and has ended: nothing can be added "
            f"(the MSP operator undoes the cancellation with: mailark licence resume --org {org.name})")
    if status(lic, now) == "expired":
        raise LimitExceeded(
            f"the trial of organization {org.name!r} was cancelled and has ended: "
            f"nothing can be added until the MSP operator renews the licence (mailark licence renew --org {org.name})"
        )


def change_licence(
    session: Session, principal: Principal, org: Organization | str, *, users: int | None = None,
    mailboxes_per_user: int | None = None, storage_gb: int | None = None, auto_expand: bool | None = None,
    now: datetime | None = None,
) -> LicenceView:
    """Operators change a licence; it takes effect at once.

    A licence below what is in use is recorded all the same (the MSP records the customer's downgraded
    order first): the organization is then *over licence* (`over_licence`), warned about, and nothing new
    is added until it fits again. Raising the storage tier resumes a paused organization at once.
    """
    o = require_operator(session, principal, org, "changing the licence")
    lic = lock_licence(session, o)
    new_users = lic.licensed_users if users is None else users
    new_mpu = lic.mailboxes_per_user if mailboxes_per_user is None else mailboxes_per_user
    new_gb = lic.storage_gb if storage_gb is None else storage_gb
    check_terms(new_users, new_mpu, new_gb)
    before = {"users": lic.licensed_users, "mailboxes_per_user": lic.mailboxes_per_user, "storage_gb": lic.storage_gb,
              "auto_expand": lic.auto_expand}
    lic.licensed_users, lic.mailboxes_per_user, lic.storage_gb = new_users, new_mpu, new_gb
    if auto_expand is not None:
        lic.auto_expand = auto_expand
    lic.updated_at = now or datetime.now(UTC)
    o.storage_quota_bytes = new_gb * GB
    after = {"users": new_users, "mailboxes_per_user": new_mpu, "storage_gb": new_gb, "auto_expand": lic.auto_expand}
    over = view(session, o, now).over_licence
    audit.record(session, principal, "licence.change", org_id=o.id, target=o.name,
                 details={"before": before, "after": after, "over_licence": over})
    _reconsider_pause(session, o, now)
    return view(session, o, now)


def cancel_trial(session: Session, principal: Principal, org: Organization | str, now: datetime | None = None) -> LicenceView:
    """The trial runs to its end and then expires instead of becoming paid."""
    o = require_operator(session, principal, org, "cancelling the trial")
    lic = lock_licence(session, o)
    now = now or datetime.now(UTC)
    if status(lic, now) != "trial":
        raise ControlError(f"organization {o.name!r} is not in its trial (status {status(lic, now)})")
    lic.cancelled_at = now
    lic.updated_at = now
    audit.record(session, principal, "licence.cancel_trial", org_id=o.id, target=o.name)
    return view(session, o, now)


def renew(session: Session, principal: Principal, org: Organization | str, now: datetime | None = None) -> LicenceView:
    """Make the licence paid from now on (ends a trial early, or undoes a cancellation)."""
    o = require_operator(session, principal, org, "renewing the licence")
    lic = lock_licence(session, o)
    lic.trial_ends_at = None
    lic.cancelled_at = None
    lic.updated_at = now or datetime.now(UTC)
    audit.record(session, principal, "licence.renew", org_id=o.id, target=o.name)
    _reconsider_pause(session, o, now)
    return view(session, o, now)


def _end_of_month(now: datetime) -> datetime:
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(days=32)).replace(day=1)


def cancel_subscription(session: Session, principal: Principal, org: Organization | str, *, grace_days: int = 30,
                        now: datetime | None = None) -> LicenceView:
    """Offboarding: the subscription ends at the end of the current month (that month is still billed),
    archiving stops then, users may log in and export for `grace_days`, then the organization is locked
    read-only and due for deletion (`mailark org delete`). Undone by `resume_subscription` until deleted."""
    o = require_operator(session, principal, org, "cancelling the subscription")
    lic = lock_licence(session, o)
    now = now or datetime.now(UTC)
    if lic.subscription_ends_at is not None:
        raise ControlError(f"the subscription of organization {o.name!r} is already cancelled (it ends "
                           f"{utc(lic.subscription_ends_at):%Y-%m-%d}); undo it with: mailark licence resume --org {o.name}")  # type: ignore[str-format]
    if grace_days < 0:
        raise ControlError("the grace period cannot be negative")
    ends = _end_of_month(now)
    lic.subscription_ends_at, lic.deletion_due_at, lic.updated_at = ends, ends + timedelta(days=grace_days), now
    audit.record(session, principal, "licence.cancel", org_id=o.id, target=o.name,
                 details={"subscription_ends_at": ends.isoformat(),
                          "deletion_due_at": (ends + timedelta(days=grace_days)).isoformat()}, now=now)
    return view(session, o, now)


def resume_subscription(session: Session, principal: Principal, org: Organization | str,
                        now: datetime | None = None) -> LicenceView:
    """Undo a cancellation (possible until the organization is deleted): the licence runs on as before."""
    o = require_operator(session, principal, org, "undoing the cancellation")
    lic = lock_licence(session, o)
    now = now or datetime.now(UTC)
    if lic.subscription_ends_at is None:
        raise ControlError(f"the subscription of organization {o.name!r} is not cancelled")
    lic.subscription_ends_at = lic.deletion_due_at = None
    lic.updated_at = now
    audit.record(session, principal, "licence.resume", org_id=o.id, target=o.name, now=now)
    _reconsider_pause(session, o, now)
    return view(session, o, now)


def _reconsider_pause(session: Session, org: Organization, now: datetime | None) -> None:
    """A licence change takes effect at once: archiving resumes now if the change made room."""
    from mailark.control import metering  # metering applies this module's rules, so it imports it

    metering.reconsider(session, org, now)


def next_tier(gb: int) -> int | None:
    return next((t for t in TIERS_GB if t > gb), None)


def auto_expand(session: Session, org: Organization, storage_used_bytes: int, now: datetime | None = None,
                by: str = "metering") -> int | None:
    """If the licence auto-expands and storage is at 90 %, move to the next tier; the new GB, or None.

    Called by metering, and by an ingest batch or an export that would overflow the quota (`by`), so the
    room is there at once (the system acts; the change is audited).
    """
    lic = lock_licence(session, org)
    if not lic.auto_expand or storage_used_bytes < STORAGE_WARN_FRACTION * lic.storage_gb * GB:
        return None
    nxt = next_tier(lic.storage_gb)
    if nxt is None:
        return None
    before = lic.storage_gb
    lic.storage_gb = nxt
    lic.updated_at = now or datetime.now(UTC)
    org.storage_quota_bytes = nxt * GB
    audit.record(
        session, Principal("system", by, by), "licence.auto_expand", org_id=org.id, target=org.name,
        details={"before_gb": before, "after_gb": nxt, "used_bytes": storage_used_bytes},
    )
    return nxt


@dataclass(frozen=True)
class LicenceWarning:
    code: str  # storage | users | mailboxes | trial
    message: str
    notice: str = ""  # the sentence's code in control.notices (the pages say it in the reader's language)
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "notice": self.notice, "params": dict(self.params)}


def _warning(kind: str, code: str, **params: Any) -> LicenceWarning:
    n = notices.notice(code, **params)
    return LicenceWarning(kind, n.message, n.code, n.params)


def licence_warnings(session: Session, org: Organization, storage_used_bytes: int, now: datetime | None = None) -> list[LicenceWarning]:
    """What an admin should see: storage at 90 %, users at quota, mailboxes at quota, a trial about to end."""
    v = view(session, org, now)
    out: list[LicenceWarning] = []
    if storage_used_bytes >= STORAGE_WARN_FRACTION * v.storage_quota_bytes:
        used_gb = storage_used_bytes * 10 // GB / 10 if storage_used_bytes < 10 * GB else -(-storage_used_bytes // GB)
        pct = round(100 * storage_used_bytes / v.storage_quota_bytes)
        full = storage_used_bytes >= v.storage_quota_bytes
        out.append(_warning("storage", "storage_full" if full else "storage_high", percent=pct, used_gb=used_gb,
                            quota_gb=v.storage_gb))
    if v.users > v.licensed_users:
        out.append(_warning("users", "users_over", users=v.users, licensed_users=v.licensed_users))
    elif v.users >= v.licensed_users:
        out.append(_warning("users", "users_full", licensed_users=v.licensed_users))
    if v.mailboxes > v.mailbox_quota:
        out.append(_warning("mailboxes", "mailboxes_over", mailboxes=v.mailboxes, mailbox_quota=v.mailbox_quota))
    elif v.mailboxes >= v.mailbox_quota:
        out.append(_warning("mailboxes", "mailboxes_full", mailbox_quota=v.mailbox_quota))
    if v.status == "trial" and v.trial_ends_at and v.trial_ends_at - (now or datetime.now(UTC)) <= timedelta(days=7):
        code = "trial_expires" if v.cancelled_at else "trial_becomes_paid"
        out.append(_warning("trial", code, date=f"{v.trial_ends_at:%Y-%m-%d}"))
    return out
