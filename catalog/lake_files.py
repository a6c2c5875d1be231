"""The catalogue's own Parquet files: which exist, whether each still reads, and what a damaged one held.

DuckLake keeps every row of the catalogue in encrypted Parquet files under `lake/` of the object
store. One flipped byte in one of them makes every query over its table fail (AES tag mismatch),
so import, export and scrub of the organization stop. This module reads each live file on its own
(with the key DuckLake recorded for it), so a damaged file is found by name, and the mail it held
is named from the files that still read.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

import duckdb

from mailark.catalog.lake import METADATA, LakeError


@dataclass
class LakeFile:
    """One live Parquet file of the catalogue (a data file, or a delete file of one)."""

    file_id: int
    table: str
    kind: str  # data | delete
    path: str  # what DuckDB reads: an absolute path or s3://...
    key: str | None  # DuckLake's encryption key (base64), None when unencrypted
    rows: int
    begin_snapshot: int
    org_ids: list[str] = field(default_factory=list)  # partition values; [] when not partitioned

    def name(self, store_root: str) -> str:
        """The file's name in the object store (the store's data path stripped)."""
        return self.path.removeprefix(store_root)


def data_path(con: duckdb.DuckDBPyConnection) -> str:
    row = con.execute(f"SELECT value FROM {METADATA}.ducklake_metadata WHERE key = 'data_path'").fetchone()
    return str(row[0]) if row else ""


def _join(base: str, path: str, relative: object) -> str:
    return posixpath.join(base, path) if relative else path


def live_files(con: duckdb.DuckDBPyConnection, org_id: str | None = None) -> list[LakeFile]:
    """The live data and delete files (of one organization's partitions, and any not partitioned)."""
    root = data_path(con)
    tables = {tid: _join(_join(root, sp or "", srel), tp or "", trel) for tid, sp, srel, tp, trel in con.execute(
        f"""SELECT t.table_id, s.path, s.path_is_relative, t.path, t.path_is_relative FROM {METADATA}.ducklake_table t
            JOIN {METADATA}.ducklake_schema s USING (schema_id) WHERE t.end_snapshot IS NULL""").fetchall()}
    names = {tid: n for tid, n in con.execute(
        f"SELECT table_id, table_name FROM {METADATA}.ducklake_table WHERE end_snapshot IS NULL").fetchall()}
    parts: dict[int, list[str]] = {}
    for fid, value in con.execute(f"SELECT data_file_id, partition_value FROM {METADATA}.ducklake_file_partition_value").fetchall():
        parts.setdefault(int(fid), []).append(str(value))
    files: list[LakeFile] = []
    for fid, tid, path, rel, key, n, begin in con.execute(
            f"""SELECT data_file_id, table_id, path, path_is_relative, encryption_key, record_count, begin_snapshot
                FROM {METADATA}.ducklake_data_file WHERE end_snapshot IS NULL ORDER BY data_file_id""").fetchall():
        if tid in tables:
            files.append(LakeFile(int(fid), names[tid], "data", _join(tables[tid], path, rel), key, int(n or 0), int(begin),
                                  parts.get(int(fid), [])))
    for fid, tid, data_fid, path, rel, key, n, begin in con.execute(
            f"""SELECT delete_file_id, table_id, data_file_id, path, path_is_relative, encryption_key, delete_count,
                       begin_snapshot FROM {METADATA}.ducklake_delete_file WHERE end_snapshot IS NULL
                ORDER BY delete_file_id""").fetchall():
        if tid in tables:
            files.append(LakeFile(int(fid), names[tid], "delete", _join(tables[tid], path, rel), key, int(n or 0), int(begin),
                                  parts.get(int(data_fid), [])))
    if org_id is not None:
        files = [f for f in files if not f.org_ids or org_id in f.org_ids]
    return files


def referenced_basenames(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every Parquet file name the catalogue still knows (live, of kept snapshots, or due for deletion)."""
    names: set[str] = set()
    for table in ("ducklake_data_file", "ducklake_delete_file", "ducklake_files_scheduled_for_deletion"):
        names |= {posixpath.basename(str(r[0])) for r in con.execute(f"SELECT path FROM {METADATA}.{table}").fetchall()}
    return names


def _source(f: LakeFile) -> tuple[str, list[object]]:
    if f.key:
        return "read_parquet(?, encryption_config = {footer_key_value: from_base64(?)})", [f.path, f.key]
    return "read_parquet(?)", [f.path]


def check_file(con: duckdb.DuckDBPyConnection, f: LakeFile) -> str | None:
    """Read every value of the file; None when it reads whole, else why it does not."""
    src, params = _source(f)
    cur = con.cursor()
    try:
        row = cur.execute(f"SELECT count(*), max(hash(t)) FROM {src} t", params).fetchone()
    except duckdb.Error as e:
        return str(e).splitlines()[0]
    finally:
        cur.close()
    if row is None or int(row[0]) != f.rows:
        return f"it holds {row[0] if row else 0} rows where the catalogue recorded {f.rows}"
    return None


def damaged_files(con: duckdb.DuckDBPyConnection, org_id: str | None = None) -> list[tuple[LakeFile, str]]:
    """The live files that do not read, each with the reason."""
    found = []
    for f in live_files(con, org_id):
        reason = check_file(con, f)
        if reason is not None:
            found.append((f, reason))
    return found


def _rows(con: duckdb.DuckDBPyConnection, files: list[LakeFile], columns: str, org_id: str) -> list[tuple]:  # type: ignore[type-arg]
    out: list[tuple] = []  # type: ignore[type-arg]
    cur = con.cursor()
    try:
        for f in files:
            src, params = _source(f)
            out += cur.execute(f"SELECT {columns} FROM {src} WHERE org_id = ?", [*params, org_id]).fetchall()
    finally:
        cur.close()
    return out


def affected_messages(con: duckdb.DuckDBPyConnection, org_id: str, damaged: list[LakeFile],
                      limit: int = 1000) -> list[dict[str, str]]:
    """The copies a damaged `mailbox_items` or `messages` file held, named from the files that still read.

    A lost `mailbox_items` file: the messages no readable copy refers to (their mailbox from the
    ingest ledger; the folder was in the lost file). A lost `messages` file: the copies whose
    message row is gone (mailbox and folder; Message-ID and date were in the lost file).
    """
    bad = {f.file_id for f in damaged}
    intact = [f for f in live_files(con, org_id) if f.kind == "data" and f.file_id not in bad]
    lost_tables = {f.table for f in damaged if f.kind == "data"}
    by_table = lambda t: [f for f in intact if f.table == t]  # noqa: E731
    named: list[dict[str, str]] = []
    if "mailbox_items" in lost_tables and "messages" not in lost_tables:
        with_copy = {r[0] for r in _rows(con, by_table("mailbox_items"), "message_key", org_id)}
        ledger = {b: mb for b, mb in _rows(con, by_table("ingest_ledger"), "batch_id, mailbox", org_id)}
        for key, mid, date, batch in _rows(con, by_table("messages"), "message_key, message_id, date, batch_id", org_id):
            if key not in with_copy:
                named.append({"mailbox": ledger.get(batch, "?"), "folder": "?", "message_id": mid or "",
                              "date": date.isoformat() if date else "", "message_key": key})
    if "messages" in lost_tables and "mailbox_items" not in lost_tables:
        known = {r[0] for r in _rows(con, by_table("messages"), "message_key", org_id)}
        for mbox, folder, key in _rows(con, by_table("mailbox_items"), "mailbox, folder, message_key", org_id):
            if key not in known:
                named.append({"mailbox": mbox, "folder": folder, "message_id": "?", "date": "", "message_key": key})
    return named[:limit]


RESTORE_HOW = ("DuckLake never rewrites a file under the same name, so put back that one file from any copy of the "
               "object store taken before the damage (a disk snapshot, S3 object versions), or restore the "
               "organization from its last backup (`mailark restore`, docs/operators.md, 'Damage')")


def damage_error(con: duckdb.DuckDBPyConnection, org_id: str, store_root: str) -> LakeError | None:
    """A LakeError naming the damaged catalogue files of the organization and how to restore them; None if all read."""
    damaged = damaged_files(con, org_id)
    if not damaged:
        return None
    named = "; ".join(f"{f.name(store_root)} (table {f.table}, {f.rows} rows: {reason})" for f, reason in damaged)
    return LakeError(f"the catalogue of organization {org_id} has {len(damaged)} damaged file(s), so nothing new can be recorded: {named}. "
                     f"{RESTORE_HOW}. Then run the import again (the mail it stored is kept; nothing is lost). "
                     "`mailark scrub --full` names the mail the damaged file held")
