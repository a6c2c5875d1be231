"""The `imap-sync` flow: every 5 minutes, run the due IMAP source profiles of all organizations.

One flow run per tick looks at every due profile (issue 17: a subflow per due profile cost the
Prefect API a flow run per source every 5 minutes, idle or not); archive batches are tasks
("archive <account> <folder> #n"), submitted so that the next batch downloads while one is
archived, and a failed profile is a failed task "imap <profile> (<org>)" and a line of the run's
"imap-sync-failures" artifact. `imap-profile` runs one profile on demand (the CLI); the work is
the plain code of sources/imap/sync.py.
Task parameters and results hold no message content: batches are opaque, results are counts.
A failed profile's reason is also in the ledger and on the profile; the other profiles still run.
"""

from __future__ import annotations

import contextvars
import queue
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.catalog.ingest import BatchWriter, Counts
from mailark.control import sources as control_sources
from mailark.flows.source_failures import SourceFailure, report
from mailark.runtime import open_runtime
from mailark.sources.errors import SourceError
from mailark.sources.imap.sync import ImapBatch, SyncResult, sync_profile


# A batch write is idempotent (put-if-absent objects, check-then-append in the commit lane): retry it.
@task(name="archive-imap-batch", cache_policy=NO_CACHE, task_run_name="archive {batch.label}", retries=2,
      retry_delay_seconds=10)
def archive_batch(writer: BatchWriter, batch: ImapBatch) -> Counts:
    counts = writer.write(batch.items)  # not consumed: a retry writes the same batch again
    get_run_logger().info(
        "%s: %d fetched, %d archived, %d duplicates, %d quarantined, %d deferred",
        batch.label, counts.seen, counts.archived, counts.duplicates, counts.quarantined, counts.deferred,
    )
    return counts


# A first sync of a large mailbox can take hours; one stopped by the timeout goes on from its cursors.
@flow(name="imap-profile", flow_run_name="imap {name} ({org})", log_prints=True, timeout_seconds=6 * 3600)
def imap_profile(profile_id: str, name: str, org: str) -> dict[str, Any]:
    """Archive one IMAP source profile now (`name` and `org` name the run in the UI)."""
    from prefect.runtime import flow_run

    logger = get_run_logger()
    rt = open_runtime()
    try:
        result = sync_profile(rt, profile_id, run_id=str(flow_run.id) if flow_run.id else None,
                              submit=lambda w, b: archive_batch.submit(w, b), log=logger)
    finally:
        rt.close()
    c = result.counts
    logger.info(
        "%s: %s; %d new message(s) seen, %d downloaded, %d archived, %d duplicates, %d quarantined, %d deferred, "
        "%d moved, %d folder(s) renamed", name, result.status, c.seen, result.fetched, c.archived, c.duplicates,
        c.quarantined, c.deferred, result.moved, result.renamed,
    )
    if result.status in ("failed", "partial"):
        raise SourceError(f"source {name!r} of {org!r} {result.status}: {result.error}")
    return result.as_dict()


def _sync_orgs(todo: queue.SimpleQueue[list[tuple[str, str, str]]], run_id: str | None,
               logger: Any) -> list[tuple[str, str, SyncResult | Exception]]:
    """Take organizations off `todo` until it is empty, each one's due profiles one after another, on a
    runtime of this thread's own (a DuckDB connection serves one thread at a time)."""
    rt = open_runtime()
    done: list[tuple[str, str, SyncResult | Exception]] = []
    try:
        while True:
            try:
                profiles = todo.get_nowait()
            except queue.Empty:
                return done
            for profile_id, name, org in profiles:
                try:
                    done.append((org, name, sync_profile(rt, profile_id, run_id=run_id,
                                                         submit=lambda w, b: archive_batch.submit(w, b), log=logger)))
                except Exception as e:  # one source's surprise must not stop the others; it is reported below
                    logger.exception("source %r of %r stopped", name, org)
                    done.append((org, name, e))
    finally:
        rt.close()


@flow(name="imap-sync", flow_run_name="imap sync", log_prints=True, timeout_seconds=12 * 3600)
def imap_sync() -> dict[str, Any]:
    """Run every due IMAP profile of every organization in this one run; one failing does not stop the others.

    The due sources come from one control-plane query; an idle source costs its IMAP look, no Prefect
    object. Up to `sources.parallel` organizations are checked at once, each organization's sources
    one after the other (so it never has two at once); the archive batches of a source with new mail
    are tasks, and a failed source is a failed task named "imap <profile> (<org>)" plus a line of the
    "imap-sync-failures" artifact.
    """
    from prefect.runtime import flow_run

    logger = get_run_logger()
    rt = open_runtime()
    try:
        parallel = rt.settings.sources.parallel
        with rt.session() as s:
            from mailark.control.models import Organization

            due = [(p.id, p.name, s.get(Organization, p.org_id).name)  # type: ignore[union-attr]
                   for p in control_sources.due_sources(s, "imap")]
    finally:
        rt.close()
    if not due:
        logger.info("no IMAP source is due")
        return {}
    by_org: dict[str, list[tuple[str, str, str]]] = {}
    for d in due:
        by_org.setdefault(d[2], []).append(d)
    run_id = str(flow_run.id) if flow_run.id else None
    todo: queue.SimpleQueue[list[tuple[str, str, str]]] = queue.SimpleQueue()
    for profiles in by_org.values():
        todo.put(profiles)
    threads = max(1, min(parallel, len(by_org)))
    with ThreadPoolExecutor(threads, thread_name_prefix="imap-sync") as pool:
        # Each thread gets a copy of this run's context, so its batches are tasks of this flow run.
        futures = [pool.submit(contextvars.copy_context().run, _sync_orgs, todo, run_id, logger)
                   for _ in range(threads)]
        done = [r for f in futures for r in f.result()]
    outcome: dict[str, Any] = {}
    failures: list[SourceFailure] = []
    for org, name, result in done:
        if isinstance(result, Exception):
            outcome[f"{org}/{name}"] = "failed"
            failures.append(SourceFailure(org, name, f"stopped: {result}"))
            continue
        c = result.counts
        logger.info("%s (%s): %s; %d downloaded, %d archived, %d duplicates, %d quarantined, %d deferred",
                    name, org, result.status, result.fetched, c.archived, c.duplicates, c.quarantined, c.deferred)
        if result.status in ("failed", "partial"):
            outcome[f"{org}/{name}"] = "failed"
            failures.append(SourceFailure(org, name, f"{result.status}: {result.error}"))
        else:
            outcome[f"{org}/{name}"] = result.status
    report("imap", "IMAP sources", failures, len(due))
    return outcome
