"""Daily usage reports to the business portal, through an outbox in the control plane.

- `enqueue_daily` makes one report per organization and UTC day from its last metered figures, in
  the control plane, with a payload frozen at that moment and an idempotency key derived from
  (organization id, day): running it again the same day adds nothing.
- `deliver_due` sends the reports that are due, oldest first, as JSON over HTTPS with
  `Authorization: Bearer <token>`, the key in the `Idempotency-Key` header and in the body. A 2xx
  answer marks the report sent. Anything else (an error status, a timeout, no connection) keeps it
  and schedules the next attempt with exponential backoff, so days of portal downtime lose
  nothing; a report whose answer was lost (a timeout after the portal accepted it) is sent again
  with the same key and body, and the portal's idempotency makes that a no-op, so nothing counts
  twice. Each report is claimed with a short lease before it is sent, so two deliverers running
  at once do not both send it.
- The token is a SecretStr from settings: never logged, never stored, never in an error message.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailark.control.licensing import count_mailboxes, count_users, utc
from mailark.control.metering import whole_gb
from mailark.control.models import GB, MeteringState, Organization, UsageReport
from mailark.control.orgs import new_id

log = logging.getLogger(__name__)
CLAIM = timedelta(minutes=5)


class PortalNotConfigured(RuntimeError):
    pass


@dataclass(frozen=True)
class PortalConfig:
    url: str
    token: str  # from a SecretStr: keep it out of logs and messages
    timeout_seconds: float = 10.0
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 6 * 3600.0
    ca_file: str | None = None  # a private CA for the portal's certificate (tests, on-premises portals)

    def __post_init__(self) -> None:
        if not self.url.lower().startswith("https://"):
            raise PortalNotConfigured(
                f"the usage portal URL must be https:// (usage reports carry customer figures): got {self.url!r}; "
                f"set MAILARK_USAGE_PORTAL__URL")

    def __repr__(self) -> str:  # the token stays out of any repr that ends up in a log
        return f"PortalConfig(url={self.url!r}, token='**********')"


def idempotency_key(org_id: str, day: str) -> str:
    return f"mailark-usage-{org_id}-{day}"


def payload(session: Session, org: Organization, st: MeteringState | None, day: str, now: datetime) -> dict[str, Any]:
    """The report: users and archive mailboxes counted now (cheap), storage as last metered."""
    used = st.storage_bytes if st else 0
    return {
        "idempotency_key": idempotency_key(org.id, day),
        "organization_id": org.id,
        "organization": org.name,
        "day": day,
        "users": count_users(session, org.id),
        "archive_mailboxes": count_mailboxes(session, org.id),
        "storage_used_bytes": used,
        "storage_used_gb": whole_gb(used),
        "storage_quota_gb": org.storage_quota_bytes // GB,
        "storage_measured_at": (utc(st.measured_at).isoformat() if st and st.measured_at else None),  # type: ignore[union-attr]
        "reported_at": now.isoformat(),
    }


def enqueue_daily(session: Session, now: datetime | None = None) -> int:
    """One report per organization for today (UTC) from its last metered figures; returns how many were new."""
    now = now or datetime.now(UTC)
    day = now.strftime("%Y-%m-%d")
    have = set(session.scalars(select(UsageReport.org_id).where(UsageReport.day == day)))
    made = 0
    for org in session.scalars(select(Organization).order_by(Organization.name)):
        if org.id in have:
            continue
        doc = payload(session, org, session.get(MeteringState, org.id), day, now)
        try:
            with session.begin_nested():
                session.add(UsageReport(id=new_id(), org_id=org.id, day=day, idempotency_key=doc["idempotency_key"],
                                        payload=json.dumps(doc, sort_keys=True), created_at=now, attempts=0,
                                        next_attempt_at=now))
        except IntegrityError:  # another run made it a moment ago
            continue
        made += 1
    return made


def backoff(attempts: int, cfg: PortalConfig) -> timedelta:
    """After the n-th failed attempt: base x 2^(n-1), at most the cap."""
    return timedelta(seconds=min(cfg.backoff_seconds * 2 ** max(attempts - 1, 0), cfg.backoff_max_seconds))


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0
    pending: int = 0  # still waiting after this pass (due later)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "pending": self.pending, "errors": self.errors}


def _claim(sessions: sessionmaker[Session], now: datetime, limit: int) -> list[tuple[str, str, str]]:
    """Claim due reports (id, key, payload), oldest day first."""
    with sessions() as s, s.begin():
        q = (select(UsageReport).where(UsageReport.sent_at.is_(None), UsageReport.next_attempt_at <= now)
             .order_by(UsageReport.day, UsageReport.created_at).limit(limit))
        out = []
        for r in s.scalars(q):
            res = s.execute(update(UsageReport).where(
                UsageReport.id == r.id, UsageReport.sent_at.is_(None),
                (UsageReport.claimed_until.is_(None)) | (UsageReport.claimed_until < now),
            ).values(claimed_until=now + CLAIM))
            if res.rowcount:  # type: ignore[attr-defined]
                out.append((r.id, r.idempotency_key, r.payload))
        return out


def _error_text(e: Exception | httpx.Response) -> str:
    if isinstance(e, httpx.Response):
        return f"the portal answered {e.status_code}: {e.text[:200]}"
    if isinstance(e, httpx.TimeoutException):
        return f"the portal did not answer in time ({type(e).__name__})"
    return f"could not reach the portal: {type(e).__name__}: {e}"[:300]


def deliver_due(
    sessions: sessionmaker[Session],
    cfg: PortalConfig,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    limit: int = 1000,
) -> Delivery:
    """Send every due report once (this pass); failures wait for their backoff."""
    result = Delivery()
    claimed = _claim(sessions, now(), limit)
    headers = {"Authorization": f"Bearer {cfg.token}", "Content-Type": "application/json"}
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=cfg.ca_file) if cfg.ca_file else True
    with httpx.Client(timeout=cfg.timeout_seconds, verify=verify, headers=headers) as client:
        for report_id, key, body in claimed:
            error: str | None = None
            try:
                r = client.post(cfg.url, content=body.encode(), headers={"Idempotency-Key": key})
                if not r.is_success:
                    error = _error_text(r)
            except httpx.HTTPError as e:
                error = _error_text(e)
            with sessions() as s, s.begin():
                rep = s.get(UsageReport, report_id)
                assert rep is not None
                rep.attempts += 1
                rep.claimed_until = None
                if error is None:
                    rep.sent_at, rep.last_error = now(), None
                    result.sent += 1
                    log.info("usage report %s sent after %d attempt(s)", key, rep.attempts)
                else:
                    rep.last_error = error
                    rep.next_attempt_at = now() + backoff(rep.attempts, cfg)
                    result.failed += 1
                    result.errors.append(f"{key}: {error}")
                    log.warning("usage report %s not delivered (attempt %d, next at %s): %s",
                                key, rep.attempts, rep.next_attempt_at.isoformat(), error)
    with sessions() as s:
        result.pending = len(list(s.scalars(select(UsageReport.id).where(UsageReport.sent_at.is_(None)))))
    return result


@dataclass(frozen=True)
class OutboxRow:
    org_id: str
    day: str
    idempotency_key: str
    attempts: int
    sent_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None


def outbox(session: Session, org_id: str | None = None) -> list[OutboxRow]:
    q = select(UsageReport).order_by(UsageReport.day, UsageReport.org_id)
    if org_id:
        q = q.where(UsageReport.org_id == org_id)
    return [OutboxRow(r.org_id, r.day, r.idempotency_key, r.attempts, r.sent_at, r.next_attempt_at, r.last_error)
            for r in session.scalars(q)]
