"""What an organization occupies, read from the catalogue: in full, or only what changed.

Metering keeps running totals exact at a DuckLake snapshot (its watermark). A run reads the
current snapshot S and either
- `changes(con, org, since=W, upto=S)`: only the rows inserted or deleted between the watermark
  W and S (`ducklake_table_changes`, which reads only the data and delete files those snapshots
  added; the table is partitioned by org_id, so other organizations' files are skipped), or
- `full_count(con, org, at=S)`: every row of the organization, as of S (first run, or when the
  watermark's snapshots were expired by maintenance).

Both read at a fixed snapshot, so a batch committed meanwhile is counted by the next run, never
twice and never not at all. Deletions (a compliance delete, an expired export) show up as
`delete` changes and lower the totals.

The organization's share of the lake's Parquet files (`lake_bytes`) is read from the catalog's
metadata (one row per file, not per message), without the `usage` table's own files: the
organization does not pay for the meter's bookkeeping.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from mailark.catalog.lake import ALIAS, METADATA

EXPORT_KIND = "export"


class SnapshotGone(Exception):
    """The watermark's snapshot no longer exists (expired by maintenance): count in full instead."""


@dataclass
class Figures:
    """Totals (full count) or differences (changes) of one organization's catalogue rows."""

    object_bytes: int = 0  # stored_size of every object: parts, packs, quarantined bytes, export files
    export_bytes: int = 0  # of which export files
    objects: int = 0
    messages: int = 0
    copies: int = 0
    raw_bytes: int = 0  # sizes of the archived copies as received
    rows_read: int = 0  # catalogue rows this reading had to look at (the cost of a run)

    def plus(self, other: Figures) -> Figures:
        return Figures(**{k: v + getattr(other, k) for k, v in asdict(self).items() if k != "rows_read"},
                       rows_read=other.rows_read)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(f"SELECT id FROM ducklake_current_snapshot('{ALIAS}')").fetchone()
    return int(row[0]) if row else 0


def full_count(con: duckdb.DuckDBPyConnection, org_id: str, at: int) -> Figures:
    """Every row of the organization as of snapshot `at`."""
    v = f"AT (VERSION => {int(at)})"
    ob, eb, n_obj = con.execute(
        f"SELECT coalesce(sum(stored_size), 0), coalesce(sum(stored_size) FILTER (kind = ?), 0), count(*) "
        f"FROM {ALIAS}.objects {v} WHERE org_id = ?", [EXPORT_KIND, org_id]
    ).fetchone() or (0, 0, 0)
    n_msg = (con.execute(f"SELECT count(*) FROM {ALIAS}.messages {v} WHERE org_id = ?", [org_id]).fetchone() or (0,))[0]
    copies, raw = con.execute(
        f"SELECT count(*), coalesce(sum(size), 0) FROM {ALIAS}.mailbox_items {v} WHERE org_id = ?", [org_id]
    ).fetchone() or (0, 0)
    return Figures(int(ob), int(eb), int(n_obj), int(n_msg), int(copies), int(raw),
                   rows_read=int(n_obj) + int(n_msg) + int(copies))


def _changes(con: duckdb.DuckDBPyConnection, table: str, select: str, org_id: str, since: int, upto: int) -> list[tuple]:  # type: ignore[type-arg]
    """Rows of `select` per change sign (+1 inserted, -1 deleted) from the organization's changes."""
    sign = ("CASE WHEN change_type IN ('insert', 'update_postimage') THEN 1 "
            "WHEN change_type IN ('delete', 'update_preimage') THEN -1 ELSE 0 END")
    try:
        return con.execute(
            f"SELECT {sign} AS sign, count(*) AS n, {select} "
            f"FROM ducklake_table_changes('{ALIAS}', 'main', '{table}', ?, ?) WHERE org_id = ? GROUP BY ALL",
            [since, upto, org_id],
        ).fetchall()
    except duckdb.InvalidInputException as e:
        if "No snapshot found" in str(e):
            raise SnapshotGone(str(e)) from e
        raise


def tables_changed(con: duckdb.DuckDBPyConnection, since: int, upto: int) -> set[str]:
    """Names of the tables whose rows changed in snapshots (since, upto], from the catalog's list of
    changes per snapshot (a primary-key range, however long the history). Compaction is no change."""
    names = dict(con.execute(f"SELECT table_id, table_name FROM {METADATA}.ducklake_table").fetchall())
    out: set[str] = set()
    for (made,) in con.execute(
        f"SELECT changes_made FROM {METADATA}.ducklake_snapshot_changes WHERE snapshot_id > ? AND snapshot_id <= ?",
        [since, upto],
    ).fetchall():
        for item in (made or "").split(","):
            kind, _, ref = item.partition(":")
            if kind.startswith("compacted") or not ref.isdigit():
                continue
            out.add(names.get(int(ref), f"table {ref}"))
    return out


def changes(con: duckdb.DuckDBPyConnection, org_id: str, since: int, upto: int) -> Figures:
    """The differences between snapshot `since` (exclusive) and `upto` (inclusive)."""
    f = Figures()
    if upto <= since:
        return f
    # the watermark's successor must still exist, or maintenance has expired the history in between
    if not con.execute(f"SELECT 1 FROM {METADATA}.ducklake_snapshot WHERE snapshot_id = ?", [since + 1]).fetchone():
        raise SnapshotGone(f"snapshot {since + 1} was expired")
    touched = tables_changed(con, since, upto)
    lo = since + 1

    def read(table: str, select: str) -> list[tuple]:  # type: ignore[type-arg]
        return _changes(con, table, select, org_id, lo, upto) if table in touched else []

    objects = read("objects", "coalesce(sum(stored_size), 0), coalesce(sum(stored_size) FILTER (kind = 'export'), 0)")
    for sign, n, stored, export in objects:
        f.object_bytes += sign * int(stored)
        f.export_bytes += sign * int(export)
        f.objects += sign * int(n)
        f.rows_read += int(n)
    for sign, n, _ in read("messages", "count(message_key)"):
        f.messages += sign * int(n)
        f.rows_read += int(n)
    for sign, n, size in read("mailbox_items", "coalesce(sum(size), 0)"):
        f.copies += sign * int(n)
        f.raw_bytes += sign * int(size)
        f.rows_read += int(n)
    return f


def lake_bytes(con: duckdb.DuckDBPyConnection, org_id: str) -> int:
    """Bytes of the organization's live Parquet data files, the `usage` table's excepted."""
    row = con.execute(
        f"""SELECT coalesce(sum(df.file_size_bytes), 0) FROM {METADATA}.ducklake_data_file df
            JOIN {METADATA}.ducklake_file_partition_value pv USING (data_file_id)
            WHERE df.end_snapshot IS NULL AND pv.partition_value = ?
              AND df.table_id NOT IN (SELECT table_id FROM {METADATA}.ducklake_table
                                      WHERE table_name = 'usage' AND end_snapshot IS NULL)""",
        [org_id],
    ).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class UsageRow:
    org_id: str
    measured_at: datetime
    storage_bytes: int
    storage_quota_bytes: int
    users: int
    mailboxes: int
    messages: int
    copies: int
    raw_bytes: int


def write_usage(con: duckdb.DuckDBPyConnection, rows: list[UsageRow]) -> None:
    """Append rows to the catalogue's `usage` table in one commit (call inside a commit lane)."""
    if not rows:
        return
    con.register("_usage_rows", pa.Table.from_pylist([asdict(r) for r in rows]))
    try:
        con.execute(f"INSERT INTO {ALIAS}.usage BY NAME SELECT * FROM _usage_rows")
    finally:
        con.unregister("_usage_rows")


def usage_history(con: duckdb.DuckDBPyConnection, org_id: str, since: datetime, bucket_minutes: int = 15) -> list[UsageRow]:
    """The organization's metered figures since `since`, oldest first: the last measurement of each
    bucket of `bucket_minutes` (a chart of a year needs a row a day, not 35,000)."""
    cols = ("storage_bytes", "storage_quota_bytes", "users", "mailboxes", "messages", "copies", "raw_bytes")
    last = ", ".join(f"max_by({c}, measured_at)" for c in cols)
    rows = con.execute(
        f"SELECT org_id, max(measured_at) AS last_at, {last} FROM {ALIAS}.usage WHERE org_id = ? AND measured_at >= ? "
        f"GROUP BY org_id, time_bucket(to_minutes(?), measured_at) ORDER BY last_at",
        [org_id, since, int(bucket_minutes)],
    ).fetchall()
    return [UsageRow(*r) for r in rows]
