"""The `maintain-archive` flow (nightly): compaction, export expiry, integrity scrub (objects and the
catalogue's Parquet files), deletion of orphans older than the grace period, and the full verification of the audit log's hash chain.

One task per step and organization, so the Prefect UI shows which organization's scrub found
what; the run ends Failed when a stored object failed its check or the audit chain is broken (so
operators are alerted: the message names the first bad event), and a markdown artifact
summarizes the night. The full chain walk is what catches an edit before the newest checkpoint,
which the pages' incremental check cannot see (control.audit).
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from mailark.control import audit
from mailark.operations import maintenance as m
from mailark.runtime import Runtime, open_runtime


@task(name="compact-catalogue", cache_policy=NO_CACHE)
def compact_task(rt: Runtime) -> dict[str, object]:
    return m.compact_catalogue(rt).as_dict()


@task(name="expire-exports", cache_policy=NO_CACHE)
def expire_task(rt: Runtime) -> list[str]:
    return m.expire_exports(rt)


@task(name="scrub", cache_policy=NO_CACHE, task_run_name="scrub {org_name}")
def scrub_task(rt: Runtime, org_name: str, day: int | None) -> dict[str, object]:
    return m.scrub_org(rt, org_name, day).as_dict()


@task(name="delete-orphans", cache_policy=NO_CACHE, task_run_name="orphans of {org_name}")
def orphans_task(rt: Runtime, org_name: str) -> dict[str, object]:
    return m.orphans_of(rt, org_name).as_dict()


@task(name="delete-orphan-catalogue-files", cache_policy=NO_CACHE)
def lake_orphans_task(rt: Runtime) -> dict[str, object]:
    return m.lake_orphans(rt).as_dict()


@task(name="verify-audit-chain", cache_policy=NO_CACHE)
def verify_audit_chain(rt: Runtime) -> dict[str, object]:
    """The whole chain from the first event; raises (the task fails) when it is broken."""
    return audit.verify_audit_chain(rt.session).as_dict()


@flow(name="maintain-archive", flow_run_name="maintenance {day_label}", timeout_seconds=6 * 3600)
def maintain_archive(day: int | None = None, day_label: str = "nightly") -> dict[str, object]:
    """`day` (days since 1970) picks the scrub slice; by default today's."""
    logger = get_run_logger()
    rt = open_runtime()
    try:
        compaction = compact_task(rt)
        expired = expire_task(rt)
        scrubs, orphans = [], {}
        orgs = m.org_names(rt)
        for _, name in orgs:
            scrubs.append(scrub_task(rt, name, day))
            orphans[name] = orphans_task(rt, name)
        lake_orphans = lake_orphans_task(rt)
        unknown = m.unknown_org_prefixes(rt.store, {i for i, _ in orgs})
        chain_state = verify_audit_chain(rt, return_state=True)
    finally:
        rt.close()
    chain_broken = chain_state.result(raise_on_failure=False) if chain_state.is_failed() else None
    chain = None if chain_broken is not None else chain_state.result()
    failures = [(s["org_id"], f) for s in scrubs for f in s["failures"]]  # type: ignore[attr-defined]
    lines = [f"# Maintenance {datetime.now(UTC):%Y-%m-%d}",
             f"- catalogue files: {compaction['files_before']} -> {compaction['files_after']}; "
             f"{compaction['snapshots_expired']} snapshots expired, {compaction['files_deleted']} old files deleted",
             f"- exports expired: {len(expired)}",
             f"- objects scrubbed: {sum(s['objects'] for s in scrubs)}; failures: {len(failures)}",  # type: ignore[misc]
             f"- orphaned objects: {sum(v['found'] for v in orphans.values())}, "  # type: ignore[misc]
             f"{sum(v['deleted'] for v in orphans.values())} deleted (older than the grace period); "  # type: ignore[misc]
             f"orphaned catalogue files: {lake_orphans['found']}, {lake_orphans['deleted']} deleted; "
             f"unknown organization prefixes: {len(unknown)}"]
    for _, f in failures:
        lines.append(f"  - FAILED {f['kind']} `{f['object_key']}`: {f['reason']}")
        lines += [f"    - {a['mailbox']} / {a['folder']}: {a['message_id']} ({a['date']})" for a in f["affected"][:50]]
    lines.append(f"- audit chain: BROKEN: {chain_broken}" if chain_broken is not None else
                 f"- audit chain: intact, {chain['events']} events verified from the first, head {chain['head_hash']}")  # type: ignore[index]
    create_markdown_artifact("\n".join(lines), key="maintenance-report", description="nightly maintenance")
    if unknown:
        logger.warning("objects of organizations the control plane does not know: %s", ", ".join(unknown))
    doc = {"compaction": compaction, "expired_exports": expired, "scrubs": scrubs, "orphans": orphans,
           "lake_orphans": lake_orphans, "unknown_prefixes": unknown, "audit_chain": chain}
    if chain_broken is not None:  # a security event: louder than a damaged object
        logger.error("%s", chain_broken)
        raise RuntimeError(f"audit chain check failed: {chain_broken}")
    if failures:
        raise RuntimeError(f"integrity scrub: {len(failures)} stored objects failed their check (see the report artifact)")
    return doc
