"""Metering, billing close and usage reporting: the plain code the flows (and the CLI) run.

No Prefect here (like sources/files/importing.py): flows/metering.py and flows/usage_report.py wrap these
functions as tasks; `mailark meter` calls them directly when no Prefect server is up.

One metering run of one organization:
1. take the organization's lease (a second run for it at the same time skips it and says so);
2. read the catalogue's current snapshot S; from the watermark W of the last run, read only the
   rows that changed in (W, S] and add them to the running totals, or count in full on the first
   run (or when maintenance has expired W's snapshots);
3. in one control-plane transaction: store the totals with watermark S, apply the rules
   (trial end, auto-expand, pause/resume, warnings: control.metering.apply);
4. append a row to the catalogue's `usage` table in the organization's commit lane.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from ulid import ULID

from mailark.catalog import usage as cat
from mailark.catalog.lake import catalog_lane
from mailark.control import billing, metering
from mailark.control.licensing import utc as metering_utc
from mailark.control.models import MeteringState, Organization
from mailark.control.orgs import get_org
from mailark.control.usage_report import Delivery, PortalConfig, deliver_due, enqueue_daily
from mailark.operations.export_resume import resume_paused
from mailark.runtime import Runtime
from mailark.config.settings import Settings


@dataclass
class MeterResult:
    org: str
    mode: str  # "full" | "incremental" | "skipped"
    snapshot_id: int | None = None
    rows_read: int = 0
    seconds: float = 0.0
    outcome: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    usage: dict[str, Any] | None = None  # the catalogue `usage` row of this run (written, or to write)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _measure(rt: Runtime, org_id: str, st_snapshot: int | None, totals: cat.Figures, full: bool) -> tuple[metering.Measurement, int]:
    con = rt.lake
    snap = cat.current_snapshot(con)
    figs: cat.Figures | None = None
    if not full and st_snapshot is not None and st_snapshot <= snap:
        try:
            figs = totals.plus(cat.changes(con, org_id, st_snapshot, snap))
        except cat.SnapshotGone:
            figs = None  # maintenance expired the watermark's snapshots: count in full once
    counted_full = figs is None
    if figs is None:
        figs = cat.full_count(con, org_id, snap)
    m = metering.Measurement(snap, figs.object_bytes, figs.export_bytes, cat.lake_bytes(con, org_id),
                             figs.messages, figs.copies, figs.raw_bytes, counted_full)
    return m, figs.rows_read


def meter_org(rt: Runtime, org: Organization | str, *, full: bool = False, now: datetime | None = None,
              holder: str | None = None, record: bool = True) -> MeterResult:
    """Meter one organization (see the module docstring). `record=False` leaves the `usage` row in the
    result for `record_usage` to write with the other organizations' in one commit."""
    started = time.perf_counter()
    if isinstance(org, str):
        org = rt.org(org)
    holder = holder or f"meter-{ULID()}".lower()
    lease = timedelta(seconds=rt.settings.metering_lease_seconds)
    with rt.session(write=True) as s:
        if not metering.claim(s, org.id, holder, now, lease):
            return MeterResult(org.name, "skipped", note="another metering run is measuring this organization")
    try:
        with rt.session() as s:
            st = s.get(MeteringState, org.id)
            assert st is not None
            totals = cat.Figures(st.object_bytes, st.export_bytes, 0, st.messages, st.copies, st.raw_bytes)
            snapshot = st.snapshot_id
        m, rows = _measure(rt, org.id, snapshot, totals, full)
        with rt.session(write=True) as s:
            o = s.get(Organization, org.id)
            assert o is not None
            outcome = metering.apply(s, o, m, now)
    finally:
        with rt.session(write=True) as s:
            metering.release(s, org.id, holder)
    if not outcome.paused:
        resume_paused(rt, org.id, in_background=False)
    row = cat.UsageRow(org.id, now or datetime.now(UTC), outcome.storage_bytes, outcome.storage_quota_bytes,
                       outcome.users, outcome.mailboxes, m.messages, m.copies, m.raw_bytes)
    if record:
        record_usage(rt, [row])
    return MeterResult(org.name, "full" if m.full_count else "incremental", m.snapshot_id, rows,
                       round(time.perf_counter() - started, 4), outcome.as_dict(), usage=asdict(row))


def record_usage(rt: Runtime, rows: list[cat.UsageRow] | list[dict[str, Any]]) -> int:
    """Write metering runs' `usage` rows to the catalogue in one commit (one per run, not per organization)."""
    items = [r if isinstance(r, cat.UsageRow) else cat.UsageRow(**r) for r in rows]
    if items:
        with catalog_lane(rt.settings, items[0].org_id if len(items) == 1 else None, rt.lake, rt.store):
            cat.write_usage(rt.lake, items)
    return len(items)


def org_names(rt: Runtime, only: str | None = None) -> list[str]:
    with rt.session() as s:
        if only:
            return [get_org(s, only).name]
        return list(s.scalars(select(Organization.name).order_by(Organization.name)))


def meter_all(rt: Runtime, only: str | None = None, *, full: bool = False) -> list[MeterResult]:
    results = [meter_org(rt, name, full=full, record=False) for name in org_names(rt, only)]
    record_usage(rt, [r.usage for r in results if r.usage])
    return results


def close_billing(rt: Runtime, only: str | None = None, now: datetime | None = None) -> list[billing.MonthFigures]:
    """Write the billing records of every organization (finished months become final)."""
    out = []
    with rt.session(write=True) as s:
        orgs = [get_org(s, only)] if only else list(s.scalars(select(Organization).order_by(Organization.name)))
        for o in orgs:
            for rec in billing.close_months(s, o, now):
                out.append(billing.MonthFigures(o.name, rec.month, rec.licensed_users, rec.storage_gb, rec.trial,
                                                rec.billable, rec.status_at_end, rec.closed))
    return out


def portal_config(settings: Settings) -> PortalConfig | None:
    p = settings.usage_portal
    if not p.url:
        return None
    return PortalConfig(p.url, p.token.get_secret_value(), p.timeout_seconds, p.backoff_seconds,
                        p.backoff_max_seconds, str(p.ca_file) if p.ca_file else None)


@dataclass
class ReportResult:
    enqueued: int
    delivery: Delivery | None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"enqueued": self.enqueued, "note": self.note,
                **(self.delivery.as_dict() if self.delivery else {"sent": 0, "failed": 0, "pending": None, "errors": []})}


STALE = timedelta(hours=1)


def report_usage(rt: Runtime, now: datetime | None = None) -> ReportResult:
    """Put today's report of every organization in the outbox, then send what is due. An organization
    not metered in the last hour (never, or metering is not running) is metered first."""
    with rt.session() as s:
        fresh = {o for o, at in s.execute(select(MeteringState.org_id, MeteringState.measured_at))
                 if at is not None and (metering_utc(at) or now) >= datetime.now(UTC) - STALE}
        stale = [n for i, n in s.execute(select(Organization.id, Organization.name).order_by(Organization.name))
                 if i not in fresh]
    results = [meter_org(rt, n, record=False) for n in stale]
    record_usage(rt, [r.usage for r in results if r.usage])
    with rt.session(write=True) as s:
        made = enqueue_daily(s, now)
    cfg = portal_config(rt.settings)
    if cfg is None:
        return ReportResult(made, None, "no usage portal configured (MAILARK_USAGE_PORTAL__URL): reports wait in the outbox")
    return ReportResult(made, deliver_due(rt.control, cfg, (lambda: now) if now else (lambda: datetime.now(UTC))))
