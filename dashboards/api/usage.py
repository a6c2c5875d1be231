"""Usage, warnings, usage history and billing records (Admin or Auditor of the organization, and its
operators); the operators' overview of every organization they serve. Figures are those of the last
metering run (the `meter-usage` flow, every 15 minutes), so reading them costs no catalogue scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mailark.control import billing, metering
from mailark.control.principals import ADMIN, AUDITOR, require_role
from mailark.dashboards.api.common import ERRORS, ORG_PATH
from mailark.dashboards.api.models import WarningOut
from mailark.dashboards.deps import DB, Acting, Ctx

router = APIRouter(tags=["usage"])


class ExpiringOut(BaseModel):
    until: datetime = Field(description="the end of the month (counted from now)")
    copies: int = Field(description="copies retention removes (or lists for review) in this month; the first month "
                                    "includes those already expired, which the next daily run removes")
    bytes: int = Field(description="their size as received")


class UsageOut(BaseModel):
    org: str
    measured_at: datetime | None = Field(description="when it was last metered; null: not yet (figures are 0)")
    storage_used_bytes: int = Field(description="exact bytes in the object store: objects, exports, catalogue files")
    storage_used_gb: int = Field(description="whole GB (10^9 bytes), rounded up, as the licence speaks")
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
    warnings: list[WarningOut]
    paused_code: str | None = Field(default=None, description="paused_reason's code (its parameters in paused_params)")
    paused_params: dict[str, Any] | None = None
    expiring: list[ExpiringOut] = Field(default_factory=list, description=(
        "what will expire next: each of the next 12 months (from the retention preview, held copies apart); "
        "empty when the organization has no retention policy"))


class UsagePointOut(BaseModel):
    measured_at: datetime
    storage_bytes: int
    storage_quota_bytes: int
    users: int
    mailboxes: int
    messages: int
    copies: int
    raw_bytes: int


class BillingOut(BaseModel):
    month: str = Field(examples=["2026-11"])
    licensed_users: int = Field(description="the most licensed users held at any moment of the month")
    storage_gb: int = Field(description="the highest storage quota held at any moment of the month")
    trial: bool = Field(description="in its trial for some of the month")
    billable: bool = Field(description="paid for some of the month")
    status_at_end: str
    closed: bool = Field(description="the month is over and the record final")


def _out(v: metering.UsageView) -> UsageOut:
    d = v.as_dict()
    d.pop("org_id")
    return UsageOut(**d)


@router.get(ORG_PATH + "/usage", response_model=UsageOut, responses=ERRORS,
            summary="Current usage against the licence, with warnings and whether archiving is paused (Admin or Auditor)")
def current(org: str, p: Acting, s: DB, ctx: Ctx) -> UsageOut:
    from mailark.operations.retention import expiring_next

    u = _out(metering.get_usage(s, p, org))
    with ctx.lake_lock:
        u.expiring = [ExpiringOut(**m) for m in expiring_next(ctx.runtime, p, org)]
    return u


@router.get(ORG_PATH + "/usage/history", response_model=list[UsagePointOut], responses=ERRORS,
            summary="Metered figures over time, oldest first: every run for 2 days, hourly up to 14, then daily (Admin or Auditor)")
def history(org: str, p: Acting, s: DB, ctx: Ctx,
            days: int = Query(30, ge=1, le=400, description="how many days back")) -> list[UsagePointOut]:
    from mailark.catalog.usage import usage_history

    o = require_role(s, p, org, (ADMIN, AUDITOR), "reading usage history")
    since = datetime.now(UTC) - timedelta(days=days)
    bucket = 15 if days <= 2 else 60 if days <= 14 else 24 * 60  # every run, hourly, daily: the last of each
    with ctx.lake_lock:  # the runtime's one DuckDB connection; requests run on many threads
        rows = usage_history(ctx.runtime.lake, o.id, since, bucket)
    return [UsagePointOut(measured_at=r.measured_at, storage_bytes=r.storage_bytes, storage_quota_bytes=r.storage_quota_bytes,
                          users=r.users, mailboxes=r.mailboxes, messages=r.messages, copies=r.copies, raw_bytes=r.raw_bytes)
            for r in rows]


@router.get(ORG_PATH + "/billing", response_model=list[BillingOut], responses=ERRORS,
            summary="Billing records per calendar month; the running month as it stands (Admin or Auditor)")
def billing_records(org: str, p: Acting, s: DB,
                    month: str | None = Query(None, pattern=r"^\d{4}-\d{2}$", description="only this month (YYYY-MM)")
                    ) -> list[BillingOut]:
    return [BillingOut(month=f.month, licensed_users=f.licensed_users, storage_gb=f.storage_gb, trial=f.trial,
                       billable=f.billable, status_at_end=f.status_at_end, closed=f.closed)
            for f in billing.billing_records(s, p, org, month)]


@router.get("/api/usage", response_model=list[UsageOut], responses=ERRORS,
            summary="Usage of every organization you serve (MSP operators)")
def overview(p: Acting, s: DB) -> list[UsageOut]:
    return [_out(v) for v in metering.overview(s, p)]
