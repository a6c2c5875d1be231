"""Upgrading a control plane made by revision 0001 keeps its rows and fills in the new ones."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from mailark.control import audit, licensing
from mailark.control.db import _alembic_config, make_engine, migrate
from mailark.control.models import GB, Organization


def assert_upgrade_from_0001_keeps_rows(url: str) -> None:
    """Rows written by revision 0001 survive the upgrade and get domains, a licence and an audit chain.

    Shared with tests/postgres: the same check on either database.
    """
    engine = make_engine(url)
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organizations VALUES ('o1', 'old', :t, :q, 'k')"), {"t": now, "q": 12 * GB})
        for i in range(13):
            conn.execute(text("INSERT INTO mailboxes VALUES (:id, 'o1', 'user', :a, :t)"), {"id": f"m{i}", "a": f"u{i}@old", "t": now})
            conn.execute(text("INSERT INTO mailbox_addresses (org_id, mailbox_id, address, is_primary) "
                              "VALUES ('o1', :id, :a, :p)"), {"id": f"m{i}", "a": f"u{i}@old", "p": True})
    migrate(engine)
    with sessionmaker(engine)() as s:
        assert s.execute(text("SELECT count(*) FROM mailbox_addresses")).scalar() == 13
        assert [(n, bool(d)) for n, d in s.execute(text("SELECT name, is_default FROM domains"))] == [("old", True)]
        org = s.get(Organization, "o1")
        v = licensing.view(s, org)
        assert v.status == "paid" and v.storage_gb == 25 and org.storage_quota_bytes == 25 * GB
        assert v.mailbox_quota >= 13 and not org.mfa_required
        assert audit.verify_chain(s).ok
        audit.record(s, None, "test")
        assert audit.verify_chain(s).events == 1
        s.rollback()
    engine.dispose()


def test_upgrade_from_0001_keeps_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert_upgrade_from_0001_keeps_rows(f"sqlite:///{tmp_path / 'control.sqlite'}")


def test_downgrade_to_0001_keeps_rows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A table rebuild would cascade-delete mailboxes through the foreign keys: the downgrade must not."""
    import os

    from mailark.control.orgs import create_org, ensure_mailbox
    from mailark.storage.keys import MasterKey

    url = f"sqlite:///{tmp_path / 'control.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    with sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
        org, _ = create_org(s, "acme", MasterKey(os.urandom(32)))
        ensure_mailbox(s, org, "a@acme")
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with engine.connect() as conn:
        counts = [conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in ("organizations", "mailboxes", "mailbox_addresses")]
    assert counts == [1, 1, 1]
    migrate(engine)


def test_0010_audit_checkpoints_up_and_down(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0010 adds the checkpoint table (a checkpoint row fits it); going back to 0009 drops it, and up again."""
    from sqlalchemy import inspect

    url = f"sqlite:///{tmp_path / 'control.sqlite'}"
    engine = make_engine(url)
    migrate(engine)
    with sessionmaker(engine)() as s, s.begin():
        audit.record(s, None, "test")
        assert audit.verify_chain(s).ok
    with engine.connect() as conn:
        assert conn.execute(text("SELECT seq, full FROM audit_checkpoints")).all() == [(1, 1)]
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0009")
    assert "audit_checkpoints" not in inspect(engine).get_table_names()
    migrate(engine)
    assert "audit_checkpoints" in inspect(engine).get_table_names()
    engine.dispose()


def test_0011_refuses_an_address_two_profiles_claim_and_names_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: the unique endpoint address cannot be added over a hijacked deployment silently."""
    import json

    import pytest

    url = f"sqlite:///{tmp_path / 'control.sqlite'}"
    engine = make_engine(url)
    cfg = _alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010")
    now = datetime.now(UTC)
    shared = json.dumps({"address": "journal@b.journal.localhost", "mailbox": "journal@b.journal.localhost"})
    with engine.begin() as conn:
        for org in ("a", "b"):
            conn.execute(text("INSERT INTO organizations (id, name, created_at, storage_quota_bytes, active_data_key_id) "
                              "VALUES (:i, :i, :t, 1, 'k')"), {"i": org, "t": now})
            conn.execute(text("INSERT INTO source_profiles (id, org_id, kind, name, config, interval_seconds, enabled, "
                              "created_at) VALUES (:i, :i, 'journal', 'journal', :c, 60, 1, :t)"),
                         {"i": org, "c": shared, "t": now})
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        with pytest.raises(RuntimeError, match=r"journal@b\.journal\.localhost: a/journal \(a\), b/journal \(b\)"):
            command.upgrade(cfg, "0011")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM source_profiles WHERE id = 'a'"))
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT endpoint_address FROM source_profiles")).scalars().all() == [
            "journal@b.journal.localhost"]
        # made before sender rules, without AUTH: it keeps taking mail, marked open (and warned about)
        config = json.loads(conn.execute(text("SELECT config FROM source_profiles")).scalar_one())
        assert config["allow_any_sender"] is True
