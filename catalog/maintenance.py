"""Nightly care of the catalogue and the object store: compaction, snapshot expiry, scrub, orphans.

- **Compaction.** Every ingest batch is one DuckLake commit and writes small Parquet files per
  table and organization; `ducklake_merge_adjacent_files` rewrites them into few large ones. Old
  snapshots are then expired (`ducklake_expire_snapshots`) and the files no snapshot needs are
  deleted (`ducklake_cleanup_old_files`). All of it runs inside the commit lane(s), so no ingest
  commit interleaves with a rewrite.
- **Integrity scrub.** Re-reads a slice of an organization's stored objects each night (object
  names hash into `period` slices, one slice a night, so every object is read once per period):
  opening a blob authenticates it (AES-GCM tag); parts and quarantined items are checked against
  their names (HMAC of the content) and SHA-256; a pack's blocks are opened and every copy whose
  skeleton is in it is rebuilt and checked against its SHA-256 as received; an export file is
  read to its end mark.
- **Orphans.** Objects under an organization's prefix that no catalogue row references (left by
  a batch killed before its commit, or by a damaged catalogue). Reported, never deleted here: a
  running batch's objects are orphans until it commits.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from mailark.catalog.archive import OrgArchive
from mailark.catalog.lake import ALIAS, METADATA, POSTGRES, catalog_lane
from mailark.config.settings import Settings
from mailark.storage.crypto import IntegrityError
from mailark.storage.objects import ObjectStore, ObjectStoreError
from mailark.storage.packs import EntryRef, pack_name
from mailark.storage.streams import open_sealed_stream

# ---- compaction -----------------------------------------------------------------------------------


@contextmanager
def all_lanes(settings: Settings, org_ids: list[str], con: duckdb.DuckDBPyConnection, store: ObjectStore) -> Iterator[None]:
    """Every writer's lane: one lock with a SQLite catalog; each organization's (in a fixed order) with PostgreSQL."""
    with ExitStack() as stack:
        if settings.resolved_lake_catalog.startswith(POSTGRES):
            for org_id in sorted(org_ids):
                stack.enter_context(catalog_lane(settings, org_id))
        stack.enter_context(catalog_lane(settings, None, con, store))
        yield


@contextmanager
def _memory_limit(con: duckdb.DuckDBPyConnection, limit: str, restore: str) -> Iterator[None]:
    """A larger DuckDB memory limit for the duration; then the service's own again."""
    con.execute("SET memory_limit = ?", [limit])
    try:
        yield
    finally:
        con.execute("SET memory_limit = ?", [restore])


def live_files(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"SELECT count(*) FROM {METADATA}.ducklake_data_file WHERE end_snapshot IS NULL").fetchone()
    return int(row[0]) if row else 0


@dataclass
class CompactionReport:
    files_before: int
    files_after: int
    snapshots_expired: int
    files_deleted: int
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return self.__dict__.copy()


def compact(settings: Settings, con: duckdb.DuckDBPyConnection, store: ObjectStore, org_ids: list[str],
            *, now: datetime, retention: timedelta) -> CompactionReport:
    """Merge small files, expire snapshots older than `retention`, delete the files they alone needed."""
    started = time.perf_counter()
    cutoff = now - retention
    with all_lanes(settings, org_ids, con, store), _memory_limit(con, settings.lake_compaction_memory_limit, settings.lake_memory_limit):
        before = live_files(con)
        con.execute(f"CALL {ALIAS}.set_option('target_file_size', ?)", [settings.lake_target_file_size])
        con.execute(f"CALL ducklake_merge_adjacent_files('{ALIAS}')")
        expired = con.execute(f"CALL ducklake_expire_snapshots('{ALIAS}', older_than => ?::TIMESTAMPTZ)", [cutoff]).fetchall()
        # Files merged away or of expired snapshots: gone once no snapshot we keep needs them.
        deleted = con.execute(f"CALL ducklake_cleanup_old_files('{ALIAS}', older_than => ?::TIMESTAMPTZ)",
                              [now if retention <= timedelta(0) else cutoff]).fetchall()
        after = live_files(con)
    return CompactionReport(before, after, len(expired), len(deleted), round(time.perf_counter() - started, 3))


# ---- integrity scrub --------------------------------------------------------------------------------


def scrub_slot(name: str, period: int) -> int:
    """Which night of the period an object is read (stable across runs and versions)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % period


@dataclass
class ScrubFailure:
    object_key: str
    kind: str
    reason: str


@dataclass
class ScrubReport:
    org_id: str
    slot: int
    period: int
    objects: int = 0
    bytes: int = 0
    copies_verified: int = 0
    failures: list[ScrubFailure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        d = {k: v for k, v in self.__dict__.items() if k != "failures"}
        d["failures"] = [f.__dict__ for f in self.failures]
        return d


def scrub(archive: OrgArchive, *, slot: int | None = None, period: int = 30, day: int | None = None) -> ScrubReport:
    """Re-read the objects of one slice (`slot`, or the slice of `day` = days since the epoch)."""
    if slot is None:
        slot = (day if day is not None else int(time.time() // 86400)) % period
    report = ScrubReport(archive.org_id, slot, period)
    rows = archive.lake.execute(
        f"SELECT object_key, kind, stored_size FROM {ALIAS}.objects WHERE org_id = ? ORDER BY object_key", [archive.org_id]
    ).fetchall()
    reader = archive.reader()
    for key, kind, size in rows:
        if scrub_slot(key, period) != slot:
            continue
        report.objects += 1
        report.bytes += int(size or 0)
        try:
            report.copies_verified += _check(archive, reader, key, kind)
        except (IntegrityError, ObjectStoreError, ValueError) as e:
            report.failures.append(ScrubFailure(key, kind, str(e)))
    return report


def _check(archive: OrgArchive, reader, key: str, kind: str) -> int:  # type: ignore[no-untyped-def]
    """Open one object and check what can be checked; returns the copies rebuilt and verified."""
    con, org = archive.lake, archive.org_id
    if kind == "export":
        for _ in open_sealed_stream(archive.sealer, key, archive.store.iter_chunks(key)):
            pass
        return 0
    if kind == "pack":
        pack_id = key.rsplit("/", 1)[1]
        refs = con.execute(
            f"""SELECT skeleton_ref AS r FROM {ALIAS}.messages WHERE org_id = ? AND starts_with(skeleton_ref, ? || ':')
                UNION SELECT delta_ref FROM {ALIAS}.mailbox_items WHERE org_id = ? AND starts_with(delta_ref, ? || ':')""",
            [org, pack_id, org, pack_id]).fetchall()
        blocks = {(e.block_offset, e.block_length) for e in (EntryRef.parse(r) for (r,) in refs)}
        name = pack_name(org, pack_id)
        for offset, length in sorted(blocks):
            archive.sealer.open(archive.store.get_range(name, offset, length), f"{name}#{offset}")
        copies = con.execute(
            f"""SELECT m.skeleton_ref, i.delta_ref, i.copy_sha256 FROM {ALIAS}.mailbox_items i
                JOIN {ALIAS}.messages m ON m.org_id = i.org_id AND m.message_key = i.message_key
                WHERE i.org_id = ? AND (starts_with(m.skeleton_ref, ? || ':') OR starts_with(i.delta_ref, ? || ':'))""",
            [org, pack_id, pack_id]).fetchall()
        for sk, delta, sha in copies:
            reader.rebuild(sk, delta, sha)  # raises IntegrityError on a SHA-256 mismatch
        return len(copies)
    data = archive.read_object(key)  # authenticated
    if not hmac.compare_digest(archive.keys.name_digest(data).hex(), key.rsplit("/", 1)[1]):
        raise IntegrityError(f"stored object {key!r} does not match its name (HMAC of its content)")
    if kind == "quarantine":
        shas = {r[0] for r in con.execute(
            f"SELECT copy_sha256 FROM {ALIAS}.quarantine WHERE org_id = ? AND object_key = ?", [org, key]).fetchall()}
        if shas and hashlib.sha256(data).hexdigest() not in shas:
            raise IntegrityError(f"quarantined item {key!r} does not match its SHA-256")
    return 0


# ---- orphans ------------------------------------------------------------------------------------------

# Prefixes whose objects the catalogue's `objects` table lists (journal drops are not catalogued).
CATALOGUED = ("objects/", "packs/", "exports/")


def find_orphans(archive: OrgArchive) -> list[str]:
    """Objects under the organization's catalogued prefixes that no `objects` row references."""
    known = {r[0] for r in archive.lake.execute(
        f"SELECT object_key FROM {ALIAS}.objects WHERE org_id = ?", [archive.org_id]).fetchall()}
    base = f"orgs/{archive.org_id}/"
    orphans = []
    for sub in CATALOGUED:
        for info in archive.store.list(base + sub):
            if info.name not in known:
                orphans.append(info.name)
    return orphans


def unknown_org_prefixes(store: ObjectStore, org_ids: set[str]) -> list[str]:
    """`orgs/<id>/` prefixes of organizations the control plane does not know (deleted, or planted)."""
    seen: set[str] = set()
    for info in store.list("orgs/"):
        org_id = info.name.split("/", 2)[1]
        if org_id not in org_ids:
            seen.add(f"orgs/{org_id}/")
    return sorted(seen)
