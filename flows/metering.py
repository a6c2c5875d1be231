"""The `meter-usage` flow (every 15 minutes) and the `close-billing` flow (daily): thin wrappers.

The work is operations/metering.py; each organization is one task, so the Prefect UI shows who
was measured, how (full or incremental), how many catalogue rows it read and what it decided.
The deployment allows one run at a time (prefect.yaml); within a run, and against a `mailark meter`
started by hand, each organization is also held by a lease in the control plane.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.operations.metering import close_billing, meter_org, org_names, record_usage
from mailark.runtime import Runtime, open_runtime


@task(name="meter-organization", cache_policy=NO_CACHE, task_run_name="meter {org}", retries=2, retry_delay_seconds=30)
def meter_organization(rt: Runtime, org: str, full: bool = False) -> dict[str, Any]:
    from prefect.runtime import task_run

    r = meter_org(rt, org, full=full, holder=f"task-{task_run.id}" if task_run.id else None, record=False)
    log = get_run_logger()
    if r.mode == "skipped":
        log.info("%s: skipped, %s", org, r.note)
        return r.as_dict()
    o = r.outcome
    log.info("%s: %s count at snapshot %s read %d catalogue rows: %d bytes of %d GB, %d users, %d archive mailboxes",
             org, r.mode, r.snapshot_id, r.rows_read, o["storage_bytes"], o["storage_quota_bytes"] // 10**9,
             o["users"], o["mailboxes"])
    for gb in o["expanded_to_gb"]:
        log.info("%s: storage auto-expanded to %d GB", org, gb)
    if o["changed"] == "paused":
        log.warning("%s: archiving paused: %s", org, o["paused_reason"])
    elif o["changed"] == "resumed":
        log.info("%s: archiving resumed, there is room again", org)
    if o["trial_ended"]:
        log.info("%s: the trial ended and the licence is now %s", org, o["trial_ended"])
    for w in o["warnings"]:
        log.info("%s: warning: %s", org, w["message"])
    return r.as_dict()


@task(name="record-usage", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=10)
def save_usage(rt: Runtime, rows: list[dict[str, Any]]) -> int:
    """One catalogue commit with every organization's `usage` row of this run (for the usage charts)."""
    n = record_usage(rt, rows)
    get_run_logger().info("recorded the usage of %d organization(s) in the catalogue", n)
    return n


@flow(name="meter-usage", flow_run_name="meter usage ({org})", log_prints=True, retries=1, retry_delay_seconds=60,
      timeout_seconds=3600)
def meter_usage(org: str = "all", full: bool = False) -> list[dict[str, Any]]:
    """Measure storage, users and archive mailboxes of every organization (or one) against its licence."""
    rt = open_runtime()
    try:
        names = org_names(rt, None if org == "all" else org)
        results = [meter_organization(rt, name, full) for name in names]
        save_usage(rt, [r["usage"] for r in results if r.get("usage")])
        return results
    finally:
        rt.close()


@flow(name="close-billing", flow_run_name="close billing ({org})", log_prints=True, retries=2, retry_delay_seconds=300,
      timeout_seconds=1800)
def close_billing_flow(org: str = "all") -> list[dict[str, Any]]:
    """Write each organization's billing record of the running month and make finished months final."""
    rt = open_runtime()
    try:
        recs = close_billing(rt, None if org == "all" else org)
    finally:
        rt.close()
    log = get_run_logger()
    for r in recs:
        log.info("%s %s: %d licensed users, %d GB%s%s%s", r.org, r.month, r.licensed_users, r.storage_gb,
                 ", trial" if r.trial else "", ", billable" if r.billable else "", ", closed" if r.closed else "")
    return [r.as_dict() for r in recs]
