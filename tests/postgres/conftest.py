"""A real PostgreSQL server for the session; every test gets fresh databases for the control
plane and the DuckLake catalog, and the mailark home of the root conftest points at them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from mailark.config.settings import Settings, reset_settings_cache
from tests.peers.postgres import PostgresServer, find_bindir, start_postgres


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    if find_bindir() is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb/postgres under /usr/lib/postgresql/*/bin): "
            "run scripts/install-test-deps.sh as root, or apt-get install postgresql"
        )
    # Installed but not starting is a failure, not a skip: start_postgres raises with the log.
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dbs(pg_server: PostgresServer) -> Iterator[tuple[str, str | None]]:
    """Names of two fresh databases: (control plane, DuckLake catalog), dropped afterwards. A
    module that needs no catalog on PostgreSQL overrides this with (name, None): a database
    costs ~0.1 s to create."""
    tag = uuid.uuid4().hex[:10]
    names = pg_server.create_database(f"control_{tag}"), pg_server.create_database(f"lake_{tag}")
    yield names
    for n in names:
        pg_server.drop_database(n)


@pytest.fixture
def home(
    home: Settings, pg_server: PostgresServer, pg_dbs: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The root `home`, with the control plane and the catalog on PostgreSQL (objects stay local)."""
    control_db, lake_db = pg_dbs
    monkeypatch.setenv("MAILARK_CONTROL_URL", pg_server.url(control_db))
    if lake_db is not None:
        monkeypatch.setenv("MAILARK_LAKE_CATALOG", "postgres:" + pg_server.libpq(lake_db))
    reset_settings_cache()
    return Settings()
