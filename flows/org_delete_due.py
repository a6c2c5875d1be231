"""The `delete-due-organizations` flow (daily): organizations whose grace period after a cancellation is
over are crypto-shredded as scheduled (mailark.operations.offboarding.delete_due_organizations)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from mailark.operations.offboarding import delete_due_organizations
from mailark.runtime import open_runtime


@flow(name="delete-due-organizations", log_prints=True, retries=1, retry_delay_seconds=300)
def delete_due_organizations_flow() -> dict[str, Any]:
    """Delete every locked organization whose deletion is due; one under legal hold waits, named."""
    rt = open_runtime()
    try:
        result = delete_due_organizations(rt)
    finally:
        rt.close()
    log = get_run_logger()
    for d in result.deleted:
        log.info("deleted %s: %s", d.org, "; ".join(d.steps))
    for name, why in result.held.items():
        log.warning("not deleted: %s", why)
    return result.as_dict()
