"""The `directory-sync` flow: sync every directory profile whose next sync is due, one task per profile.

Scheduled hourly (prefect.yaml); each profile also has its own interval, so a profile synced on
demand is not synced again before it is due. The rules are in control.directory (plain code); a
task's result is the report's summary (counts and sentences: no secrets, no personal data beyond
logins in the refusals).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.sources.directory.sync import SYSTEM, due_profile_ids, run_sync
from mailark.runtime import Runtime, open_runtime


@task(name="sync-directory", cache_policy=NO_CACHE, task_run_name="sync directory {name} ({org})")
def sync_directory(rt: Runtime, profile_id: str, org: str, name: str, dry_run: bool) -> dict[str, Any]:
    report = run_sync(rt, profile_id, SYSTEM, dry_run=dry_run)
    logger = get_run_logger()
    (logger.error if report.status == "failed" else logger.warning if report.status == "partial" else logger.info)(
        "%s", report.message())
    return {k: v for k, v in report.as_dict().items() if k != "changes"}


@flow(name="directory-sync", flow_run_name="directory sync", log_prints=True, timeout_seconds=3600)
def directory_sync(dry_run: bool = False) -> list[dict[str, Any]]:
    """Sync the due directory profiles of every organization (`dry_run`: report only, change nothing)."""
    logger = get_run_logger()
    rt = open_runtime()
    try:
        due = due_profile_ids(rt)
        logger.info("%d directory profile(s) due", len(due))
        # One after the other: each takes the control plane's write lock while it applies its changes.
        return [sync_directory(rt, pid, org, name, dry_run) for pid, org, name in due]
    finally:
        rt.close()
