"""The DuckLake catalogue: connecting DuckDB, loading the pinned extensions, attaching the lake.

DuckDB cannot download extensions on our machines, so the extensions come from the
`duckdb-extension-*` wheels pinned beside `duckdb` and are loaded from site-packages by path.
The lake is attached in ENCRYPTED mode (Parquet files are encrypted; their keys live in the
catalog, which sits in db/, the key room) with data inlining off, so no message metadata is
kept in the catalog database beyond DuckLake's column statistics.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from mailark.catalog.lanes import advisory_lane, file_lane
from mailark.catalog.schema import TABLES
from mailark.config.settings import Settings
from mailark.storage.objects import ObjectStore

ALIAS = "lake"
METADATA = f"__ducklake_metadata_{ALIAS}"
POSTGRES = "postgres:"


class LakeError(RuntimeError):
    pass


class ArrowStreamable(Protocol):
    """What exports an Arrow C stream (the Arrow PyCapsule interface), e.g. a pyarrow Table."""

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any: ...


def extension_path(name: str) -> str:
    """The path of a pinned extension inside its wheel (e.g. name="ducklake")."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise LakeError(
            f"the DuckDB extension {name!r} is not installed: pip install "
            f"'duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}'"
        )
    base = list(spec.submodule_search_locations)[0]
    found = glob.glob(f"{base}/extensions/v{duckdb.__version__}/{name}.duckdb_extension")
    if not found:
        raise LakeError(f"the DuckDB extension {name!r} does not match duckdb {duckdb.__version__}")
    return found[0]


ALL_EXTENSIONS = ("sqlite_scanner", "postgres_scanner", "httpfs", "ducklake")


def extensions_for(catalog: str) -> tuple[str, ...]:
    """The extensions a lake with this catalog needs: its catalog's scanner, httpfs, ducklake.

    Each LOAD costs 0.1-0.3 s (DuckDB checks the extension's signature over its 20-40 MB file),
    paid again by every new connection, so the scanner of the other kind of catalog is not loaded.
    httpfs is needed even for local files: DuckDB's built-in crypto is read-only without it.
    """
    scanner = "postgres_scanner" if catalog.startswith(POSTGRES) else "sqlite_scanner"
    return (scanner, "httpfs", "ducklake")


# Where a process notes which extension files a signed LOAD has verified (see `connect`).
VERIFIED_STAMP = "duckdb-extensions-verified.json"


def _file_identity(path: str) -> list[int]:
    """What changes when a file is modified or replaced: device, inode, size, mtime and ctime.

    The ctime cannot be set back by a user (only by changing the system clock), so a file with the
    same identity is the file that was verified."""
    st = os.stat(path)
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def already_verified(stamp: Path, paths: list[str]) -> bool:
    """True if a signed LOAD of each of these files succeeded before and none changed since."""
    try:
        seen = json.loads(stamp.read_text())
        return all(seen.get(p) == [duckdb.__version__, *_file_identity(p)] for p in paths)
    except (OSError, ValueError, AttributeError):
        return False


def note_verified(stamp: Path, paths: list[str], settle: float = 2.0) -> None:
    """Record that a signed LOAD of these files succeeded (written atomically; a failure only costs time).

    A file changed less than `settle` seconds ago is not recorded: a change within the same tick of
    the file system's clock would leave its identity as it was (git's "racy" files)."""
    now = time.time_ns()
    paths = [p for p in paths if now - os.stat(p).st_ctime_ns > settle * 1e9]
    if not paths:
        return
    try:
        try:
            seen = json.loads(stamp.read_text())
            seen = seen if isinstance(seen, dict) else {}
        except (OSError, ValueError):
            seen = {}
        seen.update({p: [duckdb.__version__, *_file_identity(p)] for p in paths})
        tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(seen))
        os.replace(tmp, stamp)
    except OSError:
        pass


def connect(memory_limit: str | None = None, spill_dir: Path | None = None, *,
            extensions: tuple[str, ...] = ALL_EXTENSIONS, verified_stamp: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the given pinned extensions loaded (see `extensions_for`).

    DuckDB checks an extension's signature over its whole file at every LOAD (0.37 s of CPU for
    the three a lake needs, in every process and at every connection renewal). With
    `verified_stamp` (a file in the key room), the check is made once per extension file: after a
    signed LOAD succeeded, the stamp records the file's identity (`_file_identity`), and while the
    file is unchanged it is loaded without the check. Signature checking is switched back on
    before the connection is returned, so no other LOAD on it can skip the check; whoever could
    forge the stamp can read the master key beside it, and whoever can rewrite the extension files
    in site-packages could rewrite DuckDB itself, which is loaded without any check.
    """
    paths = [extension_path(name) for name in extensions]
    trusted = verified_stamp is not None and already_verified(verified_stamp, paths)
    config: dict[str, str | bool] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                                     "allow_unsigned_extensions": trusted}
    if memory_limit:
        # DuckDB would otherwise size its buffer pool to 80 % of RAM; ingest must stay small.
        config["memory_limit"] = memory_limit
        # What does not fit is spilled (an in-memory database spills nowhere unless told), and no
        # operator keeps rows in insertion order for us: compaction of a large table needs both
        # to stay within the limit (seen: out of memory merging files at 1.2 M copies).
        config["preserve_insertion_order"] = False
        if spill_dir is not None:
            spill_dir.mkdir(parents=True, exist_ok=True)
            config["temp_directory"] = str(spill_dir)
    con = duckdb.connect(config=config)
    for path in paths:
        con.execute(f"LOAD '{path}'")
    if trusted:
        con.execute("SET allow_unsigned_extensions = false")
    elif verified_stamp is not None:
        note_verified(verified_stamp, paths)
    return con


@dataclass(frozen=True)
class LakeLocation:
    catalog: str  # "sqlite:/path" or "postgres:dbname=..."
    data_path: str  # where Parquet files go: a directory or s3://bucket/lake/

    @property
    def sqlite_path(self) -> Path | None:
        return Path(self.catalog[len("sqlite:") :]) if self.catalog.startswith("sqlite:") else None

    def attach_sql(self, read_only: bool = False) -> str:
        # The catalog remembers the absolute data path it was made with; a home moved or restored
        # elsewhere must read and write where its files are now (issue 18), so the current path wins.
        here = [f"DATA_PATH '{self.data_path}'", "OVERRIDE_DATA_PATH TRUE"]
        if read_only:
            opts = ["READ_ONLY", *here]
        else:
            opts = [*here, "ENCRYPTED", "DATA_INLINING_ROW_LIMIT 0"]
            if self.sqlite_path:
                # WAL: readers never wait for the writer. The busy timeout covers the moments
                # another process's writer holds the file (writers also share one lane).
                opts += ["META_JOURNAL_MODE 'WAL'", "META_BUSY_TIMEOUT 30000"]
        return f"ATTACH 'ducklake:{self.catalog}' AS {ALIAS} ({', '.join(opts)})"


def analyst_script(loc: LakeLocation) -> str:
    """SQL that attaches the catalogue read-only in plain DuckDB, extensions loaded from this install."""
    loads = "".join(f"LOAD '{extension_path(n)}';\n" for n in extensions_for(loc.catalog))
    return loads + loc.attach_sql(read_only=True) + ";\nUSE lake;\n"


# Table functions an analyst's query may use; every other one (sqlite_scan, read_text, postgres_query,
# ...) can reach files or databases that the lake's read-only attachment does not cover.
ANALYST_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "ducklake_snapshots",
                                     "ducklake_table_info", "ducklake_table_changes", "ducklake_table_insertions",
                                     "ducklake_table_deletions"})


class QueryRefused(ValueError):
    """A query that `mailark sql` does not run, with the reason."""


def check_analyst_query(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Only SELECT statements, and only table functions that read the catalogue."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as e:
        raise QueryRefused(str(e)) from None
    if not statements:
        raise QueryRefused("no statement to run")
    for st in statements:
        if st.type != duckdb.StatementType.SELECT:
            raise QueryRefused(f"only SELECT queries run here, not {st.type.name}")
    tree = json.loads(con.execute("SELECT json_serialize_sql(?::VARCHAR)", [query]).fetchone()[0])
    if tree.get("error"):
        raise QueryRefused(str(tree.get("error_message") or "the query cannot be read"))
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TABLE_FUNCTION":
                found.append(str(node.get("function", {}).get("function_name", "")))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(tree)
    refused = sorted({f for f in found if f.lower() not in ANALYST_TABLE_FUNCTIONS})
    if refused:
        raise QueryRefused(f"table function(s) {', '.join(refused)} are not available here: query the catalogue's tables")


def lock_down(con: duckdb.DuckDBPyConnection, loc: LakeLocation) -> None:
    """After the lake is attached read-only: no other file, extension or database can be reached, and
    no setting changed back. `mailark sql` runs an operator's query, which must not read the key
    room (`read_text('db/master.key')`), write files (`COPY ... TO`) or attach the catalog writable."""
    con.execute("SET allowed_directories = ?", [[loc.data_path]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def location(settings: Settings, store: ObjectStore) -> LakeLocation:
    return LakeLocation(settings.resolved_lake_catalog, store.data_path() + "lake/")


def _s3_secret(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    s3 = settings.s3
    con.execute(
        "CREATE OR REPLACE SECRET mailark_s3 (TYPE s3, KEY_ID ?, SECRET ?, ENDPOINT ?, URL_STYLE 'path', USE_SSL ?, REGION ?)",
        [s3.access_key, s3.secret_key.get_secret_value(), s3.endpoint, s3.secure, s3.region or "us-east-1"],
    )


def open_lake(settings: Settings, store: ObjectStore, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the lake attached as `lake`, its tables created if missing."""
    loc = location(settings, store)
    if loc.data_path.startswith("/"):
        Path(loc.data_path).mkdir(parents=True, exist_ok=True)
    # Spilled blocks hold catalogue rows: they belong in the key room (db/), never beside the objects.
    con = connect(settings.lake_memory_limit, settings.db_dir / "tmp" / "duckdb", extensions=extensions_for(loc.catalog),
                  verified_stamp=settings.db_dir / VERIFIED_STAMP)
    if settings.object_store == "s3":
        _s3_secret(con, settings)
    if loc.sqlite_path:
        loc.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    with catalog_lane(settings):
        try:
            _attach(con, loc, read_only)
        except duckdb.Error as e:
            raise LakeError(f"cannot open the catalogue at {loc.catalog}: {e}") from e
        if not read_only:
            ensure_schema(con)
            _remember(con, loc)
    return con


def reattach(con: duckdb.DuckDBPyConnection, loc: LakeLocation) -> None:
    """Attach the lake afresh, dropping what this connection cached of the catalog.

    A DuckLake connection caches the catalog's snapshot and id counters; when another process
    commits in between, the next commit of this connection can reuse ids and be lost (seen with
    two importing processes on one SQLite catalog: one batch's commit returned but never
    appeared). Re-attaching inside the commit lane, where no one else writes, leaves nothing
    stale; it costs 20-50 ms of CPU (the next query loads the catalog again), so the lane skips it
    when nothing changed (`_unchanged`).
    """
    con.execute(f"DETACH {ALIAS}")
    _attach(con, loc)


# DuckDB variables on the connection: the catalog file it attached, and the catalog's latest
# snapshot as the connection last left the lane.
_ATTACHED = "mailark_catalog_file"
_SEEN = "mailark_catalog_seen"


def _attach(con: duckdb.DuckDBPyConnection, loc: LakeLocation, read_only: bool = False) -> None:
    """ATTACH, noting which catalog file the connection opened (an attached connection keeps
    reading that file even when another is put in its place, as a restore would)."""
    con.execute(loc.attach_sql(read_only))
    # read after the ATTACH, which creates a new catalog's file
    con.execute(f"SET VARIABLE {_ATTACHED} = ?", [_catalog_file(loc)])
    con.execute(f"RESET VARIABLE {_SEEN}")


def _catalog_file(loc: LakeLocation) -> str | None:
    """Which file is at the SQLite catalog's path now (device and inode; `_file_identity`'s first two)."""
    if loc.sqlite_path is None:
        return None
    try:
        return ":".join(map(str, _file_identity(str(loc.sqlite_path))[:2]))
    except OSError:
        return None


def _latest(con: duckdb.DuckDBPyConnection, loc: LakeLocation) -> tuple[str | None, object]:
    """The catalog's latest snapshot now, if this connection still has the file at the catalog's
    path attached, and the one the connection noted (`_remember`).

    Only a SQLite catalog answers: every writer on it shares one lane, so inside the lane its
    latest snapshot is the last one any connection made. With PostgreSQL each organization has a
    lane of its own and the snapshots of others interleave; its connections always re-attach."""
    here = _catalog_file(loc)
    if here is None:
        return None, None
    try:
        row = con.execute(
            f"SELECT snapshot_id, snapshot_time::VARCHAR, getvariable('{_SEEN}'), getvariable('{_ATTACHED}') "
            f"FROM {METADATA}.ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1"
        ).fetchone()
    except duckdb.Error:
        return None, None
    if row is None or row[3] != here:
        return None, None
    return f"{row[0]}:{row[1]}", row[2]


def _unchanged(con: duckdb.DuckDBPyConnection, loc: LakeLocation) -> bool:
    """True if no one committed to the catalog since this connection last left the lane."""
    now, seen = _latest(con, loc)
    return now is not None and now == seen


def _remember(con: duckdb.DuckDBPyConnection, loc: LakeLocation) -> None:
    """Note the catalog as this connection leaves it (inside the lane: no one else has written)."""
    now, _ = _latest(con, loc)
    if now is not None:
        con.execute(f"SET VARIABLE {_SEEN} = ?", [now])


def _forget(con: duckdb.DuckDBPyConnection) -> None:
    """After a failure inside the lane, what this connection holds is not trusted: re-attach next time."""
    try:
        con.execute(f"RESET VARIABLE {_SEEN}")
    except duckdb.Error:  # a transaction left aborted refuses every statement until it is rolled back
        try:
            con.execute("ROLLBACK")
            con.execute(f"RESET VARIABLE {_SEEN}")
        except duckdb.Error:
            pass


@contextmanager
def catalog_lane(
    settings: Settings, org_id: str | None = None, con: duckdb.DuckDBPyConnection | None = None, store: ObjectStore | None = None
) -> Iterator[None]:
    """The commit lane: per organization with a PostgreSQL catalog, one for all with SQLite.

    SQLite: a file lock in db/locks (one machine). PostgreSQL: a session advisory lock keyed by
    the organization (`catalog.lanes.advisory_key`; "catalog" for schema changes), so writers on
    any machine that reaches the catalog share the lane.

    With `con` (and its `store`), the lake is re-attached on entry so the commit starts from the
    catalog as it is now (see `reattach`), unless the catalog is as this connection left it.
    """
    catalog = settings.resolved_lake_catalog
    if catalog.startswith(POSTGRES):
        # Writers on many machines: a PostgreSQL advisory lock on the catalog's own server.
        lane = advisory_lane(catalog[len(POSTGRES) :], org_id or "catalog")
    else:
        key = org_id if org_id and not catalog.startswith("sqlite:") else "catalog"
        lane = file_lane(settings.db_dir / "locks", key)
    with lane:
        if con is None or store is None:
            yield
            return
        loc = location(settings, store)
        if not _unchanged(con, loc):
            reattach(con, loc)
        try:
            yield
        except BaseException:
            _forget(con)
            raise
        _remember(con, loc)


@contextmanager
def one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB on one thread for the duration: for the small statements of an ingest batch (a
    dozen, each a few ms) a second thread only adds its wake-ups, 15-20 ms of CPU per batch
    (BENCHMARKS.md, "Session 11"). Large queries (compaction, metering, exports) keep every core."""
    (threads,) = con.execute("SELECT current_setting('threads')").fetchone() or (1,)
    if int(threads) <= 1:
        yield
        return
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}")


@contextmanager
def scanned_once(con: duckdb.DuckDBPyConnection, name: str, table: ArrowStreamable) -> Iterator[None]:
    """`table` (a pyarrow Table) visible as `name` to the one statement that reads it.

    It is handed over as an Arrow C stream: a registered pyarrow Table makes DuckDB import
    `pyarrow.dataset` (0.04 s of every ingest process) to scan it, the stream needs nothing. A
    stream reads once: a statement that scans `name` twice, or a second statement, fails with
    "already been consumed" (never with fewer rows)."""
    con.register(name, table.__arrow_c_stream__())
    try:
        yield
    finally:
        con.unregister(name)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """Create missing tables; True if any was created.

    The names are read from DuckLake's own metadata (1-2 ms): `duckdb_tables()` loads every
    table's definition from the catalog first (0.1 s of CPU in every process that opens the lake)."""
    existing = {r[0] for r in con.execute(
        f"""SELECT t.table_name FROM {METADATA}.ducklake_table t JOIN {METADATA}.ducklake_schema s USING (schema_id)
            WHERE t.end_snapshot IS NULL AND s.end_snapshot IS NULL AND s.schema_name = 'main'"""
    ).fetchall()}
    missing = [t for t in TABLES if t not in existing]
    if not missing:
        return False
    con.execute("BEGIN")
    for t in missing:
        con.execute(f"CREATE TABLE IF NOT EXISTS {ALIAS}.{t} ({TABLES[t]})")
        # One organization's rows live in files of their own: metering and deletion per tenant.
        con.execute(f"ALTER TABLE {ALIAS}.{t} SET PARTITIONED BY (org_id)")
    con.execute("COMMIT")
    return True


def org_lake_bytes(con: duckdb.DuckDBPyConnection, org_id: str) -> int:
    """Bytes of the organization's live Parquet files (data and delete files)."""
    row = con.execute(
        f"""SELECT coalesce(sum(df.file_size_bytes), 0) FROM {METADATA}.ducklake_data_file df
            JOIN {METADATA}.ducklake_file_partition_value pv USING (data_file_id)
            WHERE df.end_snapshot IS NULL AND pv.partition_value = ?""",
        [org_id],
    ).fetchone()
    return int(row[0]) if row else 0
