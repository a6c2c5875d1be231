"""The control-plane database: engine, migrations, sessions.

SQLite in WAL mode by default (one file in the key room, db/), PostgreSQL at scale; the schema
is created and upgraded by Alembic on first open, so a fresh home needs no separate step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from mailark.control.revisions import MIGRATIONS, plain_head

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATION_LOCK = 0x6D61696C61726B  # "mailark": the advisory lock key of schema upgrades on PostgreSQL


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def normalize_url(url: str) -> str:
    """PostgreSQL URLs without a driver use psycopg 3 (a dependency; SQLAlchemy would pick psycopg2)."""
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:  # type: ignore[no-untyped-def]
            # Two SQLite transactions that both read, then both write, cannot both commit: one
            # fails at once ("database is locked") instead of waiting. A transaction that knows
            # it will write asks for the lock at BEGIN (execution option `immediate`, see
            # `writer`), so a second one waits its turn (seen: two imports creating one mailbox).
            # Otherwise the driver begins a deferred transaction before the first write, as always.
            if conn.get_execution_options().get("immediate"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()  # type: ignore[no-any-return]
    except SQLAlchemyError:  # a fresh database: no table yet
        return None


def migrate(engine: Engine) -> None:
    """Upgrade to the newest schema; cheap when already there.

    Every process opens the control plane, and importing Alembic and reading its scripts cost more
    than most commands themselves: when the database is at the newest revision of a plain
    chain, Alembic is not loaded at all.
    """
    head = plain_head()
    if head is not None and _current_revision(engine) == head:
        return
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(engine.url.render_as_string(hide_password=False))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.begin() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            return
        if conn.dialect.name == "postgresql":
            # Processes opening a fresh database at once migrate one after the other (SQLite's
            # write lock does this there); the lock ends with the transaction.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_control(url: str) -> sessionmaker[Session]:
    engine = make_engine(url)
    migrate(engine)
    return sessionmaker(engine, expire_on_commit=False)


def writer(sessions: sessionmaker[Session]) -> Session:
    """A session whose transaction takes SQLite's write lock at its start (PostgreSQL: no change)."""
    engine = sessions.kw["bind"]
    return sessions(bind=engine.execution_options(immediate=True))
