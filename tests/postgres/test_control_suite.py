"""The whole control-plane suite (tests/control/test_*.py) again, on PostgreSQL.

Every test function and fixture of those modules is gathered here, so the `home` of
tests/postgres/conftest.py (fresh PostgreSQL databases per test) is the one they get. Tests
are renamed `test_<module>__<name>` so none can hide another; a fixture name two modules
define differently is an error, not a silent pick. The catalog stays on SQLite here (the
control plane is what is under test; test_postgres.py puts both on PostgreSQL).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
import uuid
from pathlib import Path

import pytest
from _pytest.fixtures import FixtureFunctionDefinition

from tests.peers.postgres import PostgresServer

_CONTROL = Path(__file__).resolve().parents[1] / "control"
# Modules whose tests name their own SQLite URLs (test_postgres.py migrates PostgreSQL itself).
_SQLITE_ONLY = {"test_migration"}


def _gather() -> dict[str, object]:
    found: dict[str, object] = {}
    modules = sorted(p.stem for p in _CONTROL.glob("test_*.py") if p.stem not in _SQLITE_ONLY)
    for name in ["conftest", *modules]:
        mod = importlib.import_module(f"tests.control.{name}")
        for attr, obj in vars(mod).items():
            if isinstance(obj, FixtureFunctionDefinition):
                if found.setdefault(attr, obj) is not obj:
                    raise RuntimeError(f"fixture {attr!r} of tests/control/{name}.py clashes with another module's")
            elif attr.startswith("test_") and callable(obj) and getattr(obj, "__module__", None) == mod.__name__:
                found[f"test_{name.removeprefix('test_')}__{attr.removeprefix('test_')}"] = obj
    return found


globals().update(_gather())


def _tables(conn) -> list[str]:  # type: ignore[no-untyped-def]
    return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


@pytest.fixture(scope="module")
def suite_db(pg_server: PostgresServer) -> Iterator[tuple[str, dict[str, bytes]]]:
    """One control-plane database for the module, migrated once, and what the migrations put
    in it (seed rows, e.g. the audit chain's head): a fresh database per test costs ~0.3 s to
    create and migrate; emptying one and restoring the seed rows costs a few ms."""
    import psycopg

    from mailark.control.db import make_engine, migrate

    name = pg_server.create_database(f"control_suite_{uuid.uuid4().hex[:10]}")
    engine = make_engine(pg_server.url(name))
    migrate(engine)
    engine.dispose()
    seed: dict[str, bytes] = {}
    with psycopg.connect(pg_server.libpq(name), autocommit=True) as conn:
        for t in _tables(conn):
            with conn.cursor().copy(f'COPY "{t}" TO STDOUT') as copy:
                seed[t] = b"".join(bytes(chunk) for chunk in copy)
    yield name, seed
    pg_server.drop_database(name)


@pytest.fixture
def pg_dbs(pg_server: PostgresServer, suite_db: tuple[str, dict[str, bytes]]) -> Iterator[tuple[str, None]]:
    """The module's database, put back as migrated after each test: every other session on it
    is ended (a test's pooled connections), every table truncated and its seed rows restored."""
    name, seed = suite_db
    yield name, None
    import psycopg

    with psycopg.connect(pg_server.libpq(name), autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                     "AND pid <> pg_backend_pid()")
        with conn.transaction():
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in _tables(conn)) + " RESTART IDENTITY CASCADE")
            for t, data in seed.items():
                if data:
                    with conn.cursor().copy(f'COPY "{t}" FROM STDIN') as copy:
                        copy.write(data)
