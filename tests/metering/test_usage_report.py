"""Daily usage reports through the outbox to a REAL local HTTPS portal that fails (500), times out
(accepts but answers too late) and recovers: nothing lost, nothing accepted twice."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from mailark.control.models import UsageReport

from mailark.control.usage_report import PortalConfig, PortalNotConfigured, outbox
from mailark.operations.metering import meter_org, report_usage
from mailark.config.settings import UsagePortalSettings
from tests.control.conftest import make_tenant
from tests.metering.conftest import add_object
from tests.peers.usage_portal import run_portal

TOKEN = "portal-token-s3cr3t-value"


def _configure(rt, portal, timeout: float = 0.5) -> None:  # type: ignore[no-untyped-def]
    rt.settings.usage_portal = UsagePortalSettings(url=portal.url, token=SecretStr(TOKEN), timeout_seconds=timeout,
                                                   backoff_seconds=0.01, backoff_max_seconds=1, ca_file=portal.ca_file)


def test_portal_outage_loses_nothing_and_sends_nothing_twice(rt, tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    a, b = make_tenant(rt, "acme", users=5, storage_gb=10), make_tenant(rt, "globex", users=3, storage_gb=25)
    add_object(rt, a.org.id, 1_500_000_000)
    meter_org(rt, "acme")
    meter_org(rt, "globex")
    day1 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    days = [day1 + timedelta(days=i) for i in range(3)]
    with run_portal(tmp_path, late_seconds=1.0) as portal:
        _configure(rt, portal, timeout=0.4)
        # day 1: the portal is down (500 for everything)
        portal.script = ["500", "500"]
        r = report_usage(rt, now=days[0])
        assert (r.enqueued, r.delivery.sent, r.delivery.failed, r.delivery.pending) == (2, 0, 2, 2)
        assert "answered 500" in r.delivery.errors[0]
        # the same day again: nothing new in the outbox (one report per organization and day)
        portal.script = ["500", "500"]
        assert report_usage(rt, now=days[0]).enqueued == 0

        # day 2: the first request is accepted but its answer is lost (timeout), the next fails again
        portal.script = ["timeout", "500"]
        r = report_usage(rt, now=days[1])
        assert r.enqueued == 2 and r.delivery.sent == 2 and r.delivery.failed == 2
        assert any("did not answer in time" in e for e in r.delivery.errors)

        # day 3: the portal is back; the lost answer is retried with the same key and counts once
        r = report_usage(rt, now=days[2])
        assert r.delivery.failed == 0 and r.delivery.pending == 0

    keys = {f"mailark-usage-{o.org.id}-{d:%Y-%m-%d}" for o in (a, b) for d in days}
    assert set(portal.accepted) == keys, "every organization's report of every day arrived"
    assert all(portal.accept_count(k) == 1 for k in keys), "and each was accepted exactly once"
    assert [o for _, o, _ in portal.requests].count("duplicate") == 1  # the timed-out one, sent again
    doc = portal.accepted[f"mailark-usage-{a.org.id}-2026-11-02"]
    assert (doc["organization_id"], doc["users"], doc["archive_mailboxes"], doc["storage_quota_gb"]) == (a.org.id, 1, 0, 10)
    assert doc["storage_used_bytes"] >= 1_500_000_000 and doc["storage_used_gb"] == 2
    assert {auth for _, _, auth in portal.requests} == {f"Bearer {TOKEN}"}
    with rt.session() as s:
        rows = outbox(s)
    assert len(rows) == 6 and all(r.sent_at for r in rows)
    assert max(r.attempts for r in rows) == 3
    # the token never reaches a log line or a stored error
    assert TOKEN not in caplog.text and all(TOKEN not in (r.last_error or "") for r in rows)
    assert TOKEN not in repr(PortalConfig(portal.url, TOKEN))


def test_without_a_portal_reports_wait_in_the_outbox(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")
    add_object(rt, t.org.id, 4321)
    r = report_usage(rt)
    assert r.enqueued == 1 and r.delivery is None and "no usage portal configured" in r.note
    with rt.session() as s:
        assert [x.sent_at for x in outbox(s)] == [None]
        (rep,) = s.scalars(select(UsageReport)).all()
    doc = json.loads(rep.payload)
    # never metered: measured first, so the report carries real figures, not zeros
    assert doc["storage_measured_at"] is not None and doc["storage_used_bytes"] > 4321 and doc["users"] == 1
    assert doc["idempotency_key"] == rep.idempotency_key


def test_plain_http_portal_is_refused() -> None:
    with pytest.raises(PortalNotConfigured, match="https"):
        PortalConfig("http://portal.example/api/usage", TOKEN)
