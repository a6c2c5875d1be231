"""A catalogue connection loads only the DuckDB extensions its configuration needs: each LOAD costs
0.1-0.3 s (DuckDB checks the extension's signature), paid again at every connection renewal."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from mailark.catalog.lake import (
    ALIAS,
    VERIFIED_STAMP,
    already_verified,
    analyst_script,
    connect,
    extension_path,
    extensions_for,
    location,
    note_verified,
)


def loaded(con) -> set[str]:  # type: ignore[no-untyped-def]
    return {r[0] for r in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}


def test_a_sqlite_catalogue_does_not_load_the_postgresql_scanner(rt) -> None:  # type: ignore[no-untyped-def]
    assert rt.settings.resolved_lake_catalog.startswith("sqlite:")
    ext = loaded(rt.lake)
    assert {"sqlite_scanner", "httpfs", "ducklake"} <= ext
    assert "postgres_scanner" not in ext
    # and the lake works: its tables are there and can be written (encrypted Parquet needs httpfs)
    rt.lake.execute(f"SELECT count(*) FROM {ALIAS}.mailbox_items").fetchone()


def test_each_kind_of_catalogue_names_its_own_scanner(rt) -> None:  # type: ignore[no-untyped-def]
    assert extensions_for("postgres:dbname=lake host=db") == ("postgres_scanner", "httpfs", "ducklake")
    assert extensions_for("sqlite:/srv/mailark/db/lake.sqlite") == ("sqlite_scanner", "httpfs", "ducklake")
    script = analyst_script(location(rt.settings, rt.store))
    assert "sqlite_scanner" in script and "postgres_scanner" not in script


def test_an_extension_file_is_verified_once_until_it_changes(rt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """DuckDB's signature check reads the whole file at every LOAD (0.37 s a process for three
    extensions): a file whose signed LOAD succeeded is trusted until it is modified or replaced."""
    stamp = rt.settings.db_dir / VERIFIED_STAMP
    names = extensions_for(rt.settings.resolved_lake_catalog)
    paths = [extension_path(n) for n in names]
    rt.lake.execute("SELECT 1")
    assert already_verified(stamp, paths)

    copy = tmp_path / "httpfs.duckdb_extension"
    shutil.copy(extension_path("httpfs"), copy)
    note_verified(stamp, [str(copy)])
    assert not already_verified(stamp, [str(copy)]), "a file changed a moment ago is not recorded (racy)"
    note_verified(stamp, [str(copy)], settle=0)
    assert already_verified(stamp, [str(copy)])
    with copy.open("ab") as f:
        f.write(b"\0")
    assert not already_verified(stamp, [str(copy)]), "a modified file must be checked again"
    note_verified(stamp, [str(copy)], settle=0)
    replacement = tmp_path / "other"
    shutil.copy(copy, replacement)
    os.replace(replacement, copy)
    assert not already_verified(stamp, [str(copy)]), "a replaced file must be checked again"
    assert already_verified(stamp, paths)


def test_a_connection_that_skipped_the_check_checks_every_other_load(rt, tmp_path) -> None:  # type: ignore[no-untyped-def]
    stamp = rt.settings.db_dir / VERIFIED_STAMP
    names = extensions_for(rt.settings.resolved_lake_catalog)
    rt.lake.execute("SELECT 1")
    assert already_verified(stamp, [extension_path(n) for n in names])
    con = connect(extensions=("httpfs", "ducklake"), verified_stamp=stamp)
    assert {"httpfs", "ducklake"} <= loaded(con)
    assert con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone()[0] is False
    tampered = tmp_path / "sqlite_scanner.duckdb_extension"
    data = bytearray(Path(extension_path("sqlite_scanner")).read_bytes())
    data[4096] ^= 1
    tampered.write_bytes(bytes(data))
    with pytest.raises(duckdb.Error, match="signature"):
        con.execute(f"LOAD '{tampered}'")


def test_opening_the_lake_creates_missing_tables_only(rt) -> None:  # type: ignore[no-untyped-def]
    """`ensure_schema` reads table names from DuckLake's metadata: a dropped table comes back, the
    others are left alone."""
    from mailark.catalog.lake import ensure_schema
    from mailark.catalog.schema import TABLES

    con = rt.lake
    assert not ensure_schema(con)
    con.execute(f"DROP TABLE {ALIAS}.ingest_ledger")
    assert ensure_schema(con)
    names = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [ALIAS]).fetchall()}
    assert set(TABLES) <= names
    assert not ensure_schema(con)
