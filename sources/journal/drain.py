"""Drain: archive an organization's drops with the archive core, then delete them.

Crash-safe and idempotent: a drop is deleted only after every copy it stands for is found in the
catalogue (mailbox_items, or quarantine for what could not be read), so a drain killed at any
point leaves drops that the next drain archives again; the BatchWriter counts those copies as
duplicates. Drops that BatchWriter deferred because the organization's storage is full stay
where they are until there is room.

Which archive mailboxes a drop goes to:
- an SMTP import: the import's mailbox only (folder of the profile), the bytes as received;
- journal mail: the journal mailbox, plus every archive mailbox (any kind; primary address or
  alias; not a retired one) among the sender and recipients. For an Exchange journal report those come from the
  report body (Bcc, expanded groups and forwards included) and the original message is archived;
  for any other message from its header (From, Sender, To, Cc, Bcc, Resent-*) and the SMTP
  envelope sender. A malformed report is quarantined in the journal mailbox with its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import getaddresses

import pyarrow as pa
from sqlalchemy import select
from ulid import ULID

from mailark.catalog.archive import OrgArchive
from mailark.catalog.ingest import BatchWriter, Counts, Incoming
from mailark.catalog.lake import ALIAS
from mailark.control.mailboxes import ensure_archive_mailbox
from mailark.control.models import Mailbox, MailboxAddress, Organization
from mailark.control.orgs import ControlError, list_orgs
from mailark.control.principals import Principal
from mailark.control.sources import finish_run, profile_by_id
from mailark.sources.journal import drops
from mailark.sources.journal.profiles import IMPORT, JOURNAL
from mailark.sources.journal.report import MalformedReport, is_journal_report, unwrap
from mailark.storage.crypto import IntegrityError
from mailark.storage.mime import field_name, field_value, header_fields, split_header

if TYPE_CHECKING:  # the handle is passed in by the caller; sources never open one themselves
    from mailark.sources.handle import SourceRuntime

SOURCES = {JOURNAL: "journal", IMPORT: "smtp-import"}
ADDRESS_FIELDS = frozenset({b"from", b"sender", b"to", b"cc", b"bcc", b"resent-from", b"resent-sender",
                            b"resent-to", b"resent-cc", b"resent-bcc"})


class Batch:
    """Copies from whole drops, handed to a task; not a dataclass, so Prefect does not walk it."""

    __slots__ = ("drops", "items", "number", "source")

    def __init__(self, source: str, number: int) -> None:
        self.source = source
        self.number = number
        self.items: list[Incoming] = []
        self.drops: dict[str, list[Incoming]] = {}

    def add(self, name: str, items: list[Incoming]) -> None:
        self.items += items
        self.drops[name] = items

    @property
    def size(self) -> int:
        return sum(len(i.raw) for i in self.items)


@dataclass
class DrainResult:
    org: str
    run_id: str
    drops: int = 0
    removed: int = 0
    kept: int = 0
    counts: Counts = field(default_factory=Counts)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def merge(self, other: DrainResult) -> None:
        """Add another area's result of the same organization and run."""
        self.drops += other.drops
        self.removed += other.removed
        self.kept += other.kept
        self.counts.add(other.counts)
        self.problems += other.problems
        self.seconds += other.seconds

    def as_dict(self) -> dict[str, object]:
        return {"org": self.org, "run_id": self.run_id, "drops": self.drops, "removed": self.removed,
                "kept": self.kept, **self.counts.as_dict(), "problems": self.problems,
                "seconds": round(self.seconds, 3)}


def header_addresses(raw: bytes) -> set[str]:
    block, _, _ = split_header(raw)
    values = [field_value(f).decode("latin-1") for f in header_fields(block) if field_name(f) in ADDRESS_FIELDS]
    return {a.strip().lower() for _, a in getaddresses(values) if "@" in a}


class _Mailboxes:
    """Address -> archive mailbox of one organization, looked up per batch of drops."""

    def __init__(self, rt: SourceRuntime, org: Organization) -> None:
        self.rt, self.org = rt, org
        self.found: dict[str, tuple[str, str]] = {}
        self.kinds: dict[str, str] = {}  # mailbox id -> kind
        self.retired: set[str] = set()  # retired mailboxes: journal mail for them stays in the journal mailbox only
        self._missing: set[str] = set()  # looked up in this drain: no archive mailbox has them

    def load(self, addresses: set[str]) -> None:
        want = sorted(a for a in addresses if a not in self.found and a not in self._missing)
        if not want:
            return
        with self.rt.session() as s:
            for i in range(0, len(want), 500):
                q = (select(MailboxAddress.address, Mailbox.id, Mailbox.primary_address, Mailbox.kind, Mailbox.retired_at)
                     .join(Mailbox, Mailbox.id == MailboxAddress.mailbox_id)
                     .where(MailboxAddress.org_id == self.org.id, MailboxAddress.address.in_(want[i:i + 500])))
                for addr, mid, primary, kind, retired_at in s.execute(q):
                    self.found[addr] = (mid, primary)
                    self.kinds[mid] = kind
                    if retired_at is not None:
                        self.retired.add(mid)
        self._missing.update(a for a in want if a not in self.found)

    def ensure(self, address: str, kind: str) -> tuple[str, str]:
        """The journal or import mailbox of a profile; created (within the licence) if it went missing."""
        a = address.lower()
        self._missing.discard(a)
        self.load({a})
        if a not in self.found:
            with self.rt.session(write=True) as s:
                mb, _ = ensure_archive_mailbox(s, Principal.deployment_operator(), self.org, a, kind=kind)
                self.found[a] = (mb.id, mb.primary_address)
                self.kinds[mb.id] = mb.kind
        mid, primary = self.found[a]
        if kind == "journal" and self.kinds.get(mid) != "journal":
            # Journal mail is for Compliance only: never into a mailbox that Readers may be granted.
            raise ControlError(f"the journal profile's mailbox {a!r} is a {self.kinds.get(mid)} mailbox, not a journal "
                               "mailbox: the drop is kept; remove the profile and add a journal address")
        return mid, primary


def copies(meta: drops.DropMeta, raw: bytes, position: str, mailboxes: _Mailboxes) -> list[Incoming]:
    """The copies one drop stands for (see the module docstring)."""
    source = SOURCES[meta.kind]
    if meta.kind == IMPORT:
        mid, primary = mailboxes.ensure(meta.mailbox, "user")
        return [Incoming(raw, mid, primary, meta.folder, source, position)]
    jid, jprimary = mailboxes.ensure(meta.mailbox, "journal")
    if is_journal_report(raw):
        try:
            report = unwrap(raw)
        except MalformedReport as e:
            return [Incoming(raw, jid, jprimary, meta.folder, source, position, problem=str(e))]
        original, addresses = report.original, report.addresses
    else:
        original, addresses = raw, header_addresses(raw) | ({meta.mail_from.lower()} if meta.mail_from else set())
    mailboxes.load(addresses)
    targets = {jid: jprimary}
    for a in sorted(addresses):
        if a in mailboxes.found:
            mid, primary = mailboxes.found[a]
            if mid not in mailboxes.retired:
                targets.setdefault(mid, primary)
    return [Incoming(original, mid, primary, meta.folder, source, position) for mid, primary in targets.items()]


def _landed(archive: OrgArchive, items: list[Incoming]) -> set[tuple[str, str, str]]:
    """Which (mailbox_id, folder, sha256) of these copies the catalogue holds (archived or quarantined)."""
    shas = sorted({hashlib.sha256(i.raw).hexdigest() for i in items})
    if not shas:
        return set()
    con = archive.lake
    con.register("_drain_cand", pa.table({"v": shas}))
    try:
        rows = con.execute(
            f"SELECT mailbox_id, folder, copy_sha256 FROM {ALIAS}.mailbox_items WHERE org_id = ? "
            f"AND copy_sha256 IN (SELECT v FROM _drain_cand) UNION ALL "
            f"SELECT mailbox_id, folder, copy_sha256 FROM {ALIAS}.quarantine WHERE org_id = ? "
            f"AND copy_sha256 IN (SELECT v FROM _drain_cand)", [archive.org_id, archive.org_id],
        ).fetchall()
    finally:
        con.unregister("_drain_cand")
    return {(r[0], r[1], r[2]) for r in rows}


def _batches(rt: SourceRuntime, org: Organization, archive: OrgArchive, names: list[str], mailboxes: _Mailboxes,
             result: DrainResult, profiles: set[str]) -> Iterator[Batch]:
    """Whole drops grouped by source into batches of at most the configured messages or bytes."""
    s = rt.settings
    open_batches: dict[str, Batch] = {}
    number = 0
    for name in names:
        position = name.rsplit("/", 1)[1]
        try:
            meta, raw = drops.read(rt.store, archive.sealer, name)
        except (drops.BadDrop, IntegrityError) as e:
            # Keep the bytes (still sealed: we cannot read them) where a compliance officer finds them.
            jid, jprimary = mailboxes.ensure(_fallback_journal(rt, org), "journal")
            items = [Incoming(rt.store.get(name), jid, jprimary, "Journal", "journal", position,
                              problem=f"unreadable journal drop: {e}")]
            source = "journal"
        else:
            profiles.add(meta.profile_id)
            try:
                items = copies(meta, raw, position, mailboxes)
            except ControlError as e:
                result.kept += 1
                result.problems.append(f"{position}: {e}")
                continue
            source = SOURCES.get(meta.kind, "journal")
        b = open_batches.get(source)
        if b is None:
            number += 1
            b = open_batches[source] = Batch(source, number)
        b.add(name, items)
        if len(b.items) >= s.batch_messages or b.size >= s.batch_bytes:
            yield open_batches.pop(source)
    yield from open_batches.values()


def _fallback_journal(rt: SourceRuntime, org: Organization) -> str:
    from mailark.sources.journal.profiles import default_address

    return default_address(JOURNAL, org.name, "journal", rt.settings.journal.domain)


def drain_org(
    rt: SourceRuntime,
    org: Organization,
    run_id: str | None = None,
    *,
    write: Callable[[BatchWriter, Batch], Counts] | None = None,
    kinds: tuple[str, ...] | None = None,
    deadline: float | None = None,
) -> DrainResult:
    """Archive and remove the organization's drops; `write` lets the flow run each batch as a task.

    `kinds` limits the drain to those areas (journal, smtp-import); after `deadline` (a
    time.monotonic() value) no new batch starts -- at least one always does, so every run makes
    progress -- and the drops not reached wait for the next run."""
    started = time.perf_counter()
    run_id = run_id or str(ULID()).lower()
    result = DrainResult(org.name, run_id)
    names = [o.name for o in drops.pending(rt.store, org.id, kinds)]
    result.drops = len(names)
    if not names:
        return result
    archive = rt.archive_for(org)
    writers = {src: BatchWriter(archive, run_id, source=src) for src in SOURCES.values()}
    mailboxes = _Mailboxes(rt, org)
    profiles: set[str] = set()
    for n, batch in enumerate(_batches(rt, org, archive, names, mailboxes, result, profiles)):
        if n and deadline is not None and time.monotonic() >= deadline:
            break
        writer = writers[batch.source]
        counts = write(writer, batch) if write else writer.write(batch.items)
        result.counts.add(counts)
        have = _landed(archive, batch.items)
        for name, items in batch.drops.items():
            if all((i.mailbox_id, i.folder, hashlib.sha256(i.raw).hexdigest()) in have for i in items):
                rt.store.delete(name)
                result.removed += 1
            else:
                result.kept += 1
        rt.store.flush()
    _finish_profiles(rt, profiles, result)
    result.seconds = time.perf_counter() - started
    return result


def _finish_profiles(rt: SourceRuntime, profile_ids: set[str], result: DrainResult) -> None:
    """What the admin sees on each journal/import profile: ok, or paused while storage is full."""
    c = result.counts
    if c.deferred:
        status, reason = "paused", f"storage full: {result.kept} message(s) wait for room"
    elif result.problems:
        status, reason = "partial", None
    else:
        status, reason = "ok", None
    with rt.session(write=True) as s:
        for pid in profile_ids:
            try:
                p = profile_by_id(s, pid)
            except ControlError:
                continue  # removed since: its drops were archived all the same
            finish_run(s, p, status, error="; ".join(result.problems[:5]) or None,
                       counts={**c.as_dict(), "drops": result.drops, "removed": result.removed, "kept": result.kept},
                       paused_reason=reason)


def orgs_with_drops(rt: SourceRuntime) -> list[Organization]:
    with rt.session() as s:
        orgs = list_orgs(s)
        for o in orgs:
            s.expunge(o)
    return [o for o in orgs if next(iter(drops.pending(rt.store, o.id)), None) is not None]


def drain_fairly(
    rt: SourceRuntime,
    run_id: str | None = None,
    *,
    write: Callable[[BatchWriter, Batch], Counts] | None = None,
    import_seconds: float | None = None,
) -> list[DrainResult]:
    """One drain run, fair between organizations (issue 17): first the journal drops of every
    organization (small, and what compliance waits for), then the SMTP import drops, each
    organization's share of `import_seconds` at most (None: no limit). One organization's
    2 TB import therefore never holds back the journals of the others: its drops wait for the
    next run (a minute later) once the run has spent its import time."""
    orgs = orgs_with_drops(rt)
    journals = [drain_org(rt, o, run_id, write=write, kinds=(JOURNAL,)) for o in orgs
                if drops.pending(rt.store, o.id, (JOURNAL,))]
    importing = [o for o in orgs if drops.pending(rt.store, o.id, (IMPORT,))]
    imports = []
    end = None if import_seconds is None else time.monotonic() + import_seconds
    for i, o in enumerate(importing):
        share = None if end is None else time.monotonic() + max(0.0, end - time.monotonic()) / (len(importing) - i)
        imports.append(drain_org(rt, o, run_id, write=write, kinds=(IMPORT,), deadline=share))
    by_org: dict[str, DrainResult] = {}
    for r in journals + imports:
        if r.org in by_org:
            by_org[r.org].merge(r)
        else:
            by_org[r.org] = r
    return list(by_org.values())


def drain_all(rt: SourceRuntime, run_id: str | None = None) -> list[DrainResult]:
    return drain_fairly(rt, run_id)
