"""The `export-mail` flow: one export job (operations/exports.py does the work), progress in the UI.

Parameters are the export id only: the selection lives in the control plane, and neither the
parameters, the logs nor the artifact hold message content.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_progress_artifact, update_progress_artifact

from mailark.operations.exports import run_export
from mailark.runtime import open_runtime


@flow(name="export-mail", flow_run_name="export {export_id}")
def export_mail(export_id: str) -> dict[str, object]:
    """Write an export job's zip (encrypted, in the organization's storage); paused if the quota fills."""
    logger = get_run_logger()
    artifact = create_progress_artifact(0.0, key=f"export-{export_id.lower()}", description=f"export {export_id}")

    def progress(done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        update_progress_artifact(artifact, pct)
        logger.info("export %s: %d of %d items written", export_id, done, total)

    rt = open_runtime()
    try:
        out = run_export(rt, export_id, on_progress=progress)
    finally:
        rt.close()
    if out.status == "done":
        update_progress_artifact(artifact, 100.0)
        logger.info("export %s done: %d messages and %d quarantined items, %d bytes stored",
                    export_id, out.messages, out.quarantined, out.stored_bytes)
    elif out.status == "done_damaged":  # downloadable; the damaged copies are named in the zip
        update_progress_artifact(artifact, 100.0)
        logger.error("export %s done, but %s", export_id, out.error)
    elif out.status == "paused_quota":
        logger.warning("export %s %s", export_id, out.error)
    else:
        logger.error("export %s failed: %s", export_id, out.error)
        raise RuntimeError(f"export {export_id} failed: {out.error}")
    return out.as_dict()
