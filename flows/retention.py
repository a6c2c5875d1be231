"""The `apply-retention` flow (daily): apply every organization's retention policies
(operations/retention.py): one task per organization, a markdown artifact each. An organization that
fails does not stop the others; the run ends Failed naming it, and the next run resumes its
unfinished run without deleting anything twice or early."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from mailark.control.principals import Principal
from mailark.runtime import Runtime, open_runtime
from mailark.operations.retention import apply_retention, org_names_with_policies


def _artifact_key(org: str) -> str:
    return "retention-" + "".join(ch if ch.isalnum() else "-" for ch in org.lower())


@task(name="apply-retention-org", cache_policy=NO_CACHE, task_run_name="apply retention of {org}")
def apply_org(rt: Runtime, org: str) -> dict[str, Any]:
    doc = apply_retention(rt, Principal.deployment_operator(), org).as_dict()
    lines = [f"# Retention: {org}", f"- as of {doc['as_of']:%Y-%m-%d %H:%M} UTC"
             + (" (resumed an unfinished run)" if doc["resumed"] else ""),
             f"- deleted: {doc['deleted']} copies, {doc['bytes_freed']:,} stored bytes freed",
             f"- expired but under legal hold: {doc['held']}", f"- waiting for review: {doc['review']}"]
    lines += [f"  - policy **{name}**: {n} deleted" for name, n in sorted(doc["by_policy"].items())]
    create_markdown_artifact("\n".join(lines), key=_artifact_key(org), description=f"retention of {org}")
    return doc


@flow(name="apply-retention", flow_run_name="apply retention", log_prints=True, timeout_seconds=6 * 3600)
def apply_retention_flow(org: str | None = None) -> dict[str, dict[str, Any]]:
    """Delete what expired under each organization's policies (only `org`, when given)."""
    log = get_run_logger()
    rt = open_runtime()
    results: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    try:
        for name in [org] if org else org_names_with_policies(rt):
            state = apply_org(rt, name, return_state=True)
            if state.is_failed():
                failed.append(name)
                log.error("retention of %s failed: %s", name, state.result(raise_on_failure=False))
            else:
                results[name] = state.result()
    finally:
        rt.close()
    if failed:
        raise RuntimeError(f"retention failed for {', '.join(failed)} (the next run resumes where it stopped)")
    return results
