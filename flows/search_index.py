"""The `index-mail` flow: every minute, bring each organization's search index up to its catalogue.

The work is catalog.search.indexer (plain code, also run by `mailark search index`); the flow runs
one task per organization. An organization's index has one writer: the deployment runs one flow
run at a time (concurrency 1), and the indexer holds the organization's search lock, so a rebuild
started from the CLI waits for it and vice versa. Task results are counts, never text.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from mailark.catalog.search.indexer import IndexOptions, IndexRun, rebuild_index, sync_index
from mailark.control.models import Organization
from mailark.runtime import Runtime, open_runtime


def organizations(rt: Runtime, org: str | None) -> list[Organization]:
    if org:
        return [rt.org(org)]
    from sqlalchemy import select

    with rt.session() as s:
        return list(s.scalars(select(Organization).order_by(Organization.name)))


@task(name="index-organization", cache_policy=NO_CACHE, task_run_name="index the mail of {org_name}",
      retries=2, retry_delay_seconds=10)
def index_organization(rt: Runtime, org_name: str, rebuild: bool = False) -> dict[str, object]:
    o = rt.org(org_name)
    archive = rt.archive_for(o)
    opts = IndexOptions.from_settings(rt.settings.search, grow_parts=True)  # this run may rebuild in more parts
    run: IndexRun = (rebuild_index if rebuild else sync_index)(archive, rt.settings.db_dir, opts)
    log = get_run_logger()
    if run.mode == "unchanged":
        log.info("%s: the index is up to date (catalogue snapshot %d)", org_name, run.snapshot)
    else:
        log.info("%s: %s to catalogue snapshot %d: %d copies indexed, %d removed in %.1f s",
                 org_name, "rebuilt" if run.mode == "rebuild" else "updated", run.snapshot, run.indexed, run.deleted,
                 run.seconds)
    if run.text_failures:
        log.warning("%s: %d copies indexed from their catalogue rows only (their bytes could not be read): "
                    "run an integrity scrub", org_name, len(run.text_failures))
    return {"org": org_name, **run.as_dict()}


def _run_name() -> str:
    from prefect.runtime import flow_run

    p = flow_run.parameters
    return f"{'rebuild the index' if p.get('rebuild') else 'index mail'} of {p.get('org') or 'every organization'}"


@flow(name="index-mail", flow_run_name=_run_name, log_prints=True, timeout_seconds=6 * 3600)
def index_mail(org: str | None = None, rebuild: bool = False) -> list[dict[str, object]]:
    """Index what ingest archived since the last run (or rebuild the index) for one or every organization."""
    rt = open_runtime()
    try:
        return [index_organization(rt, o.name, rebuild) for o in organizations(rt, org)]
    finally:
        rt.close()
