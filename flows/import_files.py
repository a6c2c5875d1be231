"""The `import-files` flow: the plain import of sources/files/importing.py, one Prefect task per batch.

Task parameters and results never hold message content: the batch object is opaque to Prefect
and results are counts. A run holds its organization's bulk slot (flows/org_slots.py) while it
archives, so a second import of the same organization waits and the other bulk slot stays free
for another organization's import: a worker's run (from the deployment) that cannot have the slot
within WAIT_SECONDS queues the same import again REQUEUE_SECONDS later and ends, freeing its bulk
queue slot; a run made by the CLI simply waits.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.catalog.ingest import BatchWriter, Counts
from mailark.flows.org_slots import WAIT_SECONDS, org_bulk_slot
from mailark.sources.files.importing import Batch, run_import
from mailark.runtime import open_runtime


REQUEUE_SECONDS = 60


def requeue(deployment_id: str, org: str, mailbox: str, sources: list[str], folder: str | None) -> str:
    """Schedule the same import again on its deployment, REQUEUE_SECONDS from now; returns the new run's id."""
    from uuid import UUID

    from prefect.deployments import run_deployment

    run = run_deployment(UUID(deployment_id), timeout=0, as_subflow=False,
                         parameters={"org": org, "mailbox": mailbox, "sources": sources, "folder": folder},
                         scheduled_time=datetime.now(timezone.utc) + timedelta(seconds=REQUEUE_SECONDS))
    return str(run.id)


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
    from prefect.runtime import deployment, flow_run

    logger = get_run_logger()
    deployment_id = deployment.id  # None when the CLI runs the flow itself
    with org_bulk_slot(org, wait_seconds=WAIT_SECONDS if deployment_id else None) as held:
        if not held:
            next_run = requeue(deployment_id, org, mailbox, sources, folder)
            logger.info("another import of organization %s is running: this import waits in the queue again "
                        "(flow run %s, in %d s), so the bulk slot goes to other organizations meanwhile",
                        org, next_run, REQUEUE_SECONDS)
            return {"org": org, "mailbox": mailbox, "deferred": True, "next_run": next_run}
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
