"""Running an IMAP source profile: the plain code behind the `imap-sync` flows and `mailark source sync-imap`.

For each account of the profile (one, or many in whole-server mode) and each folder it archives:
new UIDs above the folder's cursor are looked at first (size, Message-ID, stable id), and only
messages the archive does not hold are downloaded, in bounded batches written by the archive
core (`BatchWriter`). Moves and renames on the server move archived items in the catalogue
(catalog.folders); deletions on the server are never applied. The folder cursor advances after
each batch is committed, so a run killed anywhere is caught up by the next without storing
anything twice. Storage full pauses the profile without advancing past what was deferred.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TYPE_CHECKING

from ulid import ULID

from mailark.catalog import folders as catalog_folders
from mailark.catalog.archive import OrgArchive
from mailark.catalog.ingest import BatchWriter, Counts, Incoming
from mailark.control import sources as control_sources
from mailark.control.mailboxes import ensure_archive_mailbox
from mailark.control.models import Mailbox, Organization, SourceProfile
from mailark.control.orgs import ControlError, NotFound
from mailark.control.principals import Principal
from mailark.sources.errors import SourceError
from mailark.sources.imap.client import (
    FolderStatus, ImapSession, MessageInfo, ServerUnavailable, connect, header_key, header_of,
)
from mailark.sources.imap.config import ImapConfig, ImapSecret
from mailark.sources.imap.plan import (
    FolderWork, batches, cursor_value, parse_position, plan_chunk, position, reconcile,
)

if TYPE_CHECKING:  # the handle is passed in by the caller; sources never open one themselves
    from mailark.sources.handle import SourceRuntime

SOURCE = "imap"
# New UIDs are looked at (size, ids) this many at a time; bodies are fetched in smaller batches.
INFO_CHUNK = 1000

log_default = logging.getLogger("mailark.imap")


class ImapBatch:
    """Messages of one folder handed to a task; not a dataclass, so Prefect does not walk it."""

    __slots__ = ("items", "label", "number")

    def __init__(self, items: list[Incoming], number: int, label: str) -> None:
        self.items = items
        self.number = number
        self.label = label


class _Result(Protocol):
    def result(self) -> Counts: ...


# Starts archiving a batch and returns its future: a thread of our own, or a Prefect task (.submit).
SubmitFn = Callable[[BatchWriter, ImapBatch], _Result]


class Paused(Exception):
    """Storage is full: stop here; the cursor stays before what was deferred."""


@dataclass
class SyncResult:
    org: str
    profile: str
    run_id: str
    status: str = "ok"  # ok | failed | paused | partial
    error: str | None = None
    paused_reason: str | None = None
    counts: Counts = field(default_factory=Counts)
    fetched: int = 0  # message bodies downloaded
    known: int = 0  # new UIDs already archived in their folder (not downloaded)
    moved: int = 0
    renamed: int = 0
    folders: int = 0
    accounts: int = 0
    seconds: float = 0.0
    download_seconds: float = 0.0  # waiting for message bodies from the server (not overlapped with archiving)
    archive_seconds: float = 0.0  # batches being archived (overlaps downloads)
    archive_wait_seconds: float = 0.0  # the run waiting for a batch to be archived

    def as_dict(self) -> dict[str, Any]:
        return {"org": self.org, "profile": self.profile, "run_id": self.run_id, "status": self.status,
                "error": self.error, "paused_reason": self.paused_reason, **self.counts.as_dict(),
                "fetched": self.fetched, "known": self.known, "moved": self.moved, "renamed": self.renamed,
                "folders": self.folders, "accounts": self.accounts, "seconds": round(self.seconds, 3),
                "download_seconds": round(self.download_seconds, 3), "archive_seconds": round(self.archive_seconds, 3),
                "archive_wait_seconds": round(self.archive_wait_seconds, 3)}

    def ledger_counts(self) -> dict[str, Any]:
        return {**self.counts.as_dict(), "fetched": self.fetched, "moved": self.moved, "renamed": self.renamed}


def load_profile(rt: SourceRuntime, profile_id: str) -> tuple[SourceProfile, Organization, ImapConfig, ImapSecret]:
    with rt.session() as s:
        p = control_sources.profile_by_id(s, profile_id)
        if p.kind != "imap":
            raise ControlError(f"source {p.name!r} is a {p.kind} source, not imap")
        org = s.get(Organization, p.org_id)
        if org is None:
            raise NotFound(f"the organization of source {p.name!r} is gone")
        s.expunge(p)
        s.expunge(org)
    try:
        config = ImapConfig.model_validate(json.loads(p.config))
        secret = ImapSecret.model_validate(control_sources.source_secret(p, rt.master_key))
    except ValueError as e:
        raise SourceError(f"source {p.name!r} has an invalid configuration: {e}", retryable=False) from e
    return p, org, config, secret


def accounts_of(rt: SourceRuntime, org: Organization, config: ImapConfig) -> list[tuple[str | None, str]]:
    """(IMAP account or None for the profile's own login, archive mailbox address)."""
    if config.mode == "account":
        return [(None, config.mailbox or "")]
    addrs = {a.strip().lower() for a in config.accounts if a.strip()}
    if config.all_user_mailboxes:
        from sqlalchemy import select

        with rt.session() as s:
            addrs |= set(s.scalars(select(Mailbox.primary_address).where(Mailbox.org_id == org.id, Mailbox.kind == "user")))
    return [(a, a) for a in sorted(addrs)]


def sync_profile(
    rt: SourceRuntime,
    profile_id: str,
    *,
    run_id: str | None = None,
    submit: SubmitFn | None = None,
    log: logging.Logger | logging.LoggerAdapter | None = None,  # type: ignore[type-arg]
) -> SyncResult:
    """Run one profile now; the outcome is recorded on the profile (finish_run) and in the ledger."""
    started = time.perf_counter()
    log = log or log_default
    profile, org, config, secret = load_profile(rt, profile_id)
    run_id = run_id or str(ULID()).lower()
    result = SyncResult(org.name, profile.name, run_id)
    archive = rt.archive_for(org)
    writer = BatchWriter(archive, run_id, SOURCE)
    archiver = _Archiver(rt, profile.id, config, writer, result, submit)
    errors: list[str] = []
    accounts = accounts_of(rt, org, config)
    try:
        for account, address in accounts:
            result.accounts += 1
            try:
                mb = _mailbox(rt, org, address)
                with connect(config, secret, account) as session:
                    _AccountSync(rt, profile, config, session, archive, archiver, mb, result, log).run()
            except (SourceError, ControlError) as e:
                archiver.drain()  # what was downloaded before the failure is kept
                reason = str(e)
                log.error("%s: %s", address, reason)
                errors.append(f"{address}: {reason}" if len(accounts) > 1 else reason)
                writer.record_failure(reason, mailbox=address)
                if isinstance(e, ServerUnavailable):
                    break  # the server itself is unreachable or untrusted: the other accounts fail alike
        archiver.drain()
    except Paused as e:
        result.status, result.paused_reason = "paused", str(e)
        log.warning("paused: %s", e)
    except Exception as e:  # a bug or a catalogue failure: record it, then let it surface
        archiver.close()
        reason = f"{type(e).__name__}: {e}"
        writer.record_failure(reason, mailbox="*")
        _finish(rt, profile, result, "failed", reason)
        raise
    finally:
        archiver.close()
    if result.status != "paused" and errors:
        result.status = "partial" if len(errors) < len(accounts) else "failed"
        result.error = "; ".join(errors)
    result.seconds = time.perf_counter() - started
    _finish(rt, profile, result, result.status, result.error)
    return result


def _finish(rt: SourceRuntime, profile: SourceProfile, result: SyncResult, status: str, error: str | None) -> None:
    result.status, result.error = status, error
    with rt.session(write=True) as s:
        p = control_sources.profile_by_id(s, profile.id)
        control_sources.finish_run(s, p, status, error=error, counts=result.ledger_counts(),
                                   paused_reason=result.paused_reason)


def _mailbox(rt: SourceRuntime, org: Organization, address: str) -> Mailbox:
    with rt.session(write=True) as s:
        mb, created = ensure_archive_mailbox(s, Principal.deployment_operator(), org, address)
        s.expunge(mb)
    return mb


class _Archiver:
    """Collects downloaded messages of every folder and account of a run into archive batches, and
    archives each batch in the background while the run goes on talking to the server.

    A batch closes at the profile's batch_messages/batch_bytes, not at a folder's end: a catalogue
    commit costs the same for 5 messages as for 500, and many folders are small. One batch is
    archived at a time (memory: the batch being archived, the one being filled, one download).
    Cursor updates wait for the batch that holds their messages and are written only after its
    commit (never past what a full storage deferred). The run's other catalogue work (lookups,
    moves, renames) calls `drain()` first: the catalogue connection is used by one thread at a time.
    """

    def __init__(self, rt: SourceRuntime, profile_id: str, config: ImapConfig, writer: BatchWriter,
                 result: SyncResult, submit: SubmitFn | None) -> None:
        self.rt, self.profile_id, self.config, self.writer = rt, profile_id, config, writer
        self.result = result
        self._pool: ThreadPoolExecutor | None = None
        if submit is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-archive")
            pool = self._pool
            submit = lambda w, b: pool.submit(w.write, b.items, consume=True)  # noqa: E731
        self.submit = submit
        self.items: list[Incoming] = []
        self.size = 0
        self.labels: list[str] = []
        self.cursors: list[tuple[str, dict[str, Any]]] = []
        self.number = 0
        # (future, its batch's mailboxes, cursors waiting for it, when it started)
        self._inflight: tuple[Any, list[str], list[tuple[str, dict[str, Any]]], float] | None = None

    def cursor(self, key: str, value: dict[str, Any]) -> None:
        if self.items:
            self.cursors.append((key, value))
        elif self._inflight is not None:
            self._inflight[2].append((key, value))
        else:
            self._write_cursors([(key, value)])

    def add(self, items: list[Incoming], label: str) -> None:
        size = sum(len(i.raw) for i in items)
        if self.items and (len(self.items) + len(items) > self.config.batch_messages
                           or self.size + size > self.config.batch_bytes):
            self.flush()
        self.items.extend(items)
        self.size += size
        if label not in self.labels:
            self.labels.append(label)

    def flush(self) -> None:
        """Start archiving what was collected (after the batch before it is done)."""
        self._collect()
        items, cursors, labels = self.items, self.cursors, self.labels
        self.items, self.size, self.cursors, self.labels = [], 0, [], []
        if not items:
            self._write_cursors(cursors)
            return
        self.number += 1
        more = f" +{len(labels) - 1} folder(s)" if len(labels) > 1 else ""
        batch = ImapBatch(items, self.number, f"{labels[0]}{more} #{self.number}")
        mailboxes = sorted({i.mailbox for i in items})
        # The writer may consume the batch's list (freeing each message once stored).
        self._inflight = (self.submit(self.writer, batch), mailboxes, cursors, time.perf_counter())

    def drain(self) -> None:
        """Archive everything collected and wait for it."""
        self.flush()
        self._collect()

    def _collect(self) -> None:
        if self._inflight is None:
            return
        future, mailboxes, cursors, started = self._inflight
        self._inflight = None
        t = time.perf_counter()
        counts: Counts = future.result()
        self.result.archive_wait_seconds += time.perf_counter() - t
        self.result.archive_seconds += time.perf_counter() - started
        self.result.counts.add(counts)
        if counts.deferred:
            self.items, self.size, self.cursors, self.labels = [], 0, [], []
            raise Paused(f"storage quota full: {counts.deferred} message(s) of {', '.join(mailboxes)} wait; "
                         f"archiving resumes by itself when there is room (free space or raise the storage tier)")
        self._write_cursors(cursors)

    def close(self) -> None:
        """Wait for a batch still being archived (its outcome is dropped when the run failed)."""
        if self._inflight is not None:
            try:
                self._inflight[0].result()
            except Exception:  # noqa: BLE001 - the run's own error is the one to report
                pass
            self._inflight = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _write_cursors(self, cursors: list[tuple[str, dict[str, Any]]]) -> None:
        if not cursors:
            return
        with self.rt.session(write=True) as s:
            for key, value in cursors:
                control_sources.set_cursor(s, self.profile_id, key, value)


class _AccountSync:
    def __init__(self, rt: SourceRuntime, profile: SourceProfile, config: ImapConfig, session: ImapSession,
                 archive: OrgArchive, archiver: _Archiver, mailbox: Mailbox, result: SyncResult, log: Any) -> None:
        self.rt, self.profile, self.config, self.imap = rt, profile, config, session
        self.archive, self.archiver, self.mb, self.result = archive, archiver, mailbox, result
        self.log = log
        self.address = mailbox.primary_address
        self.statuses: dict[str, FolderStatus] = {}  # archive path -> status, this run

    def _set_cursor(self, key: str, value: dict[str, Any]) -> None:
        self.archiver.cursor(key, value)

    def run(self) -> None:
        imap = self.imap
        statuses = [imap.status(name, path) for name, path in imap.folders()]
        self.statuses = {st.path: st for st in statuses}
        with self.rt.session() as s:
            cursors = control_sources.get_cursors(s, self.profile.id)
        plan = reconcile(self.address, cursors, statuses)
        for key, cur in plan.gone.items():
            with self.rt.session(write=True) as s:
                control_sources.drop_cursor(s, self.profile.id, key)
            if not any(w.renamed_from is not None and w.cursor is cur for w in plan.folders):
                self.log.info("%s: folder %r is no longer on the server; its archived messages stay", self.address, cur.get("path"))
        # Lookups are needed only when the archive may hold these messages already.
        self.archiver.drain()
        self.lookups = catalog_folders.has_items(self.archive, self.mb.id, SOURCE)
        for work in plan.folders:
            self.result.folders += 1
            self._folder(work)

    def _folder(self, work: FolderWork) -> None:
        st = work.status
        if work.renamed_from is not None:
            self.archiver.drain()
            n = catalog_folders.rename_folder(self.archive, self.mb.id, work.renamed_from, st.path,
                                              source=SOURCE, run_id=self.result.run_id)
            self.result.renamed += 1
            self.log.info("%s: folder %r was renamed to %r on the server; %d archived message(s) follow it",
                          self.address, work.renamed_from, st.path, n)
            self._set_cursor(work.key, cursor_value(st, work.last_uid))
        if work.unchanged:
            if work.cursor and (work.cursor.get("modseq") != st.modseq or work.cursor.get("name") != st.name):
                self._set_cursor(work.key, cursor_value(st, work.last_uid))
            return
        if work.uidvalidity_changed:
            self.log.warning("%s: UIDVALIDITY of %r changed (%s -> %s): listing it again; archived messages are "
                             "recognised, not downloaded again", self.address, st.path, work.cursor["uidvalidity"],  # type: ignore[index]
                             st.uidvalidity)
        uidvalidity = self.imap.examine(st.name)
        if uidvalidity != st.uidvalidity:  # changed between STATUS and EXAMINE
            st = FolderStatus(st.name, st.path, uidvalidity, st.uidnext, st.messages, st.modseq, st.folder_id)
            self.statuses[st.path] = st
        last = work.last_uid if uidvalidity == work.status.uidvalidity else 0
        uids = self.imap.uids_after(last)
        if not uids:
            self._set_cursor(work.key, cursor_value(st, last))
            return
        self.log.info("%s: %d new message(s) in %r", self.address, len(uids), st.path)
        for i in range(0, len(uids), INFO_CHUNK):
            chunk = uids[i : i + INFO_CHUNK]
            self._chunk(work.key, st, self.imap.infos(chunk, headers=self.lookups))
            self._set_cursor(work.key, cursor_value(st, chunk[-1]))

    def _chunk(self, key: str, st: FolderStatus, infos: list[MessageInfo]) -> None:
        found = []
        if self.lookups and infos:
            self.archiver.drain()
            found = catalog_folders.find_items(
                self.archive, self.mb.id, SOURCE,
                {3: [i.email_id or "" for i in infos], 4: [i.header_key or "" for i in infos]},
                [(i.message_id, i.size) for i in infos if i.message_id],
            )
        plan = plan_chunk(infos, st.path, st.uidvalidity, found)
        moves, copies = self._resolve_moves(st, plan.maybe_moved)
        if moves:
            self.result.moved += catalog_folders.move_items(self.archive, self.mb.id, moves, source=SOURCE,
                                                           run_id=self.result.run_id)
            for m in moves:
                self.log.info("%s: a message moved from %r to %r", self.address, m.from_folder, m.to_folder)
        if plan.positions:
            catalog_folders.set_positions(self.archive, self.mb.id, plan.positions)
        reasons: dict[str, int] = {}
        if plan.known:
            reasons["already archived in this folder (not downloaded)"] = len(plan.known)
        if moves:
            reasons["moved from another folder (not downloaded)"] = len(moves)
        if reasons:
            catalog_folders.record_known(self.archive, self.result.run_id, SOURCE, self.address, reasons)
            n = sum(reasons.values())
            self.result.counts.add(Counts(seen=n, duplicates=n, reasons=Counter(reasons)))
            self.result.known += len(plan.known)
        todo = sorted(plan.fetch + copies, key=lambda m: m.uid)
        self._downloads(key, st, batches(todo, self.config.batch_messages, self.config.batch_bytes))

    def _resolve_moves(self, st: FolderStatus, maybe: list[tuple[MessageInfo, list[catalog_folders.ArchivedItem]]]
                       ) -> tuple[list[catalog_folders.Move], list[MessageInfo]]:
        """A message already archived in another folder moved here if it is no longer there; else it is a copy."""
        if not maybe:
            return [], []
        checks: dict[str, set[int]] = {}  # server folder name -> UIDs to look for
        for _, items in maybe:
            for it in items:
                v, u, *_ = parse_position(it.position)
                other = self.statuses.get(it.folder)
                if other is not None and other.uidvalidity == v:
                    checks.setdefault(other.name, set()).add(u)
        still: dict[str, set[int]] = {}
        for name, uids in checks.items():
            self.imap.examine(name)
            still[name] = self.imap.present(sorted(uids))
        if checks:
            self.imap.examine(st.name)
        moves: list[catalog_folders.Move] = []
        copies: list[MessageInfo] = []
        taken: set[str] = set()
        for info, items in maybe:
            gone = None
            for it in items:
                if it.item_id in taken:
                    continue
                v, u, *_ = parse_position(it.position)
                other = self.statuses.get(it.folder)
                if other is None or other.uidvalidity != v or u not in still.get(other.name, set()):
                    gone = it
                    break
            if gone is None:
                copies.append(info)
            else:
                taken.add(gone.item_id)
                moves.append(catalog_folders.Move(gone.item_id, gone.folder, st.path,
                                                  position(st.uidvalidity, info.uid, info.email_id, info.header_key)))
        return moves, copies

    def _fetch(self, group: list[MessageInfo]) -> dict[int, bytes]:
        return self.imap.bodies([m.uid for m in group])

    def _downloads(self, key: str, st: FolderStatus, groups: list[list[MessageInfo]]) -> None:
        """Download and archive batch after batch; the next batch downloads while one is archived
        (at most two batches in memory; only the helper thread talks to the server meanwhile)."""
        if not groups:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-fetch") as pool:
            pending = pool.submit(self._fetch, groups[0])
            for n, group in enumerate(groups):
                t = time.perf_counter()
                bodies = pending.result()
                self.result.download_seconds += time.perf_counter() - t
                if n + 1 < len(groups):
                    pending = pool.submit(self._fetch, groups[n + 1])
                self._archive(key, st, group, bodies)

    def _archive(self, key: str, st: FolderStatus, group: list[MessageInfo], bodies: dict[int, bytes]) -> None:
        missing = len(group) - len(bodies)
        if missing:
            self.log.info("%s: %d message(s) of %r were deleted on the server before they could be downloaded",
                          self.address, missing, st.path)
        items = [Incoming(bodies[m.uid], self.mb.id, self.address, st.path, SOURCE,
                          position(st.uidvalidity, m.uid, m.email_id, header_key(header_of(bodies[m.uid]))))
                 for m in group if m.uid in bodies]
        bodies.clear()
        self.result.fetched += len(items)
        self.archiver.add(items, f"{self.address} {st.path}")
        self._set_cursor(key, cursor_value(st, group[-1].uid))
