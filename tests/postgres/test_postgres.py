"""The at-scale configuration: control plane and DuckLake catalog on a real PostgreSQL server.

The server is started once per session (tests/peers/postgres.py); each test gets two fresh
databases (see conftest.py). Objects and Parquet files stay in the local object store.
test_control_suite.py runs all of tests/control on PostgreSQL as well.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect, select

from mailark.catalog.lanes import advisory_key
from mailark.control.db import make_engine, migrate, open_control
from mailark.config.settings import Settings

MAILARK = str(Path(sys.executable).parent / "mailark")


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in tests/control: production argon2 parameters cost ~0.1 s a hash by design."""
    from argon2 import PasswordHasher

    from mailark.control import auth as control_auth

    monkeypatch.setattr(control_auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    control_auth._dummy_hash.cache_clear()


def pg(home: Settings, which: str) -> psycopg.Connection:
    """A plain psycopg connection to the control (`which="control"`) or catalog database."""
    if which == "control":
        url = make_engine(home.resolved_control_url).url
        return psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True)
    return psycopg.connect(home.resolved_lake_catalog.removeprefix("postgres:"), autocommit=True)


# ---- (1) the control plane ------------------------------------------------------------------


def test_control_plane_migrates_and_works_on_postgres(home, rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control import identity as idn
    from mailark.control import mailboxes as mbx
    from mailark.control.models import Mailbox, Organization, User
    from mailark.control.orgs import Conflict, LimitExceeded, create_org, ensure_mailbox, get_org
    from mailark.control.principals import user_principal

    assert home.resolved_control_url.startswith("postgresql+psycopg://")
    with rt.session() as s:
        created = create_org(s, "acme", rt.master_key, users=2, storage_gb=10, mailboxes_per_user=1)
    # The schema is PostgreSQL's, at Alembic's head; nothing went to a SQLite file.
    with pg(home, "control") as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"organizations", "mailboxes", "alembic_version"} <= tables
        (rev,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    from alembic.script import ScriptDirectory

    from mailark.control.db import _alembic_config

    assert rev == ScriptDirectory.from_config(_alembic_config(home.resolved_control_url)).get_current_head()
    assert not (home.db_dir / "control.sqlite").exists()
    # Opening again is cheap and changes nothing.
    open_control(home.resolved_control_url)

    with pytest.raises(Conflict), rt.session() as s:
        create_org(s, "acme", rt.master_key)
    with rt.session() as s:
        admin = user_principal(s.scalar(select(User).where(User.login == created.admin_login)))
        mb, new = ensure_mailbox(s, get_org(s, "acme"), "Ann@ACME")
        assert new and mb.primary_address == "ann@acme"
    with rt.session() as s:
        again, new = ensure_mailbox(s, get_org(s, "acme"), "ann@acme")
        assert not new and again.id == mb.id
        idn.create_user(s, admin, "acme", "u1@acme")
    # The licence (2 users, 1 mailbox each) is checked in the writing transaction.
    with pytest.raises(LimitExceeded, match="licensed users"), rt.session() as s:
        idn.create_user(s, admin, "acme", "u2@acme")
    with rt.session() as s:  # the second of 2 mailboxes
        mbx.create_mailbox(s, admin, "acme", "info@acme", kind="shared")
    with pytest.raises(LimitExceeded, match="mailbox"), rt.session() as s:
        mbx.create_mailbox(s, admin, "acme", "sales@acme", kind="shared")
    with rt.control() as s:
        assert s.scalar(select(Organization.name)) == "acme"
        assert sorted(s.scalars(select(Mailbox.primary_address))) == ["ann@acme", "info@acme"]


def test_processes_opening_a_fresh_database_at_once_migrate_once(home, pg_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = pg_server.url(pg_server.create_database("fresh_control"))
    go = tmp_path / "go"
    # Processes, not threads (Alembic's `context` is global to a process); each waits for `go`
    # after its imports, so the migrations overlap.
    code = (
        "import os, sys, time; from control.db import make_engine, migrate; e = make_engine(sys.argv[1])\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.005)\n"
        "migrate(e)"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, url, str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(4)]
    time.sleep(1.5)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert "organizations" in inspect(make_engine(url)).get_table_names()
    # A URL without a driver gets psycopg 3, not SQLAlchemy's default psycopg2.
    assert make_engine(url.replace("postgresql+psycopg://", "postgresql://")).dialect.driver == "psycopg"


# ---- (2) the archive core with both on PostgreSQL -------------------------------------------


def test_import_reimport_export_stats_on_postgres(home, rt, org, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog.export import export_zip
    from mailark.catalog.lake import analyst_script, location
    from mailark.catalog.stats import org_stats
    from mailark.sources.files.importing import run_import
    from mailark.sources.files import iter_source

    src = corpus / "cpython-test_email"
    first = run_import(rt, "acme", "a@acme", [src])
    c = first.counts
    assert c.archived > 30 and c.seen == c.archived + c.duplicates + c.quarantined + c.deferred
    again = run_import(rt, "acme", "a@acme", [src]).counts
    assert again.archived == 0 and again.quarantined == 0 and again.duplicates == again.seen == c.seen

    # The catalog lives in PostgreSQL: DuckLake's tables, its snapshots, our tables registered.
    assert not (home.db_dir / "lake.sqlite").exists()
    with pg(home, "lake") as conn:
        names = {r[0] for r in conn.execute("SELECT table_name FROM ducklake_table WHERE end_snapshot IS NULL")}
        assert {"messages", "mailbox_items", "objects", "ingest_ledger"} <= names
        assert conn.execute("SELECT count(*) FROM ducklake_data_file").fetchone()[0] > 0
    ledger = rt.lake.execute("SELECT sum(seen), sum(archived) FROM lake.ingest_ledger WHERE org_id = ?", [org.id]).fetchone()
    assert ledger == (2 * c.seen, c.archived)

    st = org_stats(rt.archive_for(org))
    assert st["copies"] == c.archived and st["messages"] > 0 and st["quarantined"] == c.quarantined
    assert st["catalogue_bytes"] > 0  # org_lake_bytes reads DuckLake's metadata in PostgreSQL
    assert st["stored_bytes"] >= st["object_bytes"] > 0

    out = tmp_path / "pg.zip"
    res = export_zip(rt.archive_for(org), out)
    assert (res.messages, res.quarantined) == (c.archived, c.quarantined)
    originals = {m.raw for m in iter_source(src)}
    with zipfile.ZipFile(out) as z:
        manifest = list(csv.DictReader(io.StringIO(z.read("manifest.csv").decode())))
        emls = {n: z.read(n) for n in z.namelist() if n.endswith(".eml")}
    assert len(emls) == c.archived
    by_path = {r["path"]: r for r in manifest}
    for name, data in emls.items():  # byte-exact: each is a source file, and its SHA-256 as received
        assert data in originals, name
        assert hashlib.sha256(data).hexdigest() == by_path[name]["sha256"]

    # Analysts attach the same catalog read-only with the postgres scanner.
    script = analyst_script(location(home, rt.store))
    assert "postgres_scanner" in script and "ducklake:postgres:" in script
    import duckdb

    analyst = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    try:
        analyst.execute(script)
        assert analyst.execute("SELECT count(*) FROM mailbox_items").fetchone()[0] == c.archived
    finally:
        analyst.close()


# ---- (3) two importing processes, one organization: the advisory-lock lane ------------------


def _watch_lane(conninfo: str, key: int, stop: threading.Event, seen: dict[str, int]) -> None:
    """Count how often the organization's advisory lock is held, and waited for."""
    classid, objid = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while not stop.is_set():
            for (granted,) in conn.execute(
                "SELECT granted FROM pg_locks WHERE locktype = 'advisory' AND classid::bigint = %s "
                "AND objid::bigint = %s AND objsubid = 1",
                [classid, objid],
            ):
                seen["held" if granted else "waited"] += 1
            time.sleep(0.005)


def test_two_imports_at_once_archive_each_copy_once(home, rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.files.importing import run_import

    src = corpus / "cpython-test_email"
    env = {**os.environ, "MAILARK_BATCH_MESSAGES": "5"}
    conninfo = home.resolved_lake_catalog.removeprefix("postgres:")
    seen = {"held": 0, "waited": 0}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_lane, args=(conninfo, advisory_key(org.id), stop, seen), daemon=True)
    watcher.start()
    # One process takes the files in order, the other backwards: they meet in the middle, so
    # both archive some copies and find the other's as duplicates within the same batches.
    files = sorted(str(p) for p in src.iterdir())
    procs = [
        subprocess.Popen([MAILARK, "import", *order, "--folder", "Inbox", "--org", "acme", "--mailbox", "a@acme", "--json"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for order in (files, files[::-1])
    ]
    docs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            docs.append(json.loads(out))
    finally:
        stop.set()
        watcher.join(5)
        for p in procs:
            if p.poll() is None:
                p.kill()

    rt.close()  # a fresh attach sees both processes' commits
    total, distinct = rt.lake.execute(
        "SELECT count(*), count(DISTINCT (mailbox_id, folder, copy_sha256)) FROM lake.mailbox_items WHERE org_id = ?",
        [org.id],
    ).fetchone()
    assert total == distinct
    assert docs[0]["archived"] + docs[1]["archived"] == distinct
    for d in docs:
        assert d["seen"] == d["archived"] + d["duplicates"] + d["quarantined"] + d["deferred"]
    msgs = rt.lake.execute("SELECT count(*), count(DISTINCT message_key) FROM lake.messages WHERE org_id = ?", [org.id]).fetchone()
    assert msgs[0] == msgs[1]
    q = rt.lake.execute("SELECT count(*), count(DISTINCT (mailbox_id, folder, copy_sha256)) FROM lake.quarantine").fetchone()
    assert q[0] == q[1]
    # The same as one undisturbed import into a fresh organization of the same catalog.
    from mailark.control.orgs import create_org

    with rt.session() as s:
        create_org(s, "reference", rt.master_key)
    assert run_import(rt, "reference", "a@reference", [src], folder="Inbox").counts.archived == distinct
    # The lane was PostgreSQL's advisory lock, held and contended; no file lock was taken.
    assert seen["held"] > 0, f"the organization's advisory lock was never seen held: {seen}"
    assert not (home.db_dir / "locks" / f"{org.id}.lock").exists()


def test_two_organizations_commit_side_by_side(home, rt, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    """Per-organization lanes let two organizations commit to one catalog at the same time."""
    from mailark.control.orgs import create_org

    src = corpus / "cpython-test_email"
    with rt.session() as s:
        ids = {name: create_org(s, name, rt.master_key).org.id for name in ("acme", "globex")}
    env = {**os.environ, "MAILARK_BATCH_MESSAGES": "3"}
    procs = {
        name: subprocess.Popen([MAILARK, "import", str(src), "--org", name, "--mailbox", f"a@{name}", "--json"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ids
    }
    docs = {}
    try:
        for name, p in procs.items():
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            docs[name] = json.loads(out)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    rt.close()
    for name, org_id in ids.items():
        d = docs[name]
        assert d["duplicates"] == 0 and d["archived"] > 30, d
        total, distinct = rt.lake.execute(
            "SELECT count(*), count(DISTINCT (mailbox_id, folder, copy_sha256)) FROM lake.mailbox_items WHERE org_id = ?",
            [org_id],
        ).fetchone()
        assert total == distinct == d["archived"]
        seen = rt.lake.execute("SELECT sum(seen) FROM lake.ingest_ledger WHERE org_id = ?", [org_id]).fetchone()[0]
        assert seen == d["seen"]


def test_upgrade_from_0001_and_downgrade_keep_rows_on_postgres(home, pg_server) -> None:  # type: ignore[no-untyped-def]
    """tests/control/test_migration.py on PostgreSQL: no SQLite table rebuilds to lean on here."""
    from alembic import command
    from sqlalchemy import text

    from mailark.control.db import _alembic_config
    from tests.control.test_migration import assert_upgrade_from_0001_keeps_rows

    url = pg_server.url(pg_server.create_database("from_0001"))
    assert_upgrade_from_0001_keeps_rows(url)
    engine = make_engine(url)
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with engine.connect() as conn:
        counts = [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in ("organizations", "mailboxes", "mailbox_addresses")]
    assert counts == [1, 13, 13]
    migrate(engine)
    engine.dispose()
