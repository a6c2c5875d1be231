"""The `m365-sync` flow: runs the due Microsoft 365 ("graph") source profiles, one task per batch.

The work is sources/graph/sync.py; this flow only orchestrates. Each archive batch (fetched
messages of one mailbox, up to the batch size) is one `archive-m365-batch` task. Batch objects are
opaque to Prefect; results are counts, never content. A profile whose run failed or was partial is a
failed task "m365 <profile> (<org>)" and a line of the run's "m365-sync-failures" artifact
(flows/source_failures.py); a failed one also fails the flow run with its reason, after the other due
profiles had their turn.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.catalog.ingest import BatchWriter, Counts
from mailark.control import sources as control_sources
from mailark.control.models import Organization
from mailark.control.principals import Principal
from mailark.flows.source_failures import SourceFailure, report
from mailark.runtime import open_runtime
from mailark.sources.errors import SourceError
from mailark.sources.graph.sync import KIND, Batch, sync_profile


# A batch is idempotent (put-if-absent objects, a catalogue commit that checks what exists): retry it.
@task(name="archive-m365-batch", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30, timeout_seconds=1800,
      task_run_name="archive {batch.mailbox} {batch.folder} (batch {batch.number})")
def archive_batch(writer: BatchWriter, batch: Batch) -> Counts:
    counts = writer.write(batch.items)
    get_run_logger().info(
        "%s %s: %d seen, %d archived, %d duplicates, %d quarantined, %d deferred", batch.mailbox, batch.folder,
        counts.seen, counts.archived, counts.duplicates, counts.quarantined, counts.deferred,
    )
    return counts


# No flow retries: a failed profile is due again at its next interval and resumes from its cursors.
# The timeout only bounds a first sync of a large tenant; the next run continues where it stopped.
@flow(name="m365-sync", flow_run_name="sync Microsoft 365 sources", log_prints=True, timeout_seconds=6 * 3600)
def m365_sync(org: str | None = None, profile: str | None = None) -> list[dict[str, Any]]:
    """Archive the mail of every due Microsoft 365 profile (or the one named by org + profile, due or not)."""
    from prefect.runtime import flow_run

    logger = get_run_logger()
    rt = open_runtime()
    results: list[dict[str, Any]] = []
    failures: list[SourceFailure] = []
    try:
        with rt.session() as s:
            if profile is not None:
                if org is None:
                    raise ValueError("name the organization of the profile (org=...)")
                v = control_sources.get_source(s, Principal.deployment_operator(), org, profile)
                if v.kind != KIND or not v.enabled:
                    raise ValueError(f"source {profile!r} of organization {org!r} is not an enabled Microsoft 365 source")
                due = [(v.id, org, v.name)]
            else:
                due = [(p.id, s.get(Organization, p.org_id).name, p.name) for p in control_sources.due_sources(s, KIND)]
        if not due:
            logger.info("no Microsoft 365 source is due")
        for pid, org_name, name in due:
            logger.info("syncing %s of organization %s", name, org_name)
            try:
                res = sync_profile(rt, pid, run_id=str(flow_run.id) if flow_run.id else None,
                                   write=lambda w, b: archive_batch(w, b), logger=logger)
            except Exception as e:  # one source's surprise must not stop the others; it is reported below
                logger.exception("source %r of %r stopped", name, org_name)
                results.append({"profile": name, "org": org_name, "status": "failed", "error": f"stopped: {e}"})
                failures.append(SourceFailure(org_name, name, f"stopped: {e}"))
                continue
            c = res.counts
            logger.info("%s (%s): %s; %d mailboxes, %d folders; %d archived, %d duplicates, %d quarantined, "
                        "%d deferred; %d unchanged, %d removed in Microsoft 365 (kept here), %d resyncs",
                        name, org_name, res.status, res.mailboxes, res.folders, c.archived, c.duplicates,
                        c.quarantined, c.deferred, res.unchanged, res.removed_in_source, res.resyncs)
            if res.error:
                logger.warning("%s (%s): %s", name, org_name, res.error)
            if res.status in ("failed", "partial"):
                failures.append(SourceFailure(org_name, name, f"{res.status}: {res.error}"))
            results.append(res.as_dict())
    finally:
        rt.close()
    report("m365", "Microsoft 365 sources", failures, len(due))
    failed = [r for r in results if r["status"] == "failed"]
    if failed:
        raise SourceError("; ".join(f"{r['profile']} ({r['org']}): {r['error']}" for r in failed))
    return results

