"""Keeping an organization's index in step with its catalogue: incremental runs and rebuilds.

The watermark is the DuckLake snapshot id the index reflects. Each commit of the catalogue is a
snapshot, and `table_changes('mailbox_items', from, to)` lists the copies inserted or deleted in
between, so an incremental run sees exactly what changed: new copies are added, copies deleted
by compliance (or rewritten when a pack is compacted) are deleted or replaced by item id. A copy
is written as delete-then-add of its item id in one commit, so running the same range twice (a
crash between the index commit and `state.json`) changes nothing.

A rebuild writes a new index beside the old one from the catalogue as it is now and swaps it in;
it is also what runs when there is no index yet, when the schema changed, when the catalogue no
longer has the watermark's snapshot (expired by maintenance), or when the index has grown past the
parts it was written as (index.parts_for).
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import tantivy
from ulid import ULID

from mailark.catalog.archive import OrgArchive
from mailark.catalog.lake import ALIAS, METADATA
from mailark.catalog.search import shipping
from mailark.catalog.search.documents import DocumentBuilder, copies_of, item_rows
from mailark.catalog.search.index import (
    SCHEMA_VERSION,
    IndexState,
    exists,
    index_dir,
    open_index,
    part_of,
    part_paths,
    parts_for,
    read_state,
    write_state,
    writing,
)

if TYPE_CHECKING:
    from mailark.config.settings import SearchSettings

log = logging.getLogger(__name__)


@dataclass
class IndexOptions:
    heap_bytes: int = 64 * 1024 * 1024  # the writer's memory before it flushes a segment
    threads: int = 1  # indexing threads (the machine is shared with ingest)
    batch: int = 500  # catalogue rows read at a time
    part_documents: int = 400_000  # index.parts_for
    max_parts: int = 0
    # An incremental run may rebuild an index that has outgrown its parts (reading every message
    # again: minutes per 100,000 copies). The index-mail flow and `mailark search index` may; the
    # catch-up of an import or of a legal hold, which someone is waiting for, does not.
    grow_parts: bool = False

    @classmethod
    def from_settings(cls, search: SearchSettings, *, grow_parts: bool = False) -> IndexOptions:
        """What the deployment's settings ask for (MAILARK_SEARCH__WRITER_HEAP_MB, __THREADS, ...)."""
        return cls(heap_bytes=search.writer_heap_mb * 1024 * 1024, threads=search.threads,
                   part_documents=search.part_documents, max_parts=search.max_parts, grow_parts=grow_parts)

    def parts(self, documents: int) -> int:
        return parts_for(documents, self.part_documents, self.max_parts)


@dataclass
class IndexRun:
    org_id: str
    mode: str  # "incremental" | "rebuild" | "unchanged"
    snapshot: int
    indexed: int = 0
    deleted: int = 0
    seconds: float = 0.0
    text_failures: list[tuple[str, str]] = field(default_factory=list)
    parts: int = 1  # the index's parts after the run (index.parts_for)

    def as_dict(self) -> dict[str, object]:
        return {"org_id": self.org_id, "mode": self.mode, "snapshot": self.snapshot, "indexed": self.indexed,
                "deleted": self.deleted, "seconds": round(self.seconds, 3), "text_failures": len(self.text_failures),
                "parts": self.parts}


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchone()
    return int(row[0]) if row else 0


def history_kept(con: duckdb.DuckDBPyConnection, since: int) -> bool:
    """Whether the catalogue still has the snapshot after the watermark (maintenance expires old
    ones, and `table_changes` over a range it no longer has would silently report less)."""
    return con.execute(f"SELECT 1 FROM {METADATA}.ducklake_snapshot WHERE snapshot_id = ?", [since + 1]).fetchone() is not None


def changed_items(con: duckdb.DuckDBPyConnection, org_id: str, after: int, upto: int) -> set[str]:
    """Item ids of the organization's copies inserted, deleted or updated in snapshots (after, upto]."""
    rows = con.execute(
        f"SELECT DISTINCT item_id FROM {ALIAS}.table_changes('mailbox_items', ?, ?) WHERE org_id = ?",
        [after + 1, upto, org_id],
    ).fetchall()
    return {r[0] for r in rows}


def sync_index(archive: OrgArchive, db_dir: Path, opts: IndexOptions | None = None) -> IndexRun:
    """Bring the organization's index up to the catalogue's current snapshot (a rebuild when needed)."""
    opts = opts or IndexOptions()
    path = index_dir(db_dir, archive.org_id)
    with writing(db_dir, archive.org_id), shipping.shipped(archive, db_dir, path):
        state = read_state(path) if exists(path) else None
        if state is None or state.schema_version != SCHEMA_VERSION or state.snapshot < 0:
            return _rebuild(archive, path, opts)
        started = time.monotonic()
        upto = current_snapshot(archive.lake)
        if upto <= state.snapshot:
            return IndexRun(archive.org_id, "unchanged", state.snapshot, parts=state.parts)
        try:
            if not history_kept(archive.lake, state.snapshot):
                raise LookupError(f"snapshot {state.snapshot + 1} was expired by maintenance")
            touched = changed_items(archive.lake, archive.org_id, state.snapshot, upto)
        except (duckdb.Error, LookupError) as e:  # the changes since the watermark are gone: start over
            log.warning("catalogue changes since snapshot %d are not available (%s): rebuilding the index",
                        state.snapshot, e)
            return _rebuild(archive, path, opts)
        run = IndexRun(archive.org_id, "incremental", upto, parts=state.parts)
        if touched:
            writers = _Writers(path, state.parts, opts)
            builder = DocumentBuilder(archive)
            for item_id in touched:
                writers.of(item_id).delete_documents_by_term("item_id", item_id)
            present: set[str] = set()
            boxes: set[str] = set()
            for rows in item_rows(archive, touched, opts.batch):
                for row in rows:
                    writers.of(row.item_id).add_document(builder.document(row))
                    present.add(row.item_id)
                    boxes.add(row.mailbox_id)
            if state.mailboxes is not None and not boxes <= set(state.mailboxes):
                # Known before the documents are visible: a search limited by the mailboxes the
                # principal may NOT read must never meet a mailbox it has not heard of.
                state.mailboxes = sorted(boxes | set(state.mailboxes))
                write_state(path, state)
            writers.commit()
            run.indexed, run.deleted = len(present), len(touched - present)
            run.text_failures = builder.failed
        write_state(path, replace(state, snapshot=upto))
        run.seconds = time.monotonic() - started
        if touched and opts.grow_parts and opts.parts(copies_of(archive)) > state.parts:
            log.warning("the search index of %s has grown past its %d part(s): rebuilding it in more parts",
                        archive.org_id, state.parts)
            return _rebuild(archive, path, opts)
        return run


MIN_HEAP_BYTES = 16 << 20  # tantivy refuses a writer thread less than 15 MB


class _Writers:
    """One writer per part, opened when a document of that part is first written or deleted."""

    def __init__(self, path: Path, parts: int, opts: IndexOptions) -> None:
        self.paths, self.opts = part_paths(path, parts), opts
        self.open: dict[int, tantivy.IndexWriter] = {}

    def of(self, item_id: str) -> tantivy.IndexWriter:
        n = part_of(item_id, len(self.paths))
        if n not in self.open:
            heap = max(self.opts.heap_bytes // len(self.paths), MIN_HEAP_BYTES * self.opts.threads)
            self.open[n] = open_index(self.paths[n]).writer(heap_size=heap, num_threads=self.opts.threads)
        return self.open[n]

    def commit(self) -> None:
        """Commit every part written (a crash between two parts' commits leaves state.json at the
        old snapshot: the next run writes the same copies again, delete-then-add, so nothing doubles)."""
        for writer in self.open.values():
            writer.commit()
            writer.wait_merging_threads()


def rebuild_index(archive: OrgArchive, db_dir: Path, opts: IndexOptions | None = None) -> IndexRun:
    """Recreate the organization's index from the catalogue and the objects, then swap it in."""
    opts = opts or IndexOptions()
    path = index_dir(db_dir, archive.org_id)
    with writing(db_dir, archive.org_id), shipping.shipped(archive, db_dir, path):
        return _rebuild(archive, path, opts)


def _rebuild(archive: OrgArchive, path: Path, opts: IndexOptions) -> IndexRun:
    started = time.monotonic()
    snapshot = current_snapshot(archive.lake)
    parts = opts.parts(copies_of(archive))
    new = path.with_name(path.name + ".new")
    shutil.rmtree(new, ignore_errors=True)
    for part in part_paths(new, parts):
        open_index(part, create=True)  # every part exists, even one no copy hashes to
    writers = _Writers(new, parts, opts)
    builder = DocumentBuilder(archive)
    n = 0
    boxes: set[str] = set()
    for rows in item_rows(archive, None, opts.batch):
        for row in rows:
            writers.of(row.item_id).add_document(builder.document(row))
            boxes.add(row.mailbox_id)
            n += 1
    writers.commit()
    write_state(new, IndexState(snapshot=snapshot, generation=str(ULID()).lower(), mailboxes=sorted(boxes), parts=parts))
    swap_in(new, path)
    run = IndexRun(archive.org_id, "rebuild", snapshot, indexed=n, seconds=time.monotonic() - started, parts=parts)
    run.text_failures = builder.failed
    return run


def swap_in(new: Path, path: Path) -> None:
    """Replace the index at `path` by the one at `new` (readers reopen on the new generation)."""
    old = path.with_name(path.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if path.exists():
        path.rename(old)
    new.rename(path)
    shutil.rmtree(old, ignore_errors=True)


def documents_in(path: Path) -> int:
    """How many documents the index at `path` holds (0 when there is none)."""
    state = read_state(path)
    if state is None or not exists(path, state):
        return 0
    total = 0
    for part in part_paths(path, state.parts):
        idx = open_index(part)
        idx.reload()
        total += int(idx.searcher().num_docs)
    return total



