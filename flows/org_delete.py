"""The `delete-organization` flow (on demand): crypto-shred an organization and remove its data
(mailark.operations.offboarding; resumable: a retry continues where the last run stopped)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from mailark.control.principals import Principal
from mailark.runtime import open_runtime
from mailark.operations.offboarding import delete_organization


@flow(name="delete-organization", flow_run_name="delete {org}", log_prints=True, retries=3, retry_delay_seconds=60)
def delete_organization_flow(org: str, confirm: str, now: bool = False, reason: str = "") -> dict[str, Any]:
    """Destroy the organization's keys first, then its objects, catalogue rows, index and control-plane rows."""
    rt = open_runtime()
    try:
        r = delete_organization(rt, Principal.deployment_operator(), org, confirm=confirm, now=now, reason=reason)
    finally:
        rt.close()
    for step in r.steps:
        get_run_logger().info(step)
    return r.as_dict()
