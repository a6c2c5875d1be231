"""The directory-sync routes over real HTTP against a real OpenLDAP: Admin only, secrets never returned,
dry-run plan as JSON, sync, synced users read-only through the API and logging in with their directory password."""

from __future__ import annotations

import pytest

from tests.dashboards.conftest import CSRF, Server, add_user, client
from tests.directory.conftest import BASE, Directory, ldap_server  # noqa: F401 - the fixture is used here
from tests.peers.openldap import SYNC_DN, SYNC_PW


@pytest.fixture
def directory(ldap_server) -> Directory:  # type: ignore[no-untyped-def]  # noqa: F811
    return Directory(ldap_server)


def test_directory_routes(server: Server, make_tenant, directory: Directory) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("dir", users=10, storage_gb=10)
    dom = f"{t.name}.example"
    directory.ad_user("ann", upn=f"ann@{dom}", aliases=(f"a.smith@{dom}",), password="ann-directory-pw")
    directory.ad_group("archive-compliance", ["ann"])
    srv = directory.srv
    body = {"name": "corp", "preset": "ad", "url": srv.url, "security": "starttls", "ca_pem": srv.ca_file.read_text(),
            "bind_dn": SYNC_DN, "bind_password": SYNC_PW, "base_dn": BASE, "domains": [dom],
            "role_map": {"archive-compliance": "Compliance"}}
    base = f"/api/orgs/{t.name}/directory"
    _, reader_token = add_user(server, t, "rita", roles=["Reader"])
    with client(server, reader_token) as c:  # not an Admin
        assert c.post(f"{base}/ldap", json=body).status_code == 403
    with client(server, t.token) as c:
        r = c.post(f"{base}/ldap", json=body)
        assert r.status_code == 201, r.text
        assert SYNC_PW not in r.text and r.json()["has_secret"] and r.json()["domains"] == [dom]
        assert SYNC_PW not in c.get(f"{base}/corp").text
        assert c.post(f"{base}/ldap", json=body).status_code == 409
        probe = c.post(f"{base}/corp/test").json()
        assert probe["ok"] and probe["users"] == 1 and probe["groups"] == 1

        plan = c.post(f"{base}/corp/sync", params={"dry_run": "true"}).json()
        assert plan["dry_run"] and plan["status"] == "ok"
        assert [(ch["action"], ch["target"]) for ch in plan["changes"]] == [
            ("group.create", "archive-compliance"), ("user.create", f"ann@{dom}"),
            ("member.add", "archive-compliance"), ("role.assign", "archive-compliance")]
        assert f"ann@{dom}" not in c.get(f"/api/orgs/{t.name}/users").text

        done = c.post(f"{base}/corp/sync").json()
        assert done["status"] == "ok" and done["summary"]["user.create"] == {"done": 1}
        users = {u["login"]: u for u in c.get(f"/api/orgs/{t.name}/users").json()}
        assert users[f"ann@{dom}"]["directory"] == "corp" and users[t.admin]["directory"] is None
        # Read-only through the API: a clear 409.
        r = c.put(f"/api/orgs/{t.name}/users/ann@{dom}/active", json={"active": False})
        assert r.status_code == 409 and "read-only" in r.json()["error"]
        r = c.post(f"/api/orgs/{t.name}/mailboxes/ann@{dom}/aliases", json={"alias": f"x@{dom}"})
        assert r.status_code == 409 and "directory" in r.json()["error"]
        assert c.get(f"{base}/corp").json()["last_status"] == "ok"
        r = c.patch(f"{base}/corp", json={"deleted_users": "keep", "bind_password": "a-new-password"})
        assert r.status_code == 200 and r.json()["config"]["deleted_users"] == "keep"
        failed = c.post(f"{base}/corp/sync").json()  # the new (wrong) bind password is used
        assert failed["status"] == "failed" and "wrong bind DN or password" in failed["error"]
    # The synced user logs in with the directory password (and reads her mailbox).
    with client(server) as c:
        r = c.post("/api/auth/login", json={"login": f"ann@{dom}", "password": "ann-directory-pw"}, headers=CSRF)
        assert r.status_code == 200, r.text
        assert f"ann@{dom}" in c.get(f"/api/orgs/{t.name}/mailboxes").text
        r = c.post("/api/auth/login", json={"login": f"ann@{dom}", "password": "not-her-password"}, headers=CSRF)
        assert r.status_code == 401
    with client(server, t.token) as c:
        assert c.delete(f"{base}/corp").status_code == 200
        assert c.get(base).json() == []
