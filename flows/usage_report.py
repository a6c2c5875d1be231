"""The `report-usage` flow (daily): today's usage of every organization into the outbox, then
deliver what is due to the business portal (operations/metering.py, control/usage_report.py)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from mailark.operations.metering import report_usage
from mailark.runtime import open_runtime


@flow(name="report-usage", flow_run_name="report usage", log_prints=True, retries=2, retry_delay_seconds=600,
      timeout_seconds=1800)
def report_usage_flow() -> dict[str, Any]:
    """Send organization id, users, storage used and archive mailboxes to the business portal, at most once each day."""
    rt = open_runtime()
    try:
        r = report_usage(rt)
    finally:
        rt.close()
    log = get_run_logger()
    doc = r.as_dict()
    log.info("%d new report(s) in the outbox; %d sent, %d failed (retried later), %s waiting",
             doc["enqueued"], doc["sent"], doc["failed"], doc["pending"])
    if r.note:
        log.warning(r.note)
    for e in doc["errors"][:20]:
        log.warning("not delivered: %s", e)
    return doc
