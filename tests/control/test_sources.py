"""Source profiles: admin-only, secrets encrypted and never shown, runs recorded, cursors kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mailark.control import sources
from mailark.control.audit import list_events
from mailark.control.models import SourceProfile
from mailark.control.orgs import Conflict, ControlError, Forbidden, NotFound
from mailark.control.principals import Principal
from tests.control.conftest import make_tenant


def test_profile_lifecycle_keeps_secret_encrypted(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        v = sources.create_source(s, tenant.admin, "acme", "imap", "office", {"host": "imap.example"},
                                  {"password": "hunter2-secret"}, rt.master_key, interval_seconds=300)
    assert v.has_secret and "password" not in str(v.as_dict())
    with rt.session() as s:
        p = s.scalar(select(SourceProfile).where(SourceProfile.id == v.id))
        assert b"hunter2-secret" not in p.secret
        assert sources.source_secret(p, rt.master_key) == {"password": "hunter2-secret"}
        events = [e for e in list_events(s, Principal.deployment_operator(), None) if e.action.startswith("source.")]
        assert [e.action for e in events] == ["source.create"]
        assert "hunter2" not in str(events[0])
    with rt.session() as s, pytest.raises(Conflict):
        sources.create_source(s, tenant.admin, "acme", "imap", "office", {}, None, rt.master_key)
    with rt.session() as s:
        sources.update_source(s, tenant.admin, "acme", "office", rt.master_key, enabled=False)
        assert sources.due_sources(s, "imap") == []
        sources.remove_source(s, tenant.admin, "acme", "office")
        with pytest.raises(NotFound):
            sources.get_source(s, tenant.admin, "acme", "office")


def test_refusals(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    other = make_tenant(rt, "globex")
    with rt.session() as s, pytest.raises(NotFound):
        sources.create_source(s, other.admin, "acme", "imap", "x", {}, None, rt.master_key)
    with rt.session() as s, pytest.raises(ControlError, match="unknown source kind"):
        sources.create_source(s, tenant.admin, "acme", "pop3", "x", {}, None, rt.master_key)
    with rt.session() as s, pytest.raises(ControlError, match="at most every"):
        sources.create_source(s, tenant.admin, "acme", "imap", "x", {}, None, rt.master_key, interval_seconds=5)
    reader = Principal("user", "nobody", "reader@acme", org_id=tenant.org.id)
    with rt.session() as s, pytest.raises(Forbidden):
        sources.list_sources(s, reader, "acme")


def test_runs_schedule_and_cursors(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        v = sources.create_source(s, tenant.admin, "acme", "graph", "m365", {"tenant": "t"}, None, rt.master_key,
                                  interval_seconds=600)
        [p] = sources.due_sources(s, "graph")
        now = datetime.now(UTC)
        sources.finish_run(s, p, "paused", paused_reason="storage full", counts={"deferred": 3}, now=now)
        sources.set_cursor(s, p.id, "user:1/inbox", {"delta": "https://x/delta?token=1"})
        sources.set_cursor(s, p.id, "user:1/inbox", {"delta": "https://x/delta?token=2"})
        assert sources.due_sources(s, "graph", now) == []
        assert len(sources.due_sources(s, "graph", now + timedelta(seconds=601))) == 1
        assert sources.get_cursors(s, p.id) == {"user:1/inbox": {"delta": "https://x/delta?token=2"}}
        got = sources.get_source(s, tenant.admin, "acme", "m365")
        assert (got.last_status, got.paused_reason, got.last_counts) == ("paused", "storage full", {"deferred": 3})
        sources.finish_run(s, p, "ok", now=now)
        assert sources.get_source(s, tenant.admin, "acme", "m365").paused_reason is None
        assert v.id == p.id


def test_removing_a_domain_removes_its_sources(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.identity import add_domain, remove_domain

    with rt.session() as s:
        add_domain(s, tenant.admin, "acme", "acme.example", "global")
        sources.create_source(s, tenant.admin, "acme", "imap", "imap-example", {}, None, rt.master_key,
                              domain="acme.example")
        sources.create_source(s, tenant.admin, "acme", "imap", "imap-other", {}, None, rt.master_key)
        with pytest.raises(NotFound, match="no domain"):
            sources.create_source(s, tenant.admin, "acme", "imap", "x", {}, None, rt.master_key, domain="nope.example")
        remove_domain(s, tenant.admin, "acme", "acme.example")
        assert [v.name for v in sources.list_sources(s, tenant.admin, "acme")] == ["imap-other"]
    other = make_tenant(rt, "globex")
    with rt.session() as s:  # another organization may take the domain, without the old sources
        add_domain(s, other.admin, "globex", "acme.example", "global")
        assert sources.list_sources(s, other.admin, "globex") == []


def test_removing_a_domain_disables_the_sources_that_fill_its_mailboxes(rt, tenant, run_cli) -> None:  # type: ignore[no-untyped-def]
    """Issue 14, section 5: a domain that moves to another organization is not archived into the old one."""
    import json

    from mailark.control.identity import add_domain
    from mailark.control.mailboxes import create_mailbox

    with rt.session() as s:
        add_domain(s, tenant.admin, "acme", "moving.example", "global")
        create_mailbox(s, tenant.admin, "acme", "sales@moving.example", kind="shared")
        create_mailbox(s, tenant.admin, "acme", "info@acme", kind="shared")
        sources.create_source(s, tenant.admin, "acme", "imap", "sales-imap", {"mailbox": "sales@moving.example"}, None,
                              rt.master_key)
        sources.create_source(s, tenant.admin, "acme", "imap", "info-imap", {"mailbox": "info@acme"}, None, rt.master_key)
    r = run_cli("domain", "remove", "moving.example", "--org", "acme", "--json")
    assert json.loads(r.stdout)["sources_disabled"] == ["sales-imap"]
    with rt.session() as s:
        state = {v.name: v.enabled for v in sources.list_sources(s, tenant.admin, "acme")}
        assert state == {"sales-imap": False, "info-imap": True}
        assert sources.due_sources(s, "imap", datetime.now(UTC) + timedelta(days=1)) == [
            sources.profile_by_id(s, sources.get_source(s, tenant.admin, "acme", "info-imap").id)]
        [ev] = [e for e in list_events(s, Principal.deployment_operator(), "acme") if e.action == "domain.remove"]
        assert ev.details["sources_disabled"] == ["sales-imap"]
