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
  The catalogue's own Parquet files of the organization are read whole too (catalog.lake_files).
  Every failure names the mail it affects (mailbox, folder, Message-ID, date), not only the key.
- **Orphans.** Objects under an organization's prefix that no catalogue row references (left by
  a batch killed before its commit, or by an import the full disk stopped), and Parquet files
  under `lake/` the catalogue does not know. A running batch's objects are orphans until it
  commits, so only those older than a grace period are deleted (`delete_orphans`), and never
  while the catalogue has a damaged file (its rows would look unreferenced).
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

from mailark.catalog import lake_files
from mailark.catalog.archive import OrgArchive
from mailark.catalog.lake import ALIAS, METADATA, POSTGRES, catalog_lane
from mailark.config.settings import Settings
from mailark.storage.crypto import IntegrityError
from mailark.storage.objects import ObjectInfo, ObjectLocked, ObjectStore, ObjectStoreError
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
    """Merge small files, expire snapshots older than `retention`, delete the files they alone needed.

    WORM: this touches only the catalogue's Parquet files under ``lake/``, which are never locked
    (they are not message content); locked message objects and packs are never read or rewritten
    here (docs/retention.md, "Immutable storage")."""
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
    kind: str  # part | pack | quarantine | export | catalogue (a Parquet file of the catalogue) | scrub
    reason: str
    affected: list[dict[str, str]] = field(default_factory=list)  # mailbox, folder, message_id, date of each copy


@dataclass
class ScrubReport:
    org_id: str
    slot: int
    period: int
    objects: int = 0
    bytes: int = 0
    copies_verified: int = 0
    catalogue_files: int = 0
    failures: list[ScrubFailure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        d = {k: v for k, v in self.__dict__.items() if k != "failures"}
        d["failures"] = [f.__dict__ for f in self.failures]
        return d


def scrub(archive: OrgArchive, *, slot: int | None = None, period: int = 30, day: int | None = None,
          full: bool = False) -> ScrubReport:
    """Re-read the catalogue's files and the objects of one slice (`slot`, or the slice of `day` =
    days since the epoch; `full`: every object). A failure never stops the rest of the scrub."""
    if full:
        slot, period = 0, 1
    if slot is None:
        slot = (day if day is not None else int(time.time() // 86400)) % period
    report = ScrubReport(archive.org_id, slot, period)
    con, org = archive.lake, archive.org_id
    root = archive.store.data_path()
    files = lake_files.live_files(con, org)
    report.catalogue_files = len(files)
    damaged = [(f, r) for f in files if (r := lake_files.check_file(con, f)) is not None]
    if damaged:
        named = lake_files.affected_messages(con, org, [f for f, _ in damaged])
        for f, reason in damaged:
            report.failures.append(ScrubFailure(
                f.name(root), "catalogue",
                f"catalogue file of table {f.table} ({f.kind}, {f.rows} rows) does not read: {reason}",
                named if f.table in ("mailbox_items", "messages") else []))
    try:
        rows = con.execute(
            f"SELECT object_key, kind, stored_size FROM {ALIAS}.objects WHERE org_id = ? ORDER BY object_key", [org]
        ).fetchall()
    except duckdb.Error as e:
        report.failures.append(ScrubFailure("", "scrub", f"the objects were not scrubbed: the catalogue does not read ({e})"))
        return report
    reader = archive.reader()
    unchecked: list[str] = []
    for key, kind, size in rows:
        if scrub_slot(key, period) != slot:
            continue
        report.objects += 1
        report.bytes += int(size or 0)
        try:
            verified, failure = _check(archive, reader, key, kind)
            report.copies_verified += verified
        except (IntegrityError, ObjectStoreError, ValueError) as e:
            failure = ScrubFailure(key, kind, str(e).splitlines()[0], _affected(con, org, key, kind))
        except duckdb.Error as e:  # the catalogue, not the object: it cannot say what the object should hold
            unchecked.append(f"{key}: {str(e).splitlines()[0]}")
            failure = None
        if failure is not None:
            report.failures.append(failure)
    if unchecked:
        report.failures.append(ScrubFailure(
            "", "scrub", f"{len(unchecked)} objects could not be checked because the catalogue does not read "
                         f"(restore the damaged catalogue file first), e.g. {unchecked[0]}"))
    return report


def _copies(con: duckdb.DuckDBPyConnection, org: str, where: str, params: list[object]) -> list[dict[str, str]]:
    """Mailbox, folder, Message-ID and date of the copies `where` (over i = copy, m = message) selects."""
    try:
        rows = con.execute(
            f"""SELECT i.mailbox, i.folder, m.message_id, m.date FROM {ALIAS}.mailbox_items i
                JOIN {ALIAS}.messages m ON m.org_id = i.org_id AND m.message_key = i.message_key
                WHERE i.org_id = ? AND ({where}) ORDER BY i.mailbox, i.folder, m.date""", [org, *params]).fetchall()
    except duckdb.Error:
        return []
    return [{"mailbox": mb, "folder": fl, "message_id": mid or "", "date": d.isoformat() if d else ""}
            for mb, fl, mid, d in rows]


def _affected(con: duckdb.DuckDBPyConnection, org: str, key: str, kind: str) -> list[dict[str, str]]:
    """The copies a damaged object carries (a part's messages, a quarantined item, a pack's copies)."""
    if kind == "part":
        return _copies(con, org, f"i.message_key IN (SELECT message_key FROM {ALIAS}.parts WHERE org_id = ? AND object_key = ?)",
                       [org, key])
    if kind == "pack":
        pack_id = key.rsplit("/", 1)[1]
        return _copies(con, org, "starts_with(m.skeleton_ref, ? || ':') OR starts_with(i.delta_ref, ? || ':')", [pack_id, pack_id])
    if kind == "quarantine":
        try:
            rows = con.execute(f"SELECT mailbox, folder FROM {ALIAS}.quarantine WHERE org_id = ? AND object_key = ?",
                               [org, key]).fetchall()
        except duckdb.Error:
            return []
        return [{"mailbox": mb, "folder": fl, "message_id": "(quarantined item)", "date": ""} for mb, fl in rows]
    return []


def _check(archive: OrgArchive, reader, key: str, kind: str) -> tuple[int, ScrubFailure | None]:  # type: ignore[no-untyped-def]
    """Open one object and check what can be checked; returns the copies rebuilt and verified, and
    for a pack with bad copies the failure naming each of them (the rest of the pack is still checked)."""
    con, org = archive.lake, archive.org_id
    if kind == "export":
        for _ in open_sealed_stream(archive.sealer, key, archive.store.iter_chunks(key)):
            pass
        return 0, None
    if kind == "pack":
        pack_id = key.rsplit("/", 1)[1]
        refs = con.execute(
            f"""SELECT skeleton_ref AS r FROM {ALIAS}.messages WHERE org_id = ? AND starts_with(skeleton_ref, ? || ':')
                UNION SELECT delta_ref FROM {ALIAS}.mailbox_items WHERE org_id = ? AND starts_with(delta_ref, ? || ':')""",
            [org, pack_id, org, pack_id]).fetchall()
        blocks = {(e.block_offset, e.block_length) for e in (EntryRef.parse(r) for (r,) in refs)}
        name = pack_name(org, pack_id)
        bad_blocks: dict[int, str] = {}
        for offset, length in sorted(blocks):
            try:
                archive.sealer.open(archive.store.get_range(name, offset, length), f"{name}#{offset}")
            except (IntegrityError, ObjectStoreError, ValueError) as e:
                bad_blocks[offset] = str(e)
        copies = con.execute(
            f"""SELECT m.skeleton_ref, i.delta_ref, i.copy_sha256, i.mailbox, i.folder, m.message_id, m.date
                FROM {ALIAS}.mailbox_items i
                JOIN {ALIAS}.messages m ON m.org_id = i.org_id AND m.message_key = i.message_key
                WHERE i.org_id = ? AND (starts_with(m.skeleton_ref, ? || ':') OR starts_with(i.delta_ref, ? || ':'))
                ORDER BY i.mailbox, i.folder, m.date""",
            [org, pack_id, pack_id]).fetchall()
        verified, affected, reasons = 0, [], []
        for sk, delta, sha, mbox, folder, mid, date in copies:
            in_bad = [bad_blocks[r.block_offset] for r in (EntryRef.parse(x) for x in (sk, delta) if x and x.startswith(pack_id + ":"))
                      if r.block_offset in bad_blocks]
            try:
                if in_bad:
                    raise IntegrityError(in_bad[0])
                reader.rebuild(sk, delta, sha)  # raises IntegrityError on a SHA-256 mismatch
                verified += 1
            except (IntegrityError, ObjectStoreError, ValueError) as e:
                affected.append({"mailbox": mbox, "folder": folder, "message_id": mid or "",
                                 "date": date.isoformat() if date else ""})
                reasons.append(str(e))
        if not affected and not bad_blocks:
            return verified, None
        reason = (f"{len(bad_blocks)} of {len(blocks)} blocks and {len(affected)} of {len(copies)} copies fail their check: "
                  + (reasons[0] if reasons else next(iter(bad_blocks.values()))))
        return verified, ScrubFailure(key, kind, reason, affected)
    data = archive.read_object(key)  # authenticated
    if not hmac.compare_digest(archive.keys.name_digest(data).hex(), key.rsplit("/", 1)[1]):
        raise IntegrityError(f"stored object {key!r} does not match its name (HMAC of its content)")
    if kind == "quarantine":
        shas = {r[0] for r in con.execute(
            f"SELECT copy_sha256 FROM {ALIAS}.quarantine WHERE org_id = ? AND object_key = ?", [org, key]).fetchall()}
        if shas and hashlib.sha256(data).hexdigest() not in shas:
            raise IntegrityError(f"quarantined item {key!r} does not match its SHA-256")
    return 0, None


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


@dataclass
class OrphanCleanup:
    found: list[str] = field(default_factory=list)  # every orphan seen
    deleted: list[str] = field(default_factory=list)  # those older than the grace period, now gone
    kept_reason: str = ""  # why nothing was deleted, when so
    locked: list[str] = field(default_factory=list)  # WORM: old enough, but the store keeps them locked

    def as_dict(self) -> dict[str, object]:
        return {"found": len(self.found), "deleted": len(self.deleted), "deleted_names": self.deleted,
                "young": len(self.found) - len(self.deleted) - len(self.locked), "locked": len(self.locked),
                "kept_reason": self.kept_reason}


def _old(info: ObjectInfo, cutoff: float) -> bool:
    return info.modified is not None and info.modified < cutoff


def delete_orphans(archive: OrgArchive, *, now: datetime, grace: timedelta) -> OrphanCleanup:
    """Delete the organization's orphaned objects older than `grace` (a running batch's are younger).

    Nothing is deleted while a catalogue file of the `objects` table does not read: its rows would
    look unreferenced, and the objects are the mail itself.
    """
    result = OrphanCleanup()
    con = archive.lake
    broken = [f for f in lake_files.live_files(con, archive.org_id) if f.table == "objects"
              and lake_files.check_file(con, f) is not None]
    if broken:
        result.kept_reason = "a catalogue file of the objects table is damaged: scrub names it; restore it first"
        return result
    known = {r[0] for r in con.execute(
        f"SELECT object_key FROM {ALIAS}.objects WHERE org_id = ?", [archive.org_id]).fetchall()}
    cutoff = (now - grace).timestamp()
    base = f"orgs/{archive.org_id}/"
    for sub in CATALOGUED:
        for info in archive.store.list(base + sub):
            if info.name in known:
                continue
            result.found.append(info.name)
            if _old(info, cutoff):
                try:
                    archive.store.delete(info.name)
                except ObjectLocked:
                    result.locked.append(info.name)  # a later run, once the lock has passed
                    continue
                result.deleted.append(info.name)
    return result


def delete_orphan_lake_files(con: duckdb.DuckDBPyConnection, store: ObjectStore, *, now: datetime,
                             grace: timedelta) -> OrphanCleanup:
    """Delete Parquet files under `lake/` that the catalogue does not know, older than `grace`.

    A commit writes its files before it records them, so younger ones may belong to a commit under
    way; older ones were left by a commit that never finished (a killed process, a full disk).
    """
    result = OrphanCleanup()
    root = lake_files.data_path(con)
    prefix = root[len(store.data_path()):] if root.startswith(store.data_path()) else "lake/"
    known = lake_files.referenced_basenames(con)
    cutoff = (now - grace).timestamp()
    for info in store.list(prefix):
        if not info.name.endswith(".parquet") or info.name.rsplit("/", 1)[-1] in known:
            continue
        result.found.append(info.name)
        if _old(info, cutoff):
            store.delete(info.name)
            result.deleted.append(info.name)
    return result
