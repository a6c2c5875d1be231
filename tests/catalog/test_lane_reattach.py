"""The commit lane re-attaches the lake only when the catalog changed since this connection left it.

Re-attaching in every lane is what keeps a connection from committing over another process's commit
(catalog.lake.reattach); skipping it when nothing changed saves 20-50 ms of CPU per batch. These
tests check both halves: no re-attach after the connection's own commits, a re-attach (and no lost
commit) after anyone else's, after a failure inside the lane, and after the catalog file was replaced.
"""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest
from ulid import ULID

from mailark.catalog import lake
from mailark.catalog.ingest import BatchWriter


@pytest.fixture
def reattached(monkeypatch: pytest.MonkeyPatch) -> list[duckdb.DuckDBPyConnection]:
    """The connections re-attached, one entry per re-attach."""
    calls: list[duckdb.DuckDBPyConnection] = []
    real = lake.reattach

    def counting(con: duckdb.DuckDBPyConnection, loc: lake.LakeLocation) -> None:
        calls.append(con)
        real(con, loc)

    monkeypatch.setattr(lake, "reattach", counting)
    return calls


def commit_one(rt, org) -> str:  # type: ignore[no-untyped-def]
    """One commit of the organization through the ingest writer (a ledger row); returns its run id."""
    run_id = str(ULID()).lower()
    BatchWriter(rt.archive_for(org), run_id, source="lane-test").record_failure("a test commit")
    return run_id


def ledger_runs(rt, org) -> list[str]:  # type: ignore[no-untyped-def]
    rows = rt.lake.execute("SELECT run_id FROM lake.ingest_ledger WHERE org_id = ? AND source = 'lane-test'", [org.id])
    return sorted(r[0] for r in rows.fetchall())


def test_the_connections_own_commits_need_no_reattach(rt, org, reattached) -> None:  # type: ignore[no-untyped-def]
    runs = [commit_one(rt, org) for _ in range(3)]
    assert [c for c in reattached if c is rt.lake] == []
    assert ledger_runs(rt, org) == sorted(runs)


def test_another_writers_commit_makes_the_next_lane_reattach_and_none_is_lost(home, rt, org, reattached) -> None:  # type: ignore[no-untyped-def]
    from mailark.runtime import open_runtime

    other = open_runtime(home)  # its own DuckDB database attaching the same catalog, as another process
    try:
        runs = []
        for _ in range(4):
            runs.append(commit_one(rt, org))
            runs.append(commit_one(other, org))
        mine = [c for c in reattached if c is rt.lake]
        theirs = [c for c in reattached if c is other.lake]
        # every lane after the other one's commit re-attached; the first lane of each found the
        # catalog as its connection left it (`rt`: its open; `other`: attached just before)
        assert len(mine) == 3 and len(theirs) == 3
    finally:
        other.close()
    rt.close()
    assert ledger_runs(rt, org) == sorted(runs)  # a fresh connection sees all eight commits


def test_a_failure_inside_the_lane_makes_the_next_lane_reattach(rt, org, reattached) -> None:  # type: ignore[no-untyped-def]
    commit_one(rt, org)
    with pytest.raises(RuntimeError), rt.commit_lane(org.id):
        raise RuntimeError("a batch failed half way")
    assert [c for c in reattached if c is rt.lake] == []
    commit_one(rt, org)
    assert len([c for c in reattached if c is rt.lake]) == 1


def test_a_transaction_left_aborted_in_the_lane_is_rolled_back_and_the_next_lane_reattaches(rt, org, reattached) -> None:  # type: ignore[no-untyped-def]
    commit_one(rt, org)
    with pytest.raises(duckdb.Error), rt.commit_lane(org.id):
        rt.lake.execute("BEGIN")
        rt.lake.execute("SELECT 'not a number'::INTEGER")  # the transaction is aborted, not rolled back
    run = commit_one(rt, org)
    assert len([c for c in reattached if c is rt.lake]) == 1
    assert run in ledger_runs(rt, org)


def test_a_catalog_file_replaced_in_place_is_attached_again(home, rt, org, reattached) -> None:  # type: ignore[no-untyped-def]
    first = commit_one(rt, org)
    catalog = home.db_dir / "lake.sqlite"
    copy = catalog.with_name("lake.sqlite.copy")
    with rt.commit_lane(org.id):  # no writer while the file is copied
        shutil.copy2(catalog, copy)
        os.replace(copy, catalog)  # the same snapshots, another file
    assert len([c for c in reattached if c is rt.lake]) == 0
    second = commit_one(rt, org)
    assert len([c for c in reattached if c is rt.lake]) == 1
    rt.close()
    assert ledger_runs(rt, org) == sorted([first, second])  # the second commit went to the file now in place


def test_a_postgresql_catalog_always_reattaches() -> None:
    con = duckdb.connect()
    loc = lake.LakeLocation("postgres:dbname=mailark host=127.0.0.1", "s3://bucket/lake/")
    assert lake._unchanged(con, loc) is False  # other organizations' lanes interleave their snapshots
