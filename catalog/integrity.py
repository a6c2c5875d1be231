"""Is an organization's stored data what the catalogue says it is? Checks shared by backup
verification and repair (the nightly scrub in catalog/maintenance.py reads slices on its own).

Two kinds of thing are checked:

- **Objects** (the `objects` table): opening a sealed object authenticates it (AES-256-GCM); a
  part or quarantined item must match its name (HMAC of its content) and, for quarantined bytes,
  the SHA-256 as received; a pack's referenced blocks must open; an export file must read to its
  end mark; and every object must have the size the catalogue recorded. Then, end to end, every
  archived copy is rebuilt (skeleton + delta + parts) and checked against its SHA-256 as received.
- **Catalogue files** (the DuckLake Parquet files of the organization's partition): present, of the
  size the catalog recorded, and readable to the last row (they are encrypted, so reading them
  authenticates every page).

The archive handed in may read another object store than the live one (a backup's `objects/`
directory) and another catalogue connection (a backup's rows): the checks are the same.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import duckdb

from mailark.catalog.archive import OrgArchive
from mailark.catalog.lake import ALIAS, METADATA
from mailark.catalog.schema import TABLES
from mailark.storage.crypto import IntegrityError
from mailark.storage.objects import ObjectStore, ObjectStoreError
from mailark.storage.packs import EntryRef, pack_name
from mailark.storage.streams import open_sealed_stream

CHECK_ERRORS = (IntegrityError, ObjectStoreError, ValueError, KeyError)


@dataclass
class Damage:
    """One thing that is not what the catalogue says: an object, a copy or a catalogue file."""

    name: str
    kind: str
    reason: str


def org_objects(con: duckdb.DuckDBPyConnection, org_id: str) -> list[tuple[str, str, int | None]]:
    """(object name, kind, stored size) of every object the catalogue lists for the organization."""
    return [(r[0], r[1], r[2]) for r in con.execute(
        f"SELECT object_key, kind, stored_size FROM {ALIAS}.objects WHERE org_id = ? ORDER BY object_key", [org_id]
    ).fetchall()]


def check_object(archive: OrgArchive, key: str, kind: str, stored_size: int | None = None) -> None:
    """Open one object and check what the object alone can show; raises one of CHECK_ERRORS."""
    store, con, org = archive.store, archive.lake, archive.org_id
    if stored_size is not None and kind != "export":
        size = store.size(key)
        if size != stored_size:
            raise IntegrityError(f"object {key} has {size} bytes, the catalogue recorded {stored_size}")
    if kind == "export":
        for _ in open_sealed_stream(archive.sealer, key, store.iter_chunks(key)):
            pass
        return
    if kind == "pack":
        pack_id = key.rsplit("/", 1)[1]
        refs = con.execute(
            f"""SELECT skeleton_ref FROM {ALIAS}.messages WHERE org_id = ? AND starts_with(skeleton_ref, ? || ':')
                UNION SELECT delta_ref FROM {ALIAS}.mailbox_items WHERE org_id = ? AND starts_with(delta_ref, ? || ':')""",
            [org, pack_id, org, pack_id]).fetchall()
        name = pack_name(org, pack_id)
        for offset, length in sorted({(e.block_offset, e.block_length) for e in (EntryRef.parse(r) for (r,) in refs)}):
            archive.sealer.open(store.get_range(name, offset, length), f"{name}#{offset}")
        return
    data = archive.read_object(key)  # authenticated
    if not hmac.compare_digest(archive.keys.name_digest(data).hex(), key.rsplit("/", 1)[1]):
        raise IntegrityError(f"object {key} does not match its name (HMAC of its content)")
    if kind == "quarantine":
        shas = {r[0] for r in con.execute(
            f"SELECT copy_sha256 FROM {ALIAS}.quarantine WHERE org_id = ? AND object_key = ?", [org, key]).fetchall()}
        if shas and hashlib.sha256(data).hexdigest() not in shas:
            raise IntegrityError(f"quarantined item {key} does not match its SHA-256 as received")


def damaged_objects(archive: OrgArchive) -> list[Damage]:
    """Every catalogued object of the organization that is missing or fails its check."""
    found = []
    for key, kind, size in org_objects(archive.lake, archive.org_id):
        try:
            check_object(archive, key, kind, size)
        except CHECK_ERRORS as e:
            found.append(Damage(key, kind, _reason(e)))
    return found


def damaged_copies(archive: OrgArchive) -> tuple[int, list[Damage]]:
    """Rebuild every archived copy and check its SHA-256 as received: (copies checked, failures)."""
    rows = archive.lake.execute(
        f"""SELECT i.item_id, m.skeleton_ref, i.delta_ref, i.copy_sha256 FROM {ALIAS}.mailbox_items i
            JOIN {ALIAS}.messages m ON m.org_id = i.org_id AND m.message_key = i.message_key
            WHERE i.org_id = ? ORDER BY m.skeleton_ref""", [archive.org_id]).fetchall()
    reader = archive.reader()
    found = []
    for item_id, skeleton, delta, sha in rows:
        try:
            reader.rebuild(skeleton, delta, sha)
        except CHECK_ERRORS as e:
            found.append(Damage(item_id, "copy", _reason(e)))
    return len(rows), found


def _reason(e: BaseException) -> str:
    return str(e) or type(e).__name__


# ---- the catalogue's Parquet files ------------------------------------------------------------------


@dataclass(frozen=True)
class LakeFile:
    """One live Parquet file of an organization's partition, named relative to the object store."""

    table: str
    name: str
    size: int
    kind: str  # "data" or "delete"
    data_file: str  # the data file it belongs to (itself for a data file): what a scan reads


def org_lake_files(con: duckdb.DuckDBPyConnection, store: ObjectStore, org_id: str) -> list[LakeFile]:
    """The live data and delete files of the organization's partition in every catalogue table."""
    base = store.data_path()
    mine = {r[0] for r in con.execute(
        f"""SELECT df.path FROM {METADATA}.ducklake_data_file df
            JOIN {METADATA}.ducklake_file_partition_value pv USING (data_file_id)
            WHERE df.end_snapshot IS NULL AND pv.partition_value = ?""", [org_id]).fetchall()}
    out: list[LakeFile] = []
    for table in TABLES:
        for data, dsize, delete, xsize in con.execute(
                f"SELECT data_file, data_file_size_bytes, delete_file, delete_file_size_bytes "
                f"FROM ducklake_list_files('{ALIAS}', '{table}')").fetchall():
            if data.rsplit("/", 1)[-1] not in mine or not data.startswith(base):
                continue
            dname = data[len(base):]
            out.append(LakeFile(table, dname, int(dsize), "data", dname))
            if delete and delete.startswith(base):
                out.append(LakeFile(table, delete[len(base):], int(xsize), "delete", dname))
    return out


def check_lake_file(con: duckdb.DuckDBPyConnection, store: ObjectStore, f: LakeFile) -> None:
    """Present, of the recorded size, and (a data file with its deletes) readable to the end."""
    try:
        size = store.size(f.name)
    except ObjectStoreError as e:
        raise IntegrityError(f"catalogue file {f.name} is missing: {e}") from None
    if size != f.size:
        raise IntegrityError(f"catalogue file {f.name} has {size} bytes, the catalog recorded {f.size}")
    try:  # every column of every row: the pages are encrypted, so this authenticates them all
        con.execute(f"SELECT * FROM {ALIAS}.{f.table} WHERE filename = ?", [store.data_path() + f.data_file]).to_arrow_table()
    except duckdb.Error as e:
        raise IntegrityError(f"catalogue file {f.name} cannot be read: {str(e).splitlines()[0]}") from None


def damaged_lake_files(con: duckdb.DuckDBPyConnection, store: ObjectStore, org_id: str) -> list[Damage]:
    found = []
    for f in org_lake_files(con, store, org_id):
        try:
            check_lake_file(con, store, f)
        except IntegrityError as e:
            found.append(Damage(f.name, f"catalogue {f.kind} file", str(e)))
    return found
