"""Export jobs: who may export what, and how often.

An export is a read of message content: a principal exports only archive mailboxes it may read
(`control.mailboxes.readable_mailbox_ids`: granted mailboxes, every one with Compliance, every
one for operators), and every request and download is audited as `content.export`. Outsiders
get NotFound. Rules:

- a *full* export (every mailbox, folder and date of the organization) is allowed once per
  calendar month (UTC) per organization; one that paused at the quota, failed or was deleted before it
  completed does not use the month's allowance (nor is it ever the base of an incremental export); a
  selection of every mailbox, or a date range that covers every archived message, is a full export;
- an *incremental* export (mail archived since the last completed export of the same selection)
  is allowed any time; with no earlier export it is the whole selection (for the whole archive:
  a full export, with the monthly rule);
- any other selection (mailboxes, folder, dates) any time.

The work (writing the zip, storing it, the quota) is in operations/exports.py; this module only
changes job rows, so it is testable without a catalogue.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailark.control import audit, licensing, notices
from mailark.control.mailboxes import readable_mailbox_ids
from mailark.control.models import ExportJob, Licence, Mailbox, Organization
from mailark.control.orgs import Conflict, ControlError, Forbidden, LimitExceeded, NotFound, find_mailbox, new_id, normalize_address
from mailark.control.principals import ADMIN, COMPLIANCE, Principal, roles_in, visible_org

FULL, INCREMENTAL, SELECTION = "full", "incremental", "selection"
QUEUED, RUNNING, PAUSED_QUOTA, DONE, FAILED, EXPIRED, DELETED = (
    "queued", "running", "paused_quota", "done", "failed", "expired", "deleted")
# Done, but copies that do not read back intact were left out (listed in the zip's DAMAGED.txt and
# manifest.csv, counted in `damaged`): downloadable like `done`, and distinct so scripts notice.
DONE_DAMAGED = "done_damaged"
RUNNABLE = (QUEUED, PAUSED_QUOTA, RUNNING)
DOWNLOADABLE = (DONE, DONE_DAMAGED)
# States in which the job may have completed: only those with a file written (`expires_at` set when it was
# done) did, and an incremental export continues from their cut-off (a deleted unfinished one never).
COMPLETED = (DONE, DONE_DAMAGED, EXPIRED, DELETED)


def _completed() -> Any:
    return ExportJob.status.in_(COMPLETED) & ExportJob.expires_at.is_not(None)


def _uses_the_month(session: Session, org_id: str, now: datetime, but: str | None = None) -> ExportJob | None:
    """The full export that used this month's allowance: one that completed, or one queued or running now.
    A full export that paused at the quota, failed or was deleted before it completed does not."""
    q = select(ExportJob).where(ExportJob.org_id == org_id, ExportJob.kind == FULL,
                                ExportJob.created_at >= _month_start(now),
                                ExportJob.status.in_((QUEUED, RUNNING)) | _completed())
    if but is not None:
        q = q.where(ExportJob.id != but)
    return session.scalars(q.order_by(ExportJob.created_at)).first()


def _refuse_second_full(o: Organization, earlier: ExportJob, now: datetime) -> LimitExceeded:
    return LimitExceeded(
        f"organization {o.name!r} already had its full-archive export this month "
        f"(export {earlier.id}, {_utc(earlier.created_at):%Y-%m-%d}): the next is allowed from "  # type: ignore[str-format]
        f"{_next_month(now):%Y-%m-%d}; an incremental export (new mail since the last export) is allowed any time")


def export_object_name(org_id: str, export_id: str) -> str:
    return f"orgs/{org_id}/exports/{export_id}.zip"


@dataclass(frozen=True)
class ExportRequest:
    """What a principal asks for; stored as the job's selection (JSON)."""

    mailboxes: list[str] | None = None  # addresses; None = every mailbox the principal may read
    folder: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    incremental: bool = False
    query: str | None = None  # a search query (kept for the record) ...
    item_ids: list[str] | None = None  # ... resolved by the caller to the copies it matched (search.matching_item_ids)

    def validate(self) -> None:
        if self.query is not None and self.item_ids is None:
            raise ControlError("a search export needs the query resolved to the copies it matches")
        if self.item_ids is not None and not self.item_ids:
            raise ControlError("the search matches no archived mail you may read: there is nothing to export")
        for d in (self.date_from, self.date_to):
            if d is not None and d.tzinfo is None:
                raise ControlError("dates need a time zone (e.g. 2026-01-01T00:00:00Z)")
        if self.date_from and self.date_to and self.date_from >= self.date_to:
            raise ControlError("the date range is empty: date_from must be before date_to")
        if self.folder is not None and not self.folder.strip("/"):
            raise ControlError("the folder name is empty")


@dataclass(frozen=True)
class Selected:
    """The job's selection resolved to mailbox ids (None = every mailbox of the organization)."""

    mailbox_ids: list[str] | None
    mailboxes: list[str] | None
    folder: str | None
    date_from: str | None
    date_to: str | None
    query: str | None = None
    item_ids: list[str] | None = None  # a search export: exactly these copies

    @classmethod
    def of(cls, job: ExportJob) -> Selected:
        return cls(**json.loads(job.selection))

    @property
    def whole_archive(self) -> bool:
        return (self.mailbox_ids is None and self.folder is None and self.date_from is None and self.date_to is None
                and self.item_ids is None)


def _dt(d: datetime | None) -> str | None:
    return d.astimezone(UTC).isoformat() if d else None


def _utc(d: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; they are UTC."""
    if d is None:
        return None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(now: datetime) -> datetime:
    start = _month_start(now)
    return (start + timedelta(days=32)).replace(day=1)


def _resolve_mailboxes(session: Session, principal: Principal, o: Organization, req: ExportRequest) -> tuple[list[str] | None, list[str] | None]:
    readable = readable_mailbox_ids(session, principal, o)
    every = set(session.scalars(select(Mailbox.id).where(Mailbox.org_id == o.id)))
    if not every:
        raise ControlError(f"organization {o.name!r} has no archive mailboxes yet: there is nothing to export")
    if not readable:
        raise Forbidden(f"exporting mail needs read access to archive mailboxes of organization {o.name!r}; "
                        f"you may read none (ask an Admin for a permission, or the Compliance role)")
    if req.mailboxes is None:
        if readable >= every:
            return None, None
        ids = sorted(readable)
    else:
        if not req.mailboxes:
            raise ControlError("name at least one archive mailbox, or none for every mailbox you may read")
        ids = []
        for address in req.mailboxes:
            mb = find_mailbox(session, o, normalize_address(address))
            if mb is None or mb.id not in readable:
                # Not readable reads as absent: a Reader does not learn which mailboxes exist.
                raise NotFound(f"organization {o.name!r} has no archive mailbox {address!r} that you may read")
            ids.append(mb.id)
        ids = sorted(set(ids))
        if set(ids) >= every:
            return None, None  # every mailbox of the organization, named one by one: the whole archive
    addresses = sorted(session.scalars(select(Mailbox.primary_address).where(Mailbox.id.in_(ids))))
    return ids, addresses


def _scope(sel: Selected) -> str:
    return hashlib.sha256(json.dumps([sel.mailbox_ids, sel.folder, sel.date_from, sel.date_to, sel.query]).encode()).hexdigest()


def _covers_everything(sel: Selected, date_span: tuple[datetime, datetime] | None) -> bool:
    """Every mailbox, no folder or search, and dates that leave out no archived message."""
    if sel.mailbox_ids is not None or sel.folder is not None or sel.item_ids is not None:
        return False
    if date_span is None:
        return False
    first, last = date_span
    date_from, date_to = _parse(sel.date_from), _parse(sel.date_to)
    return (date_from is None or date_from <= first) and (date_to is None or date_to > last)


def may_cover_everything(req: ExportRequest) -> bool:
    """Does the request need the archive's date span to be classified (dates, but nothing else narrowing)?"""
    return (req.mailboxes is None and req.folder is None and req.item_ids is None and not req.incremental
            and (req.date_from is not None or req.date_to is not None))


def _parse(d: str | None) -> datetime | None:
    return _utc(datetime.fromisoformat(d)) if d else None


def start_export(
    session: Session, principal: Principal, org: Organization | str, req: ExportRequest, *, now: datetime | None = None,
    date_span: tuple[datetime, datetime] | None = None,
) -> ExportJob:
    """A queued export job, after the rules; the caller launches it (flow or in-process).

    `date_span` is the first and last message date of the organization's archive (the catalogue knows
    it; `mailark.operations.exports.date_span`), so that a date range covering all of it counts as a
    full export."""
    o = visible_org(session, principal, org)
    _no_operator_exports(principal, o)
    lic = session.get(Licence, o.id)
    if lic is not None and licensing.status(lic, now) == "locked":
        raise Forbidden(f"organization {o.name!r} is locked: its subscription ended and its grace period is over "
                        f"(exports were possible until {licensing.utc(lic.deletion_due_at):%Y-%m-%d})")  # type: ignore[str-format]
    req.validate()
    now = now or datetime.now(UTC)
    ids, addresses = _resolve_mailboxes(session, principal, o, req)
    sel = Selected(ids, addresses, req.folder.strip("/") if req.folder else None, _dt(req.date_from), _dt(req.date_to),
                   req.query, sorted(set(req.item_ids)) if req.item_ids is not None else None)
    scope = _scope(sel)
    kind, after = (FULL if sel.whole_archive else SELECTION), None
    if req.incremental:
        after = _utc(session.scalar(select(func.max(ExportJob.archived_until)).where(
            ExportJob.org_id == o.id, ExportJob.scope == scope, _completed())))
        if after is not None:
            kind = INCREMENTAL
    if kind == SELECTION and _covers_everything(sel, date_span):
        kind = FULL  # the once-a-month rule cannot be bypassed by a selection of everything
    if kind == FULL:
        # The organization's row lock (as licence-limited writes take it): two requests cannot both pass.
        licensing.lock_licence(session, o)
        earlier = _uses_the_month(session, o.id, now)
        if earlier is not None:
            raise _refuse_second_full(o, earlier, now)
    job = ExportJob(
        id=new_id(), org_id=o.id, kind=kind, status=QUEUED, selection=json.dumps(asdict(sel)), scope=scope,
        archived_after=after, archived_until=now, requested_by=principal.login, requested_by_id=principal.id,
        requested_by_kind=principal.kind, items_done=0, messages=0, quarantined=0, mail_bytes=0, zip_bytes=0,
        stored_bytes=0, object_name="", attempts=0, created_at=now,
    )
    job.object_name = export_object_name(o.id, job.id)
    session.add(job)
    audit.record(session, principal, "content.export", org_id=o.id, target=f"export {job.id}",
                 details={"kind": kind, "mailboxes": addresses or "all", "folder": sel.folder,
                          "date_from": sel.date_from, "date_to": sel.date_to,
                          "archived_after": _dt(after), "archived_until": _dt(now)}, now=now)
    return job


def _no_operator_exports(principal: Principal, o: Organization) -> None:
    """MSP operator accounts never take mail out: a support grant lets them read, not export (issue 14)."""
    if principal.kind == "operator":
        raise Forbidden(f"MSP operators cannot export the mail of organization {o.name!r}: exports are for the "
                        f"organization's own users (a support grant allows reading named mailboxes, not exporting)")


def _sees_all_jobs(session: Session, principal: Principal, o: Organization) -> bool:
    return bool(roles_in(session, principal, o) & {ADMIN, COMPLIANCE})


def list_exports(session: Session, principal: Principal, org: Organization | str) -> list[ExportJob]:
    """Admins, Compliance and operators see every export of the organization; others their own."""
    o = visible_org(session, principal, org)
    q = select(ExportJob).where(ExportJob.org_id == o.id)
    if not _sees_all_jobs(session, principal, o):
        q = q.where(ExportJob.requested_by_id == principal.id, ExportJob.requested_by_kind == principal.kind)
    return list(session.scalars(q.order_by(ExportJob.created_at.desc(), ExportJob.id.desc())))


def get_export(session: Session, principal: Principal, org: Organization | str, export_id: str) -> ExportJob:
    o = visible_org(session, principal, org)
    job = session.get(ExportJob, export_id)
    mine = job is not None and job.requested_by_id == principal.id and job.requested_by_kind == principal.kind
    if job is None or job.org_id != o.id or not (mine or _sees_all_jobs(session, principal, o)):
        raise NotFound(f"organization {o.name!r} has no export {export_id!r}")
    return job


def check_download(session: Session, principal: Principal, org: Organization | str, export_id: str) -> ExportJob:
    """The job if the principal may read its content now (permissions revoked since take effect); audited."""
    job = get_export(session, principal, org, export_id)
    o = session.get(Organization, job.org_id)
    assert o is not None
    _no_operator_exports(principal, o)
    sel = Selected.of(job)
    readable = readable_mailbox_ids(session, principal, o)
    needed = set(sel.mailbox_ids) if sel.mailbox_ids is not None else set(
        session.scalars(select(Mailbox.id).where(Mailbox.org_id == o.id)))
    if not needed <= readable:
        raise Forbidden("this export holds mail of archive mailboxes you may not read")
    if job.status not in DOWNLOADABLE:
        raise Conflict(f"export {job.id} is {job.status}, not done: " + {
            QUEUED: "it has not started yet", RUNNING: "it is still being written",
            PAUSED_QUOTA: "the storage quota is full; raise it or delete old exports, then resume it",
            FAILED: f"it failed ({job.error}); start a new one", EXPIRED: "it expired; start a new one",
            DELETED: "it was deleted; start a new one"}.get(job.status, ""))
    audit.record(session, principal, "content.export.download", org_id=o.id, target=f"export {job.id}",
                 details={"kind": job.kind, "mailboxes": sel.mailboxes or "all"})
    return job


def mark_deleted(session: Session, principal: Principal, org: Organization | str, export_id: str) -> ExportJob:
    """The requester, an Admin or Compliance may delete an export; the caller removes the file."""
    job = get_export(session, principal, org, export_id)
    if job.status == RUNNING:
        raise Conflict(f"export {job.id} is being written; delete it when it has finished")
    if job.status in (EXPIRED, DELETED):
        return job
    job.status = DELETED
    job.finished_at = job.finished_at or datetime.now(UTC)
    audit.record(session, principal, "export.delete", org_id=job.org_id, target=f"export {job.id}")
    return job


def resume(session: Session, principal: Principal, org: Organization | str, export_id: str) -> ExportJob:
    """Queue a paused (quota) or failed export again; it starts from the beginning with the same cut-off."""
    job = get_export(session, principal, org, export_id)
    if job.status not in (PAUSED_QUOTA, FAILED):
        raise Conflict(f"export {job.id} is {job.status}: only a paused or failed export can be resumed")
    if job.kind == FULL:
        now = datetime.now(UTC)
        earlier = _uses_the_month(session, job.org_id, now, but=job.id)
        if earlier is not None:
            o = session.get(Organization, job.org_id)
            assert o is not None
            raise _refuse_second_full(o, earlier, now)
    job.status = QUEUED
    audit.record(session, principal, "content.export.resume", org_id=job.org_id, target=f"export {job.id}")
    return job


# ---- transitions made by the runner (no principal: the job was authorized when it was made) -----------


def requeue_paused(session: Session, org: Organization, used_bytes: int, now: datetime | None = None) -> list[str]:
    """Exports paused at the quota that may fit now: queued again (the caller launches them), audited as the
    system's. They fit when the quota is larger than when they paused, or storage is below 90 % of it; one that
    pauses again waits for the next change (at most once per metering run)."""
    now = now or datetime.now(UTC)
    quota = org.storage_quota_bytes
    out = []
    for job in session.scalars(select(ExportJob).where(ExportJob.org_id == org.id, ExportJob.status == PAUSED_QUOTA)):
        found = notices.recognize(job.error)
        paused_at_quota = int(found.params.get("quota_bytes", quota)) if found and found.params else quota
        if quota > paused_at_quota or used_bytes < licensing.STORAGE_WARN_FRACTION * quota:
            if job.kind == FULL and _uses_the_month(session, org.id, now, but=job.id) is not None:
                continue
            job.status = QUEUED
            out.append(job.id)
            audit.record(session, Principal("system", "exports", "exports"), "content.export.resume", org_id=org.id,
                         target=f"export {job.id}", details={"by": "room in the quota", "quota_bytes": quota,
                                                             "used_bytes": used_bytes}, now=now)
    return out


def claim(session: Session, export_id: str, now: datetime) -> ExportJob:
    job = session.get(ExportJob, export_id)
    if job is None:
        raise NotFound(f"no export {export_id!r}")
    if job.status not in RUNNABLE:
        raise Conflict(f"export {export_id} is {job.status}: nothing to run")
    job.status, job.started_at, job.error = RUNNING, now, None
    job.attempts += 1
    job.items_done = 0
    return job


def due_for_expiry(session: Session, now: datetime) -> list[ExportJob]:
    return list(session.scalars(select(ExportJob).where(ExportJob.status.in_(DOWNLOADABLE), ExportJob.expires_at <= now)))


def fail_stale(session: Session, now: datetime, older_than: timedelta) -> list[str]:
    """Jobs still `running` long after they started lost their process: mark them failed (resumable)."""
    stale = list(session.scalars(select(ExportJob).where(ExportJob.status == RUNNING, ExportJob.started_at < now - older_than)))
    for job in stale:
        job.status = FAILED
        job.error = notices.notice("export_interrupted").message
    return [j.id for j in stale]
