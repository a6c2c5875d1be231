"""The `import-files` flow: the plain import of sources/files/importing.py, one Prefect task per batch.

Task parameters and results never hold message content: the batch object is opaque to Prefect
and results are counts.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.catalog.ingest import BatchWriter, Counts
from mailark.sources.files.importing import Batch, run_import
from mailark.runtime import open_runtime




@task(name="archive-batch", cache_policy=NO_CACHE, task_run_name="archive batch {batch.number}")
def archive_batch(writer: BatchWriter, batch: Batch) -> Counts:
    counts = writer.write(batch.items, consume=True)
    get_run_logger().info(
        "batch %d: %d seen, %d archived, %d duplicates, %d quarantined, %d deferred",
        batch.number, counts.seen, counts.archived, counts.duplicates, counts.quarantined, counts.deferred,
    )
    return counts


@flow(name="import-files", flow_run_name="import into {mailbox} ({org})", log_prints=True)
def import_files(org: str, mailbox: str, sources: list[str], folder: str | None = None) -> dict[str, object]:
    """Archive mail files into one archive mailbox; the ledger adds up: seen = archived + duplicates + quarantined + deferred."""
    from prefect.runtime import flow_run

    logger = get_run_logger()
    rt = open_runtime()
    try:
        result = run_import(
            rt, org, mailbox, [Path(s) for s in sources], folder,
            run_id=str(flow_run.id) if flow_run.id else None,
            write=lambda w, b: archive_batch(w, b),
        )
    finally:
        rt.close()
    c = result.counts
    logger.info(
        "imported into %s: %d seen, %d archived, %d duplicates, %d quarantined, %d deferred",
        result.mailbox, c.seen, c.archived, c.duplicates, c.quarantined, c.deferred,
    )
    for reason, n in sorted(c.reasons.items()):
        logger.info("%d item(s): %s", n, reason)
    return result.as_dict()
