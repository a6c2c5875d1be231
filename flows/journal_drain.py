"""The `journal-drain` flow: archive the SMTP drops of every organization (sources/journal/drain.py).

Scheduled every minute with concurrency 1 (prefect.yaml), on its own high-priority work queue. One task per organization and batch;
task parameters and results never hold message content (batches are opaque, results are counts).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.catalog.ingest import BatchWriter, Counts
from mailark.runtime import open_runtime
from mailark.sources.journal.drain import Batch, drain_fairly


@task(name="archive-drops", cache_policy=NO_CACHE, task_run_name="archive {batch.source} drops, batch {batch.number}")
def archive_drops(writer: BatchWriter, batch: Batch) -> Counts:
    counts = writer.write(batch.items)
    get_run_logger().info(
        "%d drop(s) -> %d cop(ies): %d archived, %d duplicates, %d quarantined, %d deferred",
        len(batch.drops), counts.seen, counts.archived, counts.duplicates, counts.quarantined, counts.deferred,
    )
    return counts


@flow(name="journal-drain", flow_run_name="drain SMTP journal and import drops", log_prints=True,
      retries=1, retry_delay_seconds=30, timeout_seconds=3600)
def journal_drain(import_seconds: float | None = 40.0) -> list[dict[str, object]]:
    """Archive accepted journal and import mail; a drop is deleted once its copies are in the catalogue.

    Journal drops of every organization first, then SMTP import drops for at most `import_seconds`
    shared between the importing organizations (sources/journal/drain.py::drain_fairly): a run ends
    within about a minute, so the next one serves every organization's journal again (issue 17)."""
    from prefect.runtime import flow_run

    logger = get_run_logger()
    rt = open_runtime()
    try:
        done = drain_fairly(rt, str(flow_run.id) if flow_run.id else None, write=lambda w, b: archive_drops(w, b),
                            import_seconds=import_seconds)
        if not done:
            logger.info("no drops waiting")
        for r in done:
            c = r.counts
            logger.info("%s: %d drop(s), %d removed, %d kept; %d archived, %d duplicates, %d quarantined, %d deferred",
                        r.org, r.drops, r.removed, r.kept, c.archived, c.duplicates, c.quarantined, c.deferred)
            if c.deferred:
                logger.warning("%s: storage is full; %d drop(s) wait until there is room", r.org, r.kept)
            for p in r.problems:
                logger.warning("%s: %s", r.org, p)
    finally:
        rt.close()
    return [r.as_dict() for r in done]
