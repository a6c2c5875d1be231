"""Issue 13, critical: a journal address belongs to exactly one profile, for good.

The hijack: an Admin of organization A makes a journal profile, then PATCHes its address (or its
receiving mailbox) to organization B's journal address. That must be refused, and B's journal mail,
sent through the real SMTP endpoint, must still land in B's drops only.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest

from tests.dashboards.conftest import Server, Tenant, client


def _journal(server: Server, t: Tenant, name: str = "journal") -> dict:  # type: ignore[type-arg]
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/sources", json={"kind": "journal", "name": name, "config": {"allow_networks": ["127.0.0.0/8"]}})
        assert r.status_code == 201, r.text
        return r.json()


def _org_id(server: Server, name: str) -> str:
    return server.rt.org(name).id


def test_patching_a_journal_address_to_another_organizations_is_refused_and_its_mail_stays_there(
        server: Server, make_tenant: Callable[..., Tenant]) -> None:
    from mailark.sources.journal import drops
    from mailark.sources.journal.endpoint import JournalEndpoint

    a, b = make_tenant("hija"), make_tenant("hijb")
    mine, theirs = _journal(server, a), _journal(server, b)
    b_address = theirs["config"]["address"]
    with client(server, a.token) as c:
        for change in ({"address": b_address}, {**mine["config"], "address": b_address},
                       {**mine["config"], "mailbox": b_address}, {"address": b_address.upper()}):
            r = c.patch(f"/api/orgs/{a.name}/sources/journal", json={"config": change})
            assert r.status_code == 409, (change, r.text)
            assert "is fixed when it is created" in r.json()["error"]
            assert b.name not in r.json()["error"]  # nothing said about the other organization
        # a change that keeps the address is still allowed
        r = c.patch(f"/api/orgs/{a.name}/sources/journal", json={"config": {"auth_required": False}})
        assert r.status_code == 200 and r.json()["config"]["address"] == mine["config"]["address"], r.text
        # nor can a second profile take B's address at creation (one neutral refusal)
        r = c.post(f"/api/orgs/{a.name}/sources", json={"kind": "journal", "name": "second",
                                                         "config": {"address": b_address, "allow_any_sender": True}})
        assert r.status_code == 409 and "is not available" in r.json()["error"], r.text
        assert b.name + "." not in r.json()["error"].replace(b_address, "")  # nothing said about the other organization

    ep = JournalEndpoint(server.settings, host="127.0.0.1", port=0, runtime=server.rt)
    host, port = ep.start()
    try:
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            smtp.sendmail("sender@example.net", [b_address],
                          b"From: sender@example.net\r\nTo: x@example.net\r\nSubject: for B\r\n\r\nonly B\r\n")
    finally:
        ep.stop()
    assert len(drops.pending(server.rt.store, _org_id(server, b.name))) == 1
    assert drops.pending(server.rt.store, _org_id(server, a.name)) == []


def test_the_database_refuses_a_second_owner_of_an_address(server: Server, make_tenant: Callable[..., Tenant]) -> None:
    """Even code that skips the service's check cannot give one address to two profiles."""
    from sqlalchemy.exc import IntegrityError

    from mailark.control.models import SourceProfile

    a, b = make_tenant("dba"), make_tenant("dbb")
    _journal(server, a)
    theirs = _journal(server, b)
    with pytest.raises(IntegrityError):
        with server.rt.session() as s:
            p = s.query(SourceProfile).filter_by(org_id=_org_id(server, a.name), name="journal").one()
            p.endpoint_address = theirs["config"]["address"]
            s.flush()


def test_routes_refuse_an_address_claimed_twice(server: Server, make_tenant: Callable[..., Tenant],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A database edited by hand (index dropped) must not let the later profile win: mail is refused (451)."""
    import json

    from sqlalchemy import text

    from mailark.control.models import SourceProfile
    from mailark.sources.journal.profiles import load_routes

    a, b = make_tenant("dupa"), make_tenant("dupb")
    _journal(server, a)
    theirs = _journal(server, b)
    with server.rt.session() as s:
        s.execute(text("DROP INDEX uq_source_profiles_endpoint_address"))
        p = s.query(SourceProfile).filter_by(org_id=_org_id(server, a.name), name="journal").one()
        p.config = json.dumps({**json.loads(p.config), "address": theirs["config"]["address"]})
        p.endpoint_address = theirs["config"]["address"]
    try:
        with server.rt.session() as s:
            route = load_routes(s, server.rt.master_key, server.settings.journal.domain)[theirs["config"]["address"]]
        assert route.conflict and route.password is None
        assert "claimed by 2 profiles" in caplog.text
    finally:
        with server.rt.session() as s:
            s.query(SourceProfile).filter_by(org_id=_org_id(server, a.name), name="journal").delete()
            s.execute(text("CREATE UNIQUE INDEX uq_source_profiles_endpoint_address ON source_profiles (endpoint_address)"))
