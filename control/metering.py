"""Metering rules: what a measurement means for an organization.

Storage used = the bytes the organization occupies in the object store: every object the
catalogue lists for it (message parts, packs, quarantined bytes and export files: deduplicated,
compressed and encrypted, as stored) plus its share of the catalogue's Parquet files (they are
encrypted bytes in the same store, partitioned per organization, so the share is exact; ingest's
quota check counts them too, so ingest and metering agree on "full"). The `usage` table's own
files are left out: the meter's bookkeeping is not the customer's data.

Given a measurement, `apply` (in the caller's transaction):
- settles a trial that has ended: it becomes paid unless it was cancelled (audited once);
- auto-expand: when the licence allows it, raises the storage tier before it is full (at 90 %),
  as often as needed, each step audited as a system action (control.licensing.auto_expand);
- pauses archiving at 100 % (or when a cancelled trial has ended) and resumes it by itself when
  there is room again (quota raised, mail or exports deleted): the flag is `MeteringState.paused`
  (`archiving_paused` reads it with one primary-key lookup) and every source profile of the
  organization carries the reason in `paused_reason`; resuming makes them due at once;
- returns the warnings an admin sees (storage at 90 %, users and mailboxes at quota, trial ending).

The exact bytes are kept; the licence speaks in whole GB (`whole_gb`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailark.control import audit, licensing, notices
from mailark.control.models import GB, Licence, MeteringState, Organization, SourceProfile
from mailark.control.orgs import Forbidden
from mailark.control.principals import ADMIN, AUDITOR, Principal, can_see_org, require_role

SYSTEM = Principal("system", "metering", "metering")
LEASE = timedelta(minutes=30)


def whole_gb(n_bytes: int) -> int:
    """Whole GB as the licence speaks (1 GB = 10^9 bytes), rounded up: 1 byte over 10 GB is 11 GB in use."""
    return -(-n_bytes // GB)


def shown_gb(n_bytes: int) -> int | float:
    """GB as people are shown them: below 10 GB with one decimal, cut down, so that 9.46 GB of a 10 GB tier
    reads "9.4 GB" and never "10 GB" while there is room (issue 14); from 10 GB whole GB as the licence
    speaks (`whole_gb`)."""
    if n_bytes < 10 * GB:
        return (n_bytes * 10 // GB) / 10
    return whole_gb(n_bytes)


@dataclass(frozen=True)
class Measurement:
    """What a metering run read from the catalogue, exact at DuckLake snapshot `snapshot_id`."""

    snapshot_id: int
    object_bytes: int
    export_bytes: int
    lake_bytes: int
    messages: int
    copies: int
    raw_bytes: int
    full_count: bool

    @property
    def storage_bytes(self) -> int:
        return self.object_bytes + self.lake_bytes


@dataclass
class Outcome:
    """What `apply` did and found."""

    storage_bytes: int
    storage_quota_bytes: int
    users: int
    mailboxes: int
    expanded_to_gb: list[int] = field(default_factory=list)
    paused: bool = False
    paused_reason: str | None = None
    changed: str | None = None  # "paused" | "resumed" | None
    trial_ended: str | None = None  # "paid" | "expired" when a trial ended in this run
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ---- state and the per-organization lease ---------------------------------------------------


def get_state(session: Session, org_id: str) -> MeteringState:
    st = session.get(MeteringState, org_id)
    if st is None:
        st = MeteringState(org_id=org_id, snapshot_id=None, object_bytes=0, export_bytes=0, lake_bytes=0,
                           storage_bytes=0, messages=0, copies=0, raw_bytes=0, users=0, mailboxes=0,
                           storage_quota_bytes=0, paused=False, trial_settled=False)
        session.add(st)
        session.flush()
    return st


def claim(session: Session, org_id: str, holder: str, now: datetime | None = None, lease: timedelta = LEASE) -> bool:
    """Take the organization for one metering run; False if another run holds it (and its lease is alive)."""
    now = now or datetime.now(UTC)
    get_state(session, org_id)
    res = session.execute(
        update(MeteringState)
        .where(MeteringState.org_id == org_id,
               (MeteringState.lease_until.is_(None)) | (MeteringState.lease_until < now) | (MeteringState.lease_holder == holder))
        .values(lease_until=now + lease, lease_holder=holder)
    )
    return bool(res.rowcount)  # type: ignore[attr-defined]


def release(session: Session, org_id: str, holder: str) -> None:
    session.execute(update(MeteringState).where(MeteringState.org_id == org_id, MeteringState.lease_holder == holder)
                    .values(lease_until=None, lease_holder=None))


def archiving_paused(session: Session, org_id: str) -> str | None:
    """Why archiving is paused for the organization, or None: for sources and the journal endpoint."""
    row = session.execute(select(MeteringState.paused, MeteringState.paused_reason)
                          .where(MeteringState.org_id == org_id)).first()
    return (row[1] or notices.notice("paused").message) if row and row[0] else None


# ---- the rules ----------------------------------------------------------------------------------


def _settle_trial(session: Session, org: Organization, lic: Licence, st: MeteringState, now: datetime) -> str | None:
    ends = licensing.utc(lic.trial_ends_at)
    if ends is None or now < ends:
        st.trial_settled = False
        return None
    if st.trial_settled:
        return None
    became = licensing.status(lic, now)  # paid, or expired when it was cancelled
    st.trial_settled = True
    audit.record(session, SYSTEM, "licence.trial_ended", org_id=org.id, target=org.name,
                 details={"became": became, "trial_ended_at": ends.isoformat()})
    return became


def pause_notice(status: str, used: int, quota: int, org: Organization) -> notices.Notice | None:
    """Why archiving must pause (its sentence, code and parameters), or None."""
    if status == "expired":
        return notices.notice("paused_trial_ended", org=org.name)
    if status in ("grace", "locked"):
        return notices.notice("paused_subscription_ended", org=org.name)
    if used >= quota:
        return notices.notice("paused_storage_full", used_gb=shown_gb(used), quota_gb=quota // GB)
    return None


def _pause_reason(status: str, used: int, quota: int, org: Organization) -> str | None:
    n = pause_notice(status, used, quota, org)
    return n.message if n else None


def _mark_sources(session: Session, org_id: str, reason: str | None, now: datetime) -> None:
    values: dict[str, Any] = {"paused_reason": reason}
    if reason is None:
        values["next_run_at"] = now  # resume: run the sources now rather than at their next turn
    session.execute(update(SourceProfile).where(SourceProfile.org_id == org_id).values(**values))


def _settle_pause(session: Session, org: Organization, st: MeteringState, status: str, used: int, quota: int,
                  now: datetime) -> tuple[str | None, str | None]:
    """Pause or resume archiving as the rules say for `used` of `quota`: (reason, "paused"/"resumed"/None)."""
    reason = _pause_reason(status, used, quota, org)
    changed = None
    if reason and not st.paused:
        st.paused, st.paused_at, changed = True, now, "paused"
        audit.record(session, SYSTEM, "archiving.pause", org_id=org.id, target=org.name,
                     details={"reason": reason, "used_bytes": used, "quota_bytes": quota})
    elif not reason and st.paused:
        st.paused, st.paused_at, changed = False, None, "resumed"
        audit.record(session, SYSTEM, "archiving.resume", org_id=org.id, target=org.name,
                     details={"used_bytes": used, "quota_bytes": quota})
    if reason is not None or changed:  # while paused, sources added since are marked too
        _mark_sources(session, org.id, reason, now)
    st.paused_reason = reason
    return reason, changed


def reconsider(session: Session, org: Organization, now: datetime | None = None) -> str | None:
    """After a licence change: apply the pause rules to the last measurement against the licence as it is
    now, so a raised tier resumes archiving at once (not at the next metering run) and the usage page
    never shows the new quota beside "storage is full". Returns "paused", "resumed" or None."""
    st = session.get(MeteringState, org.id)
    if st is None or st.measured_at is None:
        return None
    now = now or datetime.now(UTC)
    lic = licensing.lock_licence(session, org)
    _, changed = _settle_pause(session, org, st, licensing.status(lic, now), st.storage_bytes,
                               org.storage_quota_bytes, now)
    st.storage_quota_bytes = org.storage_quota_bytes
    session.flush()
    return changed


def apply(session: Session, org: Organization, m: Measurement, now: datetime | None = None) -> Outcome:
    """Record the measurement and apply the rules (see the module docstring), in the caller's transaction."""
    now = now or datetime.now(UTC)
    st = get_state(session, org.id)
    lic = licensing.lock_licence(session, org)
    trial_ended = _settle_trial(session, org, lic, st, now)
    status = licensing.status(lic, now)
    used = m.storage_bytes
    expanded: list[int] = []
    if status != "expired":
        while (gb := licensing.auto_expand(session, org, used, now)) is not None:
            expanded.append(gb)
    quota = org.storage_quota_bytes
    reason, changed = _settle_pause(session, org, st, status, used, quota, now)
    st.snapshot_id = m.snapshot_id
    st.object_bytes, st.export_bytes, st.lake_bytes, st.storage_bytes = m.object_bytes, m.export_bytes, m.lake_bytes, used
    st.messages, st.copies, st.raw_bytes = m.messages, m.copies, m.raw_bytes
    st.users = licensing.count_users(session, org.id)
    st.mailboxes = licensing.count_mailboxes(session, org.id)
    st.storage_quota_bytes = quota
    st.measured_at = now
    if m.full_count:
        st.full_count_at = now
    session.flush()
    warnings = [w.as_dict() for w in licensing.licence_warnings(session, org, used, now)]
    return Outcome(used, quota, st.users, st.mailboxes, expanded, st.paused, reason, changed, trial_ended, warnings)


# ---- reading it (API and CLI) -------------------------------------------------------------------


@dataclass(frozen=True)
class UsageView:
    org: str
    org_id: str
    measured_at: datetime | None  # None: not metered yet (storage figures are then 0)
    storage_used_bytes: int
    storage_used_gb: int
    storage_quota_gb: int
    storage_used_percent: float
    export_bytes: int
    catalogue_bytes: int
    messages: int
    copies: int
    users: int
    licensed_users: int
    mailboxes: int
    mailbox_quota: int
    licence_status: str
    auto_expand: bool
    archiving_paused: bool
    paused_reason: str | None
    warnings: list[dict[str, Any]]
    paused_code: str | None = None  # paused_reason's code and parameters (control.notices), for other languages
    paused_params: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def view(session: Session, org: Organization, now: datetime | None = None) -> UsageView:
    """The organization's usage as last metered, against its licence as it is now."""
    st = session.get(MeteringState, org.id)
    lv = licensing.view(session, org, now)
    used = st.storage_bytes if st and st.measured_at else 0
    quota = lv.storage_quota_bytes
    return UsageView(
        org=org.name, org_id=org.id, measured_at=licensing.utc(st.measured_at) if st else None,
        storage_used_bytes=used, storage_used_gb=whole_gb(used), storage_quota_gb=lv.storage_gb,
        storage_used_percent=round(100 * used / quota, 2) if quota else 0.0,
        export_bytes=st.export_bytes if st else 0, catalogue_bytes=st.lake_bytes if st else 0,
        messages=st.messages if st else 0, copies=st.copies if st else 0,
        users=lv.users, licensed_users=lv.licensed_users, mailboxes=lv.mailboxes, mailbox_quota=lv.mailbox_quota,
        licence_status=lv.status, auto_expand=lv.auto_expand,
        archiving_paused=bool(st and st.paused), paused_reason=st.paused_reason if st and st.paused else None,
        warnings=[w.as_dict() for w in licensing.licence_warnings(session, org, used, now)],
        **_paused_fields(st.paused_reason if st and st.paused else None),
    )


def _paused_fields(reason: str | None) -> dict[str, Any]:
    n = notices.recognize(reason)
    return {"paused_code": n.code, "paused_params": n.params} if n else {}


def get_usage(session: Session, principal: Principal, org: Organization | str) -> UsageView:
    """Admins and Auditors of the organization, and the operators who serve it."""
    o = require_role(session, principal, org, (ADMIN, AUDITOR), "reading usage")
    return view(session, o)


def overview(session: Session, principal: Principal) -> list[UsageView]:
    """Every organization the operator may see, by name."""
    if not principal.is_operator:
        raise Forbidden("the usage overview of all organizations is for MSP operators")
    orgs = session.scalars(select(Organization).order_by(Organization.name))
    return [view(session, o) for o in orgs if can_see_org(principal, o.id)]
