"""Archive a Microsoft 365 tenant's mail: every user and shared mailbox, every folder, incrementally.

One run of a "graph" source profile:
1. list the tenant's mailboxes (users/shared); each gets its archive mailbox within the licence;
   one the licence refuses is reported (run status "partial") and the others go on;
2. per folder (nested ones too), follow the folder's delta from its cursor, fetching the MIME of
   each new message through `/$value` (a few at a time). Fetched messages collect into archive
   batches (up to the batch size, at most one mailbox each); once a batch is written, the cursor
   steps of the delta pages it completes are taken (a page's nextLink, at the end the deltaLink),
   so an interrupted run resumes after the last archived page and the next run fetches only what
   changed;
3. `@removed` entries are counted, never applied: what was archived stays archived. A message
   reported again as changed (read, flagged) that the folder already holds is not fetched again;
4. a delta token Microsoft no longer knows (410 Gone) restarts that folder from scratch: the
   archive's dedup turns what it already holds into duplicates, nothing is stored twice;
5. storage full (deferred messages): the run stops, the profile is paused, the cursor stays before
   the deferred messages; the next run after the quota is raised resumes there.
A failure (server down, credentials refused) leaves a ledger row with its reason and marks the run
failed; the cursors keep what was done, so the next run catches up.

This module does not import Prefect: the CLI runs it directly, the `m365-sync` flow wraps batches.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TYPE_CHECKING

from ulid import ULID

from mailark.catalog.ingest import BatchWriter, Counts, Incoming
from mailark.catalog.lake import ALIAS
from mailark.control import sources as control_sources
from mailark.control.mailboxes import ensure_archive_mailbox
from mailark.control.models import Organization
from mailark.control.orgs import LimitExceeded, find_mailbox
from mailark.control.principals import Principal
from mailark.sources.errors import SourceError
from mailark.sources.graph import tenant
from mailark.sources.graph.client import DeltaExpired, GraphClient, GraphDenied, GraphHTTPError, seg

if TYPE_CHECKING:  # the handle is passed in by the caller; sources never open one themselves
    from mailark.sources.handle import SourceRuntime

SOURCE = "graph"
KIND = "graph"
log = logging.getLogger("mailark.sources.graph")


class Batch:
    """Fetched messages of one mailbox for a task; not a dataclass, so Prefect does not walk its content."""

    __slots__ = ("folder", "items", "mailbox", "number")

    def __init__(self, items: list[Incoming], number: int, mailbox: str, folder: str) -> None:
        self.items = items
        self.number = number
        self.mailbox = mailbox
        self.folder = folder


@dataclass
class SyncResult:
    profile: str
    org: str
    run_id: str
    status: str = "ok"  # ok | partial | paused | failed
    error: str | None = None
    counts: Counts = field(default_factory=Counts)
    mailboxes: int = 0
    folders: int = 0
    refused: list[str] = field(default_factory=list)  # mailboxes not archived, with the reason
    unchanged: int = 0  # reported as changed (read, flagged) but already archived: not fetched again
    removed_in_source: int = 0  # @removed entries: deleted or moved away in Microsoft 365, kept here
    vanished: int = 0  # gone between the delta page and the fetch of its MIME: the next delta says where
    resyncs: int = 0  # folders started over after an expired delta token
    waits: list[float] = field(default_factory=list)  # seconds waited for throttling (Retry-After) or an outage
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """What the profile's last run shows (finish_run's counts)."""
        return {**self.counts.as_dict(), "mailboxes": self.mailboxes, "folders": self.folders,
                "refused": self.refused, "unchanged": self.unchanged, "removed_in_source": self.removed_in_source,
                "vanished": self.vanished, "resyncs": self.resyncs, "waited_seconds": round(sum(self.waits), 3)}

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "org": self.org, "run_id": self.run_id, "status": self.status,
                "error": self.error, **self.summary(), "seconds": round(self.seconds, 3)}


WriteFn = Callable[[BatchWriter, Batch], Counts]


def cursor_key(user_id: str, folder_id: str) -> str:
    return f"folder:{user_id}:{folder_id}"


class _Paused(Exception):
    pass


class _Run:
    def __init__(self, rt: SourceRuntime, profile_id: str, run_id: str, write: WriteFn | None,
                 client_factory: Callable[[dict[str, Any], dict[str, Any]], GraphClient] | None,
                 logger: logging.Logger | logging.LoggerAdapter[Any]) -> None:
        self.rt = rt
        self.profile_id = profile_id
        self.log = logger
        with rt.session() as s:
            p = control_sources.profile_by_id(s, profile_id)
            if p.kind != KIND:
                raise SourceError(f"source {p.name!r} is a {p.kind!r} profile, not Microsoft 365", retryable=False)
            self.config: dict[str, Any] = json.loads(p.config)
            self.secret = control_sources.source_secret(p, rt.master_key)
            self.org = s.get(Organization, p.org_id)
            s.expunge(self.org)
            self.cursors: dict[str, Any] = control_sources.get_cursors(s, profile_id)
            self.result = SyncResult(p.name, self.org.name, run_id)
        self.writer = BatchWriter(rt.archive_for(self.org), run_id, SOURCE)
        self.write = write or (lambda w, b: w.write(b.items))
        self.client_factory = client_factory or (lambda c, sec: GraphClient(c, sec, rt.settings.graph))
        self.batch_no = 0
        self.current = "*"
        self.client: GraphClient | None = None
        self.pool: ThreadPoolExecutor | None = None
        # Fetched, not yet archived: the messages, their bytes, and the cursor steps they complete.
        self.pending: list[Incoming] = []
        self.pending_bytes = 0
        self.pending_cursors: dict[str, dict[str, Any]] = {}

    # ---- control plane ------------------------------------------------------------------------

    def archive_mailbox(self, mb: tenant.M365Mailbox) -> tuple[str, str] | None:
        """(id, primary address) of the archive mailbox for `mb`, created within the licence; None if refused."""
        with self.rt.session(write=True) as s:
            org = s.get(Organization, self.org.id)
            for a in (mb.address, *mb.aliases):
                found = find_mailbox(s, org, a)
                if found is not None:
                    return found.id, found.primary_address
            try:
                m, created = ensure_archive_mailbox(s, Principal.deployment_operator(), org, mb.address, kind=mb.kind)
            except LimitExceeded as e:
                self.result.refused.append(f"{mb.address}: {e}")
                self.log.warning("mailbox %s not archived: %s", mb.address, e)
                return None
            if created:
                self.log.info("created %s archive mailbox %s", mb.kind, m.primary_address)
            return m.id, m.primary_address

    def drop_cursor(self, key: str) -> None:
        with self.rt.session(write=True) as s:
            control_sources.drop_cursor(s, self.profile_id, key)
        self.cursors.pop(key, None)

    # ---- catalogue ----------------------------------------------------------------------------

    def known_positions(self, mailbox_id: str, folder: str, ids: list[str]) -> set[str]:
        """Which Graph message ids this archive folder already holds (archived or quarantined)."""
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        args = [self.org.id, mailbox_id, folder, SOURCE, *ids]
        rows = self.rt.lake.execute(
            f"SELECT source_position FROM {ALIAS}.mailbox_items WHERE org_id = ? AND mailbox_id = ? AND folder = ? "
            f"AND source = ? AND source_position IN ({marks}) UNION "
            f"SELECT source_position FROM {ALIAS}.quarantine WHERE org_id = ? AND mailbox_id = ? AND folder = ? "
            f"AND source = ? AND source_position IN ({marks})", args + args).fetchall()
        return {r[0] for r in rows}

    # ---- the sync -----------------------------------------------------------------------------

    def run(self, client: GraphClient) -> None:
        boxes = tenant.mailboxes(client)
        self.log.info("tenant %s: %d mailboxes", client.config.tenant_id, len(boxes))
        denied: list[GraphDenied] = []
        tried = 0
        for mb in boxes:
            target = self.archive_mailbox(mb)
            if target is None:
                continue
            self.current = target[1]
            tried += 1
            try:
                self.sync_mailbox(client, mb, *target)
            except (GraphHTTPError, GraphDenied) as e:
                # This mailbox only (removed a moment ago, or kept out by an application access policy).
                if isinstance(e, GraphDenied):
                    denied.append(e)
                self.result.refused.append(f"{mb.address}: {e}")
                self.log.warning("mailbox %s skipped this run: %s", mb.address, e)
                continue
            self.result.mailboxes += 1
        self.current = "*"
        if denied and len(denied) == tried:
            raise denied[0]  # no mailbox readable at all: the permission is missing, the run fails

    def sync_mailbox(self, client: GraphClient, mb: tenant.M365Mailbox, mailbox_id: str, address: str) -> None:
        try:
            found = tenant.folders(client, mb.user_id)
            for f in found:
                self.sync_folder(client, mb.user_id, f, mailbox_id, address)
                self.result.folders += 1
        except _Paused:
            raise
        except BaseException:
            try:  # keep what was fetched before the failure: the next run need not fetch it again
                self.flush()
            except Exception as e:  # noqa: BLE001 - the first failure is the one to report
                self.log.warning("could not archive the messages fetched before the failure: %s", e)
            raise
        self.flush()
        present = {cursor_key(mb.user_id, f.id) for f in found}
        for key in [k for k in self.cursors if k.startswith(f"folder:{mb.user_id}:") and k not in present]:
            self.drop_cursor(key)  # the folder is gone in Microsoft 365; what was archived stays

    def sync_folder(self, client: GraphClient, user_id: str, f: tenant.M365Folder, mailbox_id: str, address: str) -> None:
        key = cursor_key(user_id, f.id)
        start = f"/users/{seg(user_id)}/mailFolders/{seg(f.id)}/messages/delta"
        cur = self.cursors.get(key) or {}
        url: str = cur.get("link") or start
        mode: str = cur.get("round") or "full"  # "incremental": started from a deltaLink
        if cur.get("complete"):
            mode = "incremental"
        settings = self.rt.settings.graph
        headers = {"Prefer": f'odata.maxpagesize={settings.page_size}, IdType="ImmutableId"'}
        params = {"$select": "id,internetMessageId,parentFolderId"} if url == start else None
        resynced = False
        while True:
            try:
                page = client.get_json(url, params, headers)
            except DeltaExpired:
                if resynced:
                    raise SourceError(f"Microsoft Graph refused a fresh delta of folder {f.path!r} of {address}; "
                                      "the next run retries") from None
                resynced = True
                self.result.resyncs += 1
                self.log.warning("delta token of %s %s expired: resyncing the folder (nothing is stored twice)",
                                 address, f.path)
                # From the folder's own delta, not the 410's Location: a link from an answer is only
                # followed when it is Graph's own nextLink/deltaLink.
                url, mode = start, "full"
                params = {"$select": "id,internetMessageId,parentFolderId"}
                continue
            params = None
            values = page.get("value") or []
            removed = [v for v in values if "@removed" in v]
            live = [str(v["id"]) for v in values if "@removed" not in v and v.get("id")]
            self.result.removed_in_source += len(removed)
            if mode == "incremental" and live:
                known = self.known_positions(mailbox_id, f.path, live)
                self.result.unchanged += len(known)
                live = [i for i in live if i not in known]
            fetched = self.fetch(client, user_id, live)
            for mid in live:
                raw = fetched.get(mid)
                if raw is None:
                    continue
                self.pending.append(Incoming(raw, mailbox_id, address, f.path, SOURCE, mid))
                self.pending_bytes += len(raw)
                if self.pending_bytes >= self.rt.settings.batch_bytes:  # large messages: archive before the page ends
                    self.flush()
            nxt, delta = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
            if not nxt and not delta:
                raise SourceError(f"Microsoft Graph ended the delta of {address} {f.path!r} without a nextLink or "
                                  "deltaLink; the next run retries")
            # The page is fetched: its cursor step is taken once its messages are archived (flush).
            self.pending_cursors[key] = {"link": nxt or delta, "round": mode, "complete": not nxt,
                                         "mailbox": address, "path": f.path}
            if len(self.pending) >= self.rt.settings.batch_messages:
                self.flush()
            if not nxt:
                return
            url = str(nxt)

    def fetch(self, client: GraphClient, user_id: str, ids: list[str]) -> dict[str, bytes]:
        """The MIME of each message, `concurrency` requests at a time; a message gone meanwhile is left out."""

        def one(mid: str) -> tuple[str, bytes | None]:
            try:
                return mid, client.get_bytes(f"/users/{seg(user_id)}/messages/{seg(mid)}/$value")
            except GraphHTTPError as e:
                if e.status != 404:
                    raise
                return mid, None

        if self.pool is None or len(ids) < 2:
            got = [one(m) for m in ids]
        else:
            got = list(self.pool.map(one, ids))
        self.result.vanished += sum(1 for _, raw in got if raw is None)
        return {mid: raw for mid, raw in got if raw is not None}

    def flush(self) -> None:
        """Archive what was fetched, then take the cursor steps of the pages it completes."""
        items, cursors = self.pending, self.pending_cursors
        self.pending, self.pending_bytes, self.pending_cursors = [], 0, {}
        if items:
            self.batch_no += 1
            folders = sorted({i.folder for i in items})
            mailboxes = sorted({i.mailbox for i in items})
            batch = Batch(items, self.batch_no, ", ".join(mailboxes),
                          folders[0] if len(folders) == 1 else f"{len(folders)} folders")
            counts = self.write(self.writer, batch)
            self.result.counts.add(counts)
            if counts.deferred:
                raise _Paused(f"storage quota full: {counts.deferred} message(s) of {batch.mailbox} deferred; raise "
                              f"the organization's storage tier (mailark licence set --org {self.org.name} "
                              "--storage-gb N) and the next run resumes there")
        if cursors:
            with self.rt.session(write=True) as s:
                for key, value in cursors.items():
                    control_sources.set_cursor(s, self.profile_id, key, value)
            self.cursors.update(cursors)

    def finish(self, status: str, error: str | None = None, paused_reason: str | None = None) -> None:
        self.result.status, self.result.error = status, error
        if self.client is not None:
            self.result.waits = list(self.client.stats.waits)
        with self.rt.session(write=True) as s:
            p = control_sources.profile_by_id(s, self.profile_id)
            control_sources.finish_run(s, p, status, error=error, counts=self.result.summary(),
                                       paused_reason=paused_reason)


def sync_profile(
    rt: SourceRuntime,
    profile_id: str,
    *,
    run_id: str | None = None,
    write: WriteFn | None = None,
    client_factory: Callable[[dict[str, Any], dict[str, Any]], GraphClient] | None = None,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
) -> SyncResult:
    """One run of a Microsoft 365 profile; the result says how it ended (the profile records it too).

    A SourceError (server down, credentials refused, permission missing) ends the run as "failed"
    with a ledger row saying why; anything unexpected is recorded the same way and raised."""
    started = time.perf_counter()
    run = _Run(rt, profile_id, run_id or str(ULID()).lower(), write, client_factory, logger or log)
    res = run.result
    concurrency = max(1, rt.settings.graph.concurrency)
    run.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="graph-fetch") if concurrency > 1 else None
    try:
        run.client = run.client_factory(run.config, run.secret)
        run.run(run.client)
    except _Paused as e:
        run.log.warning("paused: %s", e)
        run.finish("paused", str(e), paused_reason=str(e))
    except SourceError as e:
        run.log.error("run failed: %s", e)
        run.writer.record_failure(str(e), mailbox=run.current)
        run.finish("failed", str(e))
    except Exception as e:
        reason = f"unexpected {type(e).__name__}: {e}"
        run.writer.record_failure(reason, mailbox=run.current)
        run.finish("failed", reason)
        raise
    else:
        if res.refused:
            run.finish("partial", f"{len(res.refused)} mailbox(es) not archived: " + "; ".join(res.refused))
        else:
            run.finish("ok")
    finally:
        if run.pool is not None:
            run.pool.shutdown(wait=True, cancel_futures=True)
        if run.client is not None:
            run.client.close()
        res.seconds = time.perf_counter() - started
    return res
