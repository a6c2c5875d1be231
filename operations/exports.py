"""Export jobs: the plain code the `export-mail` flow, the API and the CLI run.

A job writes its zip through a sealed stream (storage/streams.py) into a temporary file under
$MAILARK_HOME/tmp, checking the organization's storage quota before every sealed block. Only a
complete file is stored (one atomic put) under `orgs/<org_id>/exports/<export_id>.zip` and then
catalogued as an object of kind "export", so metering counts it. When the quota is reached the
job becomes `paused_quota`, the temporary file is removed and nothing is stored; resumed, it
starts again with the same cut-off (and so the same content).

Nothing here imports Prefect: the flow adds the progress artifact and the logs.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mailark.catalog.export import Selection, count_selected, write_zip
from mailark.catalog.ingest import _insert, storage_used
from mailark.catalog.lake import ALIAS
from mailark.control import exports as cx
from mailark.control import notices
from mailark.control.models import ExportJob, Organization
from mailark.control.orgs import org_keys
from mailark.operations.failures import explain
from mailark.runtime import Runtime
from mailark.storage.crypto import Sealer
from mailark.storage.streams import SealedStreamWriter, open_sealed_stream

log = logging.getLogger("mailark.export")


class QuotaReached(Exception):
    pass


@dataclass
class ExportOutcome:
    export_id: str
    status: str
    items_total: int
    messages: int
    quarantined: int
    mail_bytes: int
    stored_bytes: int
    error: str | None = None
    damaged: int = 0

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


ProgressHook = Callable[[int, int], None]  # (items done, items total)


def _utc(d: datetime | None) -> datetime | None:
    return d if d is None or d.tzinfo else d.replace(tzinfo=UTC)


def selection_of(job: ExportJob) -> Selection:
    sel = cx.Selected.of(job)
    parse = lambda s: datetime.fromisoformat(s) if s else None  # noqa: E731
    return Selection(
        mailbox_ids=tuple(sel.mailbox_ids) if sel.mailbox_ids is not None else None, folder=sel.folder,
        date_from=parse(sel.date_from), date_to=parse(sel.date_to),
        archived_after=_utc(job.archived_after), archived_until=_utc(job.archived_until),
        item_ids=tuple(sel.item_ids) if sel.item_ids is not None else None,
    )


def _outcome(job: ExportJob) -> ExportOutcome:
    return ExportOutcome(job.id, job.status, job.items_total or 0, job.messages, job.quarantined, job.mail_bytes,
                         job.stored_bytes, job.error, job.damaged or 0)


def run_export(rt: Runtime, export_id: str, *, on_progress: ProgressHook | None = None,
               now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> ExportOutcome:
    """Run (or resume) one export job to done, done_damaged, paused_quota or failed; returns what it came to."""
    settings = rt.settings
    with rt.session(write=True) as s:
        job = cx.claim(s, export_id, now())
        org = s.get(Organization, job.org_id)
        assert org is not None
        s.expunge(org)
        name, sel = job.object_name, selection_of(job)
    archive = rt.archive_for(org)
    try:
        total = sum(count_selected(archive, sel))
    except Exception as e:  # a damaged catalogue file: nothing to export from; say what is damaged
        log.error("export %s failed: %s", export_id, e)
        return _finish(rt, export_id, cx.FAILED, error=explain(e) or f"{type(e).__name__}: {e}")
    _update(rt, export_id, items_total=total)
    quota = org.storage_quota_bytes
    used = storage_used(archive)
    log.info("export %s of %s: %d items to write; %d of %d bytes of storage in use", export_id, org.name, total, used, quota)

    def on_block(sealed_so_far: int) -> None:
        nonlocal quota
        if quota is not None and used + sealed_so_far > quota:
            grown = archive.expand_quota(used + sealed_so_far) if archive.expand_quota else None
            if grown is not None and used + sealed_so_far <= grown:
                quota = grown  # the licence auto-expanded for this export
                return
            raise QuotaReached()

    last = [0]

    def progress(done: int, _bytes: int) -> None:
        _update(rt, export_id, items_done=done)
        last[0] = done
        if on_progress:
            on_progress(done, total)

    put = False  # the file is stored: a failure from here on must delete it (nothing half-done stays)
    tmp_dir = settings.home / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.NamedTemporaryFile(dir=tmp_dir, prefix="export-", suffix=".sealed") as tmp:
            writer = SealedStreamWriter(archive.sealer, name, tmp, block_size=settings.export_block_bytes,  # type: ignore[arg-type]
                                        on_block=on_block)
            result = write_zip(archive, sel, writer, progress, progress_every=settings.export_progress_every)
            zip_bytes = writer.tell()
            stored = writer.finish()
            tmp.flush()
            # Only a complete file is stored, in one atomic put, and then counted against the quota.
            archive.store.put_file(name, Path(tmp.name), durable=True)
            put = True
        with archive.lane():
            con = archive.lake
            con.execute("BEGIN")
            try:
                con.execute(f"DELETE FROM {ALIAS}.objects WHERE org_id = ? AND object_key = ?", [org.id, name])
                _insert(con, "objects", [dict(org_id=org.id, object_key=name, kind="export", plain_size=zip_bytes,
                                              stored_size=stored, batch_id=export_id, created_at=now())])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    except QuotaReached:
        msg = notices.notice("export_paused_quota", org=org.name, quota_bytes=quota, done=last[0], total=total,
                             export_id=export_id).message
        log.warning("export %s %s", export_id, msg)
        return _finish(rt, export_id, cx.PAUSED_QUOTA, error=msg)
    except Exception as e:
        log.error("export %s failed: %s", export_id, e)
        if put:
            archive.store.delete(name)
        return _finish(rt, export_id, cx.FAILED, error=explain(e) or f"{type(e).__name__}: {e}")
    expires = now() + timedelta(days=settings.export_expiry_days)
    status, note = cx.DONE, None
    if result.damaged:  # every intact copy is in the zip; the rest are named in it: a status scripts notice
        status = cx.DONE_DAMAGED
        note = (f"{result.damaged} damaged copies could not be read back intact and are not in this export: "
                f"DAMAGED.txt and manifest.csv (kind 'damaged') in the zip name them")
        log.error("export %s: %s", export_id, note)
    out = _finish(rt, export_id, status, items_done=result.messages + result.quarantined + result.damaged,
                  messages=result.messages, quarantined=result.quarantined, damaged=result.damaged,
                  mail_bytes=result.bytes, zip_bytes=zip_bytes, stored_bytes=stored, finished_at=now(),
                  expires_at=expires, error=note)
    log.info("export %s done: %d messages, %d quarantined items, %d bytes stored (expires %s)",
             export_id, result.messages, result.quarantined, stored, f"{expires:%Y-%m-%d}")
    return out


def _update(rt: Runtime, export_id: str, **values: object) -> None:
    with rt.session(write=True) as s:
        job = s.get(ExportJob, export_id)
        assert job is not None
        for k, v in values.items():
            setattr(job, k, v)


def _finish(rt: Runtime, export_id: str, status: str, **values: object) -> ExportOutcome:
    with rt.session(write=True) as s:
        job = s.get(ExportJob, export_id)
        assert job is not None
        job.status = status
        for k, v in values.items():
            setattr(job, k, v)
        if status not in cx.DOWNLOADABLE:
            job.finished_at = None
        return _outcome(job)


# ---- download, deletion, expiry -------------------------------------------------------------------


def sealer_for(rt: Runtime, org_id: str) -> Sealer:
    with rt.control() as s:
        org = s.get(Organization, org_id)
        assert org is not None
        keys = org_keys(s, org, rt.master_key)
    return Sealer(org_id, keys.data_key, keys.all_data_keys())


def open_download(rt: Runtime, job: ExportJob, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The decrypted zip as a stream of blocks. Raises ObjectNotFound now (not at the first block)."""
    chunks = rt.store.iter_chunks(job.object_name, chunk_size)
    return open_sealed_stream(sealer_for(rt, job.org_id), job.object_name, chunks)


def remove_file(rt: Runtime, org_id: str, object_name: str) -> None:
    """Delete an export file and its `objects` row (it no longer counts against the quota)."""
    rt.store.delete(object_name)
    from mailark.catalog.lake import catalog_lane

    with catalog_lane(rt.settings, org_id, rt.lake, rt.store):
        rt.lake.execute(f"DELETE FROM {ALIAS}.objects WHERE org_id = ? AND object_key = ? AND kind = 'export'",
                        [org_id, object_name])


def expire_exports(rt: Runtime, now: datetime | None = None) -> list[str]:
    """Delete the files of exports past their expiry; returns their ids."""
    now = now or datetime.now(UTC)
    with rt.session(write=True) as s:
        for export_id in cx.fail_stale(s, now, timedelta(hours=rt.settings.export_stale_hours)):
            log.warning("export %s was still marked running after %d hours: marked failed (resumable)",
                        export_id, rt.settings.export_stale_hours)
        due = [(j.id, j.org_id, j.object_name) for j in cx.due_for_expiry(s, now)]
    for export_id, org_id, name in due:
        remove_file(rt, org_id, name)
        _update(rt, export_id, status=cx.EXPIRED)
        log.info("export %s expired: its file was deleted", export_id)
    return [d[0] for d in due]


# ---- launching -------------------------------------------------------------------------------------


def launch(rt: Runtime, export_id: str) -> str:
    """Start the job: as the `export-mail` deployment when a Prefect server is up, else in a thread here.

    Returns "prefect" or "thread". The thread opens a runtime of its own (its own DuckDB connection).
    """
    from mailark.operations.prefect_server import is_up

    if is_up(rt.settings.prefect_api_url):
        try:
            from prefect.deployments import run_deployment
            from prefect.settings import PREFECT_API_URL, temporary_settings

            # A flow run of the deployment; the worker of `mailark up` picks it up (queue "exports").
            with temporary_settings({PREFECT_API_URL: rt.settings.prefect_api_url}):
                run_deployment("export-mail/export-mail", parameters={"export_id": export_id}, timeout=0)
            return "prefect"
        except Exception as e:  # noqa: BLE001 - no deployment registered: run here instead
            log.info("export %s: the export-mail deployment is not available (%s); running in this process", export_id, e)

    def work() -> None:
        from mailark.runtime import open_runtime

        own = open_runtime(rt.settings)
        try:
            run_export(own, export_id)
        finally:
            own.close()

    threading.Thread(target=work, name=f"export-{export_id}", daemon=True).start()
    return "thread"
