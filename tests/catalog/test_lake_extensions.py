"""A catalogue connection loads only the DuckDB extensions its configuration needs: each LOAD costs
0.1-0.3 s (DuckDB checks the extension's signature), paid again at every connection renewal."""

from __future__ import annotations

from mailark.catalog.lake import ALIAS, analyst_script, extensions_for, location


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
