"""The `journal-drain` flow: archive the SMTP drops of every organization (sources/journal/drain.py).

Scheduled every minute with concurrency 1 (prefect.yaml). One task per organization and batch;
task parameters and results never hold message content (batches are opaque, results are counts).
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.catalog.ingest import BatchWriter, Counts
from mailark.runtime import open_runtime
from mailark.sources.journal.drain import Batch, drain_org, orgs_with_drops


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
def journal_drain() -> list[dict[str, object]]:
    """Archive accepted journal and import mail; a drop is deleted once its copies are in the catalogue."""
    from prefect.runtime import flow_run

    logger = get_run_logger()
    rt = open_runtime()
    results = []
    try:
        orgs = orgs_with_drops(rt)
        if not orgs:
            logger.info("no drops waiting")
        for org in orgs:
            r = drain_org(rt, org, str(flow_run.id) if flow_run.id else None, write=lambda w, b: archive_drops(w, b))
            c = r.counts
            logger.info("%s: %d drop(s), %d removed, %d kept; %d archived, %d duplicates, %d quarantined, %d deferred",
                        org.name, r.drops, r.removed, r.kept, c.archived, c.duplicates, c.quarantined, c.deferred)
            if c.deferred:
                logger.warning("%s: storage is full; %d drop(s) wait until there is room", org.name, r.kept)
            for p in r.problems:
                logger.warning("%s: %s", org.name, p)
            results.append(r.as_dict())
    finally:
        rt.close()
    return results
