"""Mail source profiles over HTTP: Admin only, credentials write-only, tenants apart, tests audited."""

from __future__ import annotations

from tests.dashboards.conftest import Server, add_user, client


def test_admin_manages_sources_and_never_reads_credentials_back(server: Server, make_tenant, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    base = f"/api/orgs/{t.name}/sources"
    with client(server, t.token) as c:
        r = c.post(base, json={"kind": "imap", "name": "bad", "config": {"host": "imap.example", "port": 993}})
        assert r.status_code == 400 and "username" in r.json()["error"]
        config = {"host": "127.0.0.1", "port": 9, "security": "plain", "username": "ann",
                  "mailbox": f"ann@{t.name}", "timeout": 5}
        r = c.post(base, json={"kind": "imap", "name": "office", "config": config,
                               "secret": {"password": "s3cret-pw"}, "interval_seconds": 300})
        assert r.status_code == 201, r.text
        assert r.json()["has_secret"] is True and "s3cret" not in r.text
        assert [s["name"] for s in c.get(base).json()] == ["office"]
        r = c.patch(f"{base}/office", json={"enabled": False, "interval_seconds": 600})
        assert (r.json()["enabled"], r.json()["interval_seconds"]) == (False, 600)
        assert c.post(base, json={"kind": "pop3", "name": "x"}).status_code == 400
        assert c.post(base, json={"kind": "imap", "name": "office", "config": config}).status_code == 409
        r = c.post(f"{base}/office/test")
        # Nothing listens on port 9: a verdict in words, never a crash or the password.
        assert r.status_code == 200 and r.json()["ok"] is False and "s3cret" not in r.text
        assert "127.0.0.1" in r.json()["message"]
        assert c.delete(f"{base}/office").status_code == 200
        assert c.get(f"{base}/office").status_code == 404
    with client(server, operator_token) as c:
        audit = c.get(f"/api/orgs/{t.name}/audit").json()
    actions = [e["action"] for e in audit]
    assert {"source.create", "source.update", "source.test", "source.remove"} <= set(actions)
    assert "s3cret" not in str(audit)


def test_sources_are_for_admins_of_their_own_organization(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t, other = make_tenant(), make_tenant()
    with client(server, t.token) as c:
        assert c.post(f"/api/orgs/{t.name}/sources", json={"kind": "journal", "name": "j",
                                                                   "config": {"allow_networks": ["127.0.0.0/8"]}}).status_code == 201
    _, reader = add_user(server, t, "rita", roles=["Reader"])
    with client(server, reader) as c:
        assert c.get(f"/api/orgs/{t.name}/sources").status_code == 403
    with client(server, other.token) as c:
        assert c.get(f"/api/orgs/{t.name}/sources").status_code == 404
        assert c.get(f"/api/orgs/{t.name}/sources/j").status_code == 404


def test_journal_and_import_addresses_through_the_api(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t, other = make_tenant(users=3, mailboxes_per_user=3), make_tenant()
    base = f"/api/orgs/{t.name}/sources"
    with client(server, t.token) as c:
        r = c.post(base, json={"kind": "journal", "name": "journal", "config": {"auth_required": True}})
        assert r.status_code == 201, r.text
        journal = r.json()
        assert journal["config"]["address"] == f"journal@{t.name}.journal.localhost"
        assert journal["generated_password"] and journal["has_secret"]
        assert c.get(f"{base}/journal").json()["generated_password"] is None  # shown once
        assert c.get(f"/api/orgs/{t.name}/mailboxes/journal@{t.name}.journal.localhost").json()["kind"] == "journal"
        r = c.post(base, json={"kind": "smtp-import", "name": "migration", "config": {"mailbox": f"old@{t.name}"}})
        assert r.status_code == 201 and r.json()["config"]["folder"] == "Imported" and r.json()["generated_password"]
        assert c.post(base, json={"kind": "smtp-import", "name": "x"}).status_code == 400
    with client(server, other.token) as c:  # an address is the deployment's: nobody else may take it
        r = c.post(f"/api/orgs/{other.name}/sources", json={"kind": "journal", "name": "j",
                                                           "config": {"address": journal["config"]["address"]}})
        assert r.status_code == 409
