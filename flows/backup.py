"""The `backup` flow (daily): back up the whole deployment into a new generation under
`backup.destination`, check it, keep the newest `backup.keep` complete generations.

The plain code is operations/backup_schedule.py. The run ends Failed when the backup is incomplete
(something could not be copied, or its check found damage), so operators are alerted; a markdown
artifact (`backup-report`) names the generation, what was copied and checked, and what was pruned.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from mailark.operations.backup_schedule import scheduled_backup
from mailark.runtime import Runtime, open_runtime


@task(name="back-up-deployment", cache_policy=NO_CACHE)
def backup_task(rt: Runtime) -> dict[str, object]:
    return scheduled_backup(rt).as_dict()


def report(doc: dict[str, object]) -> str:
    """The artifact's markdown."""
    v = doc.get("verification") or {}
    assert isinstance(v, dict)
    lines = [f"# Backup {doc['generation']}: {'complete' if doc['complete'] else 'INCOMPLETE'}",
             f"- into `{doc['path']}`: {doc['organizations']} organizations, {doc['control_rows']} control-plane rows, "
             f"{doc['catalogue_rows']} catalogue rows, {doc['objects']} objects ({doc['object_bytes']:,} bytes), "
             f"{doc['catalogue_files']} catalogue files",
             f"- checked: {v.get('objects_checked', 0)} objects, {v.get('copies_checked', 0)} copies rebuilt"
             if v else "- not checked"]
    lines += [f"  - NOT COPIED `{g['name']}`: {g['reason']}" for g in doc["not_copied"]]  # type: ignore[attr-defined]
    lines += [f"  - DAMAGED {d['kind']} `{d['name']}`: {d['reason']}" for d in v.get("damaged", [])]
    lines.append(f"- generations kept: {', '.join(doc['kept']) or 'none'}; deleted: {', '.join(doc['pruned']) or 'none'}")  # type: ignore[arg-type]
    return "\n".join(lines)


@flow(name="backup", timeout_seconds=12 * 3600)
def backup_flow() -> dict[str, object]:
    logger = get_run_logger()
    rt = open_runtime()
    try:
        doc = backup_task(rt)
    finally:
        rt.close()
    create_markdown_artifact(report(doc), key="backup-report", description="daily backup")
    if not doc["complete"]:
        raise RuntimeError(f"backup {doc['generation']} is incomplete: {len(doc['not_copied'])} not copied, "  # type: ignore[arg-type]
                           f"{len((doc.get('verification') or {}).get('damaged', []))} damaged (see the backup-report artifact); "  # type: ignore[union-attr]
                           f"older generations were kept")
    logger.info("backup %s complete; kept %s, deleted %s", doc["generation"], doc["kept"], doc["pruned"])
    return doc
