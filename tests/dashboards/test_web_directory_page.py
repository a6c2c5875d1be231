"""The sources page against a real OpenLDAP: test the directory connection, show the plan, sync now."""

from __future__ import annotations

import pytest

from tests.dashboards.conftest import Server, client
from tests.dashboards.web_helpers import form_token, page_client
from tests.directory.conftest import BASE, Directory, ldap_server  # noqa: F401 - the fixture is used here
from tests.peers.openldap import SYNC_DN, SYNC_PW


@pytest.fixture
def directory(ldap_server) -> Directory:  # type: ignore[no-untyped-def]  # noqa: F811
    return Directory(ldap_server)


def test_directory_test_plan_and_sync_from_the_page(server: Server, make_tenant, directory: Directory) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("dirp", users=10, storage_gb=10)
    dom = f"{t.name}.example"
    directory.ad_user("ann", upn=f"ann@{dom}", password="ann-directory-pw")
    directory.ad_group("archive-compliance", ["ann"])
    srv = directory.srv
    body = {"name": "corp", "preset": "ad", "url": srv.url, "security": "starttls", "ca_pem": srv.ca_file.read_text(),
            "bind_dn": SYNC_DN, "bind_password": SYNC_PW, "base_dn": BASE, "domains": [dom],
            "role_map": {"archive-compliance": "Compliance"}}
    with client(server, t.token) as c:
        assert c.post(f"/api/orgs/{t.name}/directory/ldap", json=body).status_code == 201
    with page_client(server, t.admin, t.password) as c:
        page = c.get(f"/o/{t.name}/sources").text
        assert "corp" in page.split('id="directory-list"')[1] and SYNC_PW not in page
        token = form_token(c, f"/o/{t.name}/sources")
        r = c.post(f"/o/{t.name}/directory/corp/test", data={"csrf": token})
        assert "Connection works" in r.text and "1 users, 1 groups" in r.text
        r = c.post(f"/o/{t.name}/directory/corp/sync", data={"csrf": token, "dry_run": "true"})
        report = r.text.split('id="report"')[1]
        assert "the plan" in report and f"ann@{dom}" in report and "user.create" in report
        assert f"ann@{dom}" not in c.get(f"/o/{t.name}/users").text
        r = c.post(f"/o/{t.name}/directory/corp/sync", data={"csrf": token})
        assert "ok" in r.text.split('id="report"')[1]
        assert f"ann@{dom}" in c.get(f"/o/{t.name}/users").text
        assert "ok" in c.get(f"/o/{t.name}/sources").text.split('id="directory-list"')[1]  # the last run
