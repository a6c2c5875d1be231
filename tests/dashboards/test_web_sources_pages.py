"""The Sources pages over plain HTTP against real peers: an IMAP source on Dovecot (one mailbox and
the whole server through the master user), a Microsoft 365 source and directory on the local Graph
server, an LDAP directory on OpenLDAP, SMTP import and journal addresses; edit, disable, remove
after a confirmation; refusals keep what was typed but never a secret; Readers, other tenants and
forged forms are refused; everything is in the audit log; German labels."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from mailark.config.settings import reset_settings_cache
from tests.dashboards.conftest import Server, add_user, client
from tests.dashboards.web_helpers import form_token, page_client
from tests.directory.conftest import BASE, Directory, ldap_server  # noqa: F401 - the fixture is used here
from tests.peers.dovecot import MASTER_PASSWORD, MASTER_USER, DovecotServer
from tests.peers.graph_server import GraphServer, Tenant
from tests.peers.openldap import SYNC_DN, SYNC_PW
from tests.sources.imap.conftest import dovecot, new_user  # noqa: F401 - the fixture is used here

TEMPLATES = Path(__file__).parents[2] / "dashboards" / "web" / "templates"
MINE = ("sources.html", "source_fields.html", "source_edit.html", "directory_edit.html", "remove_confirm.html")


def audit_actions(server: Server, org: str) -> list[tuple[str, str, str]]:
    """(action, target, outcome) of the organization's audit events, oldest first."""
    from mailark.control.models import AuditEvent, Organization

    with server.rt.session() as s:
        org_id = s.scalar(select(Organization.id).where(Organization.name == org))
        return [(e.action, e.target, e.outcome) for e in
                s.scalars(select(AuditEvent).where(AuditEvent.org_id == org_id).order_by(AuditEvent.seq))]


def imap_form(d: DovecotServer, user: str, org: str, **kw: str) -> dict[str, str]:
    return {"form": "imap-account", "name": "office", "host": "127.0.0.1", "port": str(d.imaps_port), "security": "ssl",
            "verify_cert": "true", "ca_pem": d.cert.read_text(), "username": user, "password": d.users[user],
            "mailbox": f"ann@{org}", "include": "INBOX\nWork/*", "exclude": "Trash", "interval_seconds": "900"} | kw


@pytest.fixture
def graph(tmp_path: Path) -> Iterator[GraphServer]:
    """The local Graph with one user; the web app's Graph client trusts its CA (deployment setting)."""
    tenant = Tenant(domain="contoso.example")
    tenant.add_user("adele")
    server = GraphServer(tenant, tmp_path / "graph-tls").start()
    mp = pytest.MonkeyPatch()
    mp.setenv("MAILARK_GRAPH__CA_FILE", str(server.ca_file))
    mp.setenv("MAILARK_GRAPH__MAX_ATTEMPTS", "1")
    mp.setenv("MAILARK_GRAPH__TIMEOUT", "10")
    reset_settings_cache()
    try:
        yield server
    finally:
        server.stop()
        mp.undo()
        reset_settings_cache()


def test_imap_source_added_tested_edited_disabled_and_removed(server: Server, make_tenant,  # type: ignore[no-untyped-def]
                                                              dovecot: DovecotServer) -> None:  # noqa: F811
    t = make_tenant("imapp")
    user = new_user(dovecot, domain=t.name)
    good = dovecot.users[user]
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/sources")
        # refused: no archive mailbox; what was typed comes back, the password does not
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, **imap_form(dovecot, user, t.name, mailbox="")})
        assert r.status_code == 400 and 'id="refused"' in r.text and "mailbox" in r.text.split('id="refused"')[1]
        assert dovecot.cert.read_text().splitlines()[1] in r.text and good not in r.text  # the CA pasted stays
        assert '<details class="card" id="add-imap-account" open>' in r.text
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, **imap_form(dovecot, user, t.name, password="")})
        assert r.status_code == 400 and "needs the password" in r.text
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, **imap_form(dovecot, user, t.name, port="nine")})
        assert r.status_code == 400 and "whole number" in r.text and good not in r.text

        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, **imap_form(dovecot, user, t.name)})
        assert r.status_code == 200 and 'id="added"' in r.text and good not in r.text
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, **imap_form(dovecot, user, t.name)})
        assert r.status_code == 409 and "already has a source named" in r.text and good not in r.text
        with client(server, t.token) as api:
            stored = api.get(f"/api/orgs/{t.name}/sources/office").json()
        assert stored["config"]["include"] == ["INBOX", "Work/*"] and stored["config"]["exclude"] == ["Trash"]
        assert stored["config"]["port"] == dovecot.imaps_port and stored["has_secret"]

        r = c.post(f"/o/{t.name}/sources/office/test", data={"csrf": token})
        probe = r.text.split('id="probe"')[1].split("</div>")[0]
        assert "Connection works" in probe and f"logged in as {user}" in probe

        # the edit page: stored settings shown, the password field empty
        page = c.get(f"/o/{t.name}/sources/office").text
        assert f'value="{user}"' in page and "Work/*" in page and good not in page
        edit = imap_form(dovecot, user, t.name, password="not-the-password")
        edit.pop("form"), edit.pop("name")
        r = c.post(f"/o/{t.name}/sources/office/edit", data={"csrf": token, **edit})
        assert r.status_code == 303 and "saved" in r.headers["location"]
        r = c.post(f"/o/{t.name}/sources/office/test", data={"csrf": token})
        assert "Connection failed" in r.text and "not-the-password" not in r.text
        # a refused edit keeps what was typed; an empty password keeps the stored one
        r = c.post(f"/o/{t.name}/sources/office/edit", data={"csrf": token, **edit, "port": "99999", "password": good})
        assert r.status_code == 400 and 'id="refused"' in r.text and "port" in r.text and good not in r.text
        assert 'value="99999"' in r.text
        r = c.post(f"/o/{t.name}/sources/office/edit", data={"csrf": token, **edit, "password": good})
        assert r.status_code == 303
        r = c.post(f"/o/{t.name}/sources/office/edit", data={"csrf": token, **edit, "password": "", "exclude": "Junk"})
        assert r.status_code == 303
        assert "Connection works" in c.post(f"/o/{t.name}/sources/office/test", data={"csrf": token}).text

        r = c.post(f"/o/{t.name}/sources/office/enabled", data={"csrf": token})
        assert r.status_code == 303 and "disabled" in r.headers["location"]
        row = c.get(f"/o/{t.name}/sources").text.split('data-source="office"')[1].split("</tr>")[0]
        assert "disabled" in row and ">Enable<" in row
        assert c.post(f"/o/{t.name}/sources/office/enabled", data={"csrf": token, "enabled": "true"}).status_code == 303

        r = c.post(f"/o/{t.name}/sources/office/remove", data={"csrf": token})
        assert r.status_code == 200 and "Remove the mail source office?" in r.text and "stays archived" in r.text
        assert 'data-source="office"' in c.get(f"/o/{t.name}/sources").text  # asking removed nothing
        r = c.post(f"/o/{t.name}/sources/office/remove", data={"csrf": token, "confirm": "yes"})
        assert r.status_code == 303
        assert 'data-source="office"' not in c.get(f"/o/{t.name}/sources").text
        assert c.get(f"/o/{t.name}/sources/office").status_code == 404
    events = audit_actions(server, t.name)
    assert ("source.create", "office", "ok") in events and ("source.remove", "office", "ok") in events
    assert ("source.test", "office", "ok") in events and ("source.test", "office", "failed") in events
    assert sum(1 for e in events if e[0] == "source.update") == 5  # 3 edits, disable, enable


def test_whole_imap_server_through_the_master_user(server: Server, make_tenant,  # type: ignore[no-untyped-def]
                                                   dovecot: DovecotServer) -> None:  # noqa: F811
    t = make_tenant("imaps")
    user = new_user(dovecot, domain=t.name)
    form = {"form": "imap-server", "name": "dovecot", "host": "127.0.0.1", "port": str(dovecot.imap_port),
            "security": "starttls", "ca_pem": dovecot.cert.read_text(), "verify_cert": "true", "username": MASTER_USER,
            "password": MASTER_PASSWORD, "accounts": user, "master_separator": "*"}
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/sources")
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, **form, "accounts": ""})
        assert r.status_code == 400 and "accounts" in r.text and MASTER_PASSWORD not in r.text
        assert '<details class="card" id="add-imap-server" open>' in r.text
        assert c.post(f"/o/{t.name}/sources", data={"csrf": token, **form}).status_code == 200
        r = c.post(f"/o/{t.name}/sources/dovecot/test", data={"csrf": token})
        assert "Connection works" in r.text and f"logged in as {user}*{MASTER_USER}" in r.text
        page = c.get(f"/o/{t.name}/sources/dovecot").text
        assert "Accounts to archive" in page and user in page and MASTER_PASSWORD not in page


def test_microsoft_365_source_and_directory_from_the_forms(server: Server, make_tenant,  # type: ignore[no-untyped-def]
                                                           graph: GraphServer) -> None:
    t = make_tenant("m365p", users=10)
    ten = graph.tenant
    form = {"form": "graph", "name": "m365", "tenant_id": ten.tenant_id, "client_id": ten.client_id,
            "client_secret": ten.client_secret, "authority_url": graph.base_url, "graph_url": graph.graph_url}
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/sources")
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, **form, "client_id": ""})
        assert r.status_code == 400 and "client_id" in r.text and ten.client_secret not in r.text
        assert f'value="{ten.tenant_id}"' in r.text
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, **form})
        assert r.status_code == 200 and 'id="added"' in r.text and ten.client_secret not in r.text
        r = c.post(f"/o/{t.name}/sources/m365/test", data={"csrf": token})
        assert "Connection works" in r.text and "adele@contoso.example" in r.text
        # a new secret that is wrong: the test says so, and the secret shows nowhere
        edit = {k: v for k, v in form.items() if k not in ("form", "name")} | {"client_secret": "wrong-secret-123"}
        assert c.post(f"/o/{t.name}/sources/m365/edit", data={"csrf": token, **edit}).status_code == 303
        r = c.post(f"/o/{t.name}/sources/m365/test", data={"csrf": token})
        assert "Connection failed" in r.text and "wrong-secret-123" not in r.text

        # the tenant as a directory (Entra ID)
        d = {"form": "m365", "name": "entra", "tenant_id": ten.tenant_id, "client_id": ten.client_id,
             "client_secret": ten.client_secret, "authority_url": graph.base_url, "graph_url": graph.graph_url,
             "include_shared_mailboxes": "true", "domains": "contoso.example", "role_map": "archive-admins = Admin",
             "deleted_users": "remove", "disabled_users": "keep", "deleted_groups": "remove", "interval_seconds": "3600"}
        r = c.post(f"/o/{t.name}/directory", data={"csrf": token, **d, "role_map": "archive-admins = Boss"})
        assert r.status_code == 400 and "role map" in r.text and ten.client_secret not in r.text
        assert "archive-admins = Boss" in r.text  # what was typed, to correct it
        r = c.post(f"/o/{t.name}/directory", data={"csrf": token, **d})
        assert r.status_code == 303
        r = c.post(f"/o/{t.name}/directory/entra/test", data={"csrf": token})
        assert "Connection works" in r.text and "1 users" in r.text
        page = c.get(f"/o/{t.name}/directory/entra").text
        assert "archive-admins = Admin" in page and ten.client_secret not in page
    events = audit_actions(server, t.name)
    assert ("source.create", "m365", "ok") in events and ("directory.create", "entra", "ok") in events


def test_smtp_import_and_journal_passwords_are_shown_once(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("smtpp", users=10)
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/sources")
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, "form": "smtp-import", "name": "scans", "mailbox": ""})
        assert r.status_code == 400 and "mailbox" in r.text.split('id="refused"')[1]
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, "form": "smtp-import", "name": "scans",
                                                 "mailbox": f"scans@{t.name}", "folder": "Scanner"})
        assert r.status_code == 200 and f"import-scans@{t.name}" in r.text
        password = r.text.split("<code>")[1].split("</code>")[0]
        assert len(password) >= 12
        page = c.get(f"/o/{t.name}/sources").text
        assert 'data-source="scans"' in page and password not in page
        assert password not in c.get(f"/o/{t.name}/sources/scans").text
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, "form": "journal", "name": "exchange",
                                                 "auth_required": "true"})
        assert r.status_code == 200 and "<code>" in r.text and f"journal-exchange@{t.name}" in r.text
        # a replaced SMTP password needs 12 characters; the folder of an import can change
        r = c.post(f"/o/{t.name}/sources/scans/edit", data={"csrf": token, "folder": "Scans", "password": "short"})
        assert r.status_code == 400 and "12 characters" in r.text and "short" not in r.text.split('id="refused"')[0]
        r = c.post(f"/o/{t.name}/sources/scans/edit", data={"csrf": token, "folder": "Scans",
                                                            "password": "a-long-new-smtp-password"})
        assert r.status_code == 303
        with client(server, t.token) as api:
            assert api.get(f"/api/orgs/{t.name}/sources/scans").json()["config"]["folder"] == "Scans"
        # a journal endpoint has nothing to connect to: no test button
        row = c.get(f"/o/{t.name}/sources").text.split('data-source="exchange"')[1].split("</tr>")[0]
        assert "Test connection" not in row
        # a source paused by its last run says why, in the list and on its page
        from mailark.control.models import Organization, SourceProfile
        from mailark.control.sources import finish_run

        with server.rt.session(write=True) as s:
            org_id = s.scalar(select(Organization.id).where(Organization.name == t.name))
            profile = s.scalar(select(SourceProfile).where(SourceProfile.org_id == org_id, SourceProfile.name == "scans"))
            finish_run(s, profile, "paused", paused_reason="the storage quota is full: raise it or delete mail")
        row = c.get(f"/o/{t.name}/sources").text.split('data-source="scans"')[1].split("</tr>")[0]
        assert "paused" in row and "the storage quota is full" in row
        assert "the storage quota is full" in c.get(f"/o/{t.name}/sources/scans").text
        # a source can serve one of the organization's domains (and goes with it)
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, "form": "graph", "name": "g", "tenant_id": "t",
                                                 "client_id": "c", "client_secret": "cs-secret-1",
                                                 "domain": "nosuch.example"})
        assert r.status_code == 404 and "add it first" in r.text and 'value="nosuch.example"' in r.text


def test_ldap_directory_added_edited_disabled_and_removed(server: Server, make_tenant, ldap_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    t = make_tenant("ldapp", users=10)
    dom = f"{t.name}.example"
    directory = Directory(ldap_server)
    directory.ad_user("ann", upn=f"ann@{dom}")
    srv = directory.srv
    form = {"form": "ldap", "name": "corp", "preset": "ad", "url": srv.url, "security": "starttls",
            "ca_pem": srv.ca_file.read_text(), "bind_dn": SYNC_DN, "bind_password": SYNC_PW, "base_dn": BASE,
            "domains": dom, "directory_login": "true", "role_map": "", "deleted_users": "remove",
            "disabled_users": "keep", "deleted_groups": "remove", "interval_seconds": "3600"}
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/sources")
        r = c.post(f"/o/{t.name}/directory", data={"csrf": token, **form, "url": "http://nope"})
        assert r.status_code == 400 and "not an LDAP URL" in r.text and SYNC_PW not in r.text
        assert f'value="{SYNC_DN}"' in r.text and '<details class="card" id="add-ldap" open>' in r.text
        r = c.post(f"/o/{t.name}/directory", data={"csrf": token, **form, "bind_password": ""})
        assert r.status_code == 400 and "bind password" in r.text
        assert c.post(f"/o/{t.name}/directory", data={"csrf": token, **form}).status_code == 303
        r = c.post(f"/o/{t.name}/directory/corp/test", data={"csrf": token})
        assert "Connection works" in r.text and "1 users" in r.text

        page = c.get(f"/o/{t.name}/directory/corp").text
        assert f'value="{BASE}"' in page and "(&amp;(objectClass=user)" in page and SYNC_PW not in page
        edit = {k: v for k, v in form.items() if k not in ("form", "name", "preset", "bind_password")}
        edit |= {"role_map": "archive-compliance = Compliance", "disabled_users": "remove", "user_filter": "",
                 "bind_password": "wrong-bind-pw"}
        r = c.post(f"/o/{t.name}/directory/corp/edit", data={"csrf": token, **edit, "domains": ""})
        assert r.status_code == 400 and "domains" in r.text and "wrong-bind-pw" not in r.text
        assert "archive-compliance = Compliance" in r.text
        assert c.post(f"/o/{t.name}/directory/corp/edit", data={"csrf": token, **edit}).status_code == 303
        with client(server, t.token) as api:
            cfg = api.get(f"/api/orgs/{t.name}/directory/corp").json()["config"]
        assert cfg["role_map"] == {"archive-compliance": "Compliance"} and cfg["disabled_users"] == "remove"
        assert cfg["user_filter"] == "(&(objectClass=user)(!(objectClass=computer)))"  # emptied: the preset's
        assert "Connection failed" in c.post(f"/o/{t.name}/directory/corp/test", data={"csrf": token}).text
        assert c.post(f"/o/{t.name}/directory/corp/edit", data={"csrf": token, **edit,
                                                                "bind_password": SYNC_PW}).status_code == 303
        assert "Connection works" in c.post(f"/o/{t.name}/directory/corp/test", data={"csrf": token}).text

        assert c.post(f"/o/{t.name}/directory/corp/enabled", data={"csrf": token}).status_code == 303
        row = c.get(f"/o/{t.name}/sources").text.split('data-directory="corp"')[1].split("</tr>")[0]
        assert "disabled" in row
        r = c.post(f"/o/{t.name}/directory/corp/remove", data={"csrf": token})
        assert r.status_code == 200 and "Remove the directory profile corp?" in r.text
        assert c.post(f"/o/{t.name}/directory/corp/remove", data={"csrf": token, "confirm": "yes"}).status_code == 303
        assert 'data-directory="corp"' not in c.get(f"/o/{t.name}/sources").text
    actions = [e[0] for e in audit_actions(server, t.name) if e[1] == "corp"]
    assert actions.count("directory.update") == 3 and "directory.create" in actions and "directory.remove" in actions


def test_a_guarded_directory_sync_offers_sync_anyway(server: Server, make_tenant, ldap_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """Issue 18: a sync that would remove most users stops, says so, and the page offers "Sync anyway"."""
    t = make_tenant("ldapg", users=10)
    dom = f"{t.name}.example"
    directory = Directory(ldap_server)
    for n in ("ann", "bob", "carl"):
        directory.ad_user(n, upn=f"{n}@{dom}")
    srv = directory.srv
    form = {"form": "ldap", "name": "corp", "preset": "ad", "url": srv.url, "security": "starttls",
            "ca_pem": srv.ca_file.read_text(), "bind_dn": SYNC_DN, "bind_password": SYNC_PW, "base_dn": BASE,
            "domains": dom, "directory_login": "true", "role_map": "", "deleted_users": "remove",
            "disabled_users": "keep", "deleted_groups": "remove", "interval_seconds": "3600",
            "max_removals": "10", "max_removal_percent": "10"}
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/sources")
        assert c.post(f"/o/{t.name}/directory", data={"csrf": token, **form}).status_code == 303
        assert 'id="mass-removal"' not in c.post(f"/o/{t.name}/directory/corp/sync", data={"csrf": token}).text
        for n in ("ann", "bob", "carl"):
            directory.delete(n)
        r = c.post(f"/o/{t.name}/directory/corp/sync", data={"csrf": token})
        assert "3 of 3 synced users" in r.text and 'id="mass-removal"' in r.text and "allow_mass_removal" in r.text
        r = c.post(f"/o/{t.name}/directory/corp/sync", data={"csrf": token, "allow_mass_removal": "true"})
        assert 'id="mass-removal"' not in r.text and "user.remove" in r.text
        with client(server, t.token) as api:
            assert api.get(f"/api/orgs/{t.name}/directory/corp").json()["last_status"] == "ok"


POSTS = ("sources", "sources/office/edit", "sources/office/enabled", "sources/office/remove", "sources/office/test",
         "directory", "directory/corp/edit", "directory/corp/enabled", "directory/corp/remove", "directory/corp/test",
         "directory/corp/sync")


def test_readers_outsiders_and_forged_forms_are_refused(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t, other = make_tenant("srcr"), make_tenant("srco")
    rita, _ = add_user(server, t, "rita", roles=["Reader"])
    config = {"host": "127.0.0.1", "port": 9, "security": "plain", "username": "ann", "mailbox": f"ann@{t.name}"}
    with client(server, t.token) as api:
        assert api.post(f"/api/orgs/{t.name}/sources", json={"kind": "imap", "name": "office", "config": config,
                                                             "secret": {"password": "pw-office-1"}}).status_code == 201
    form = {"form": "journal", "name": "j2", "confirm": "yes", "enabled": "true", "host": "x"}
    with page_client(server, rita, f"pw-rita-{t.name}-long") as c:
        token = form_token(c, f"/o/{t.name}/mail")
        for path in POSTS:
            r = c.post(f"/o/{t.name}/{path}", data={"csrf": token, **form})
            assert r.status_code == 403, (path, r.status_code)
        for path in ("sources", "sources/office", "directory/corp"):
            assert c.get(f"/o/{t.name}/{path}").status_code == 403
    with page_client(server, other.admin, other.password) as c:
        token = form_token(c, f"/o/{other.name}/sources")
        for path in POSTS:
            r = c.post(f"/o/{t.name}/{path}", data={"csrf": token, **form})
            assert r.status_code == 404 and "office" not in r.text, (path, r.status_code)
        assert c.get(f"/o/{t.name}/sources/office").status_code == 404
    with page_client(server, t.admin, t.password) as c:
        for path in POSTS:
            assert c.post(f"/o/{t.name}/{path}", data=form).status_code == 403, path  # no form token
            assert c.post(f"/o/{t.name}/{path}", data={**form, "csrf": "0" * 32}).status_code == 403, path
        r = c.post(f"/o/{t.name}/sources/office/remove", data=form, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403
        assert 'data-source="office"' in c.get(f"/o/{t.name}/sources").text and 'data-source="j2"' not in \
            c.get(f"/o/{t.name}/sources").text
    refused = [e for e in audit_actions(server, t.name) if e[2] != "ok"]
    assert refused, "the refusals are audited"


def test_german_labels_and_every_label_translated(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    from mailark.dashboards.web.i18n import DE

    labels = set()
    for name in MINE:
        labels |= set(re.findall(r'_\("((?:[^"\\]|\\.)*)"\)', (TEMPLATES / name).read_text()))
    assert len(labels) > 80 and sorted(labels - set(DE)) == []
    t = make_tenant("srcde")
    with page_client(server, t.admin, t.password) as c:
        page = c.get(f"/o/{t.name}/sources?lang=de").text
        for german in ("Mailquelle hinzufügen", "IMAP-Postfach", "Ganzer IMAP-Server (Master-Benutzer)",
                       "Geheimer Clientschlüssel", "Verzeichnisprofil hinzufügen", "Zu archivierende Ordner"):
            assert german in page, german
        assert "Add a mail source" not in page
        token = form_token(c, f"/o/{t.name}/sources")
        c.post(f"/o/{t.name}/sources", data={"csrf": token, "form": "journal", "name": "journal", "allow_networks": "127.0.0.0/8"})
        r = c.post(f"/o/{t.name}/sources/journal/remove", data={"csrf": token})
        assert "Die Mailquelle journal entfernen?" in r.text and "Abbrechen" in r.text


def test_directory_patch_api_takes_the_connection_and_refuses_foreign_settings(server: Server, make_tenant,  # type: ignore[no-untyped-def]
                                                                               ldap_server) -> None:  # noqa: F811
    t = make_tenant("dirapi", users=10)
    body = {"name": "corp", "preset": "ldap", "url": ldap_server.url, "security": "starttls",
            "ca_pem": ldap_server.ca_file.read_text(), "bind_dn": SYNC_DN, "bind_password": SYNC_PW, "base_dn": BASE,
            "domains": [f"{t.name}.example"]}
    with client(server, t.token) as api:
        base = f"/api/orgs/{t.name}/directory"
        assert api.post(f"{base}/ldap", json=body).status_code == 201
        r = api.patch(f"{base}/corp", json={"base_dn": f"ou=people,{BASE}", "domains": [f"{t.name}.example",
                                                                                      f"{t.name}-2.example"]})
        assert r.status_code == 200, r.text
        assert r.json()["config"]["base_dn"] == f"ou=people,{BASE}" and len(r.json()["domains"]) == 2
        r = api.patch(f"{base}/corp", json={"tenant_id": "x"})
        assert r.status_code == 400 and "not a setting of ldap profiles" in r.json()["error"]
        r = api.patch(f"{base}/corp", json={"client_secret": "x"})
        assert r.status_code == 400
        assert api.post(f"{base}/corp/test").json()["ok"]  # the secret is still the bind password


def test_journal_sender_networks_are_edited_on_its_page(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: an address open to anyone (made before the rule) is shown as such and closed on its page."""
    from mailark.control.models import Organization, SourceProfile

    t = make_tenant("jnets")
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/sources")
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, "form": "journal", "name": "mx",
                                                 "allow_networks": "192.0.2.0/24"})
        assert r.status_code == 200, r.text
        with server.rt.session(write=True) as s:  # as the migration leaves a journal address made before
            org_id = s.scalar(select(Organization.id).where(Organization.name == t.name))
            p = s.scalar(select(SourceProfile).where(SourceProfile.org_id == org_id, SourceProfile.name == "mx"))
            p.config = json.dumps({**json.loads(p.config), "allow_networks": [], "allow_any_sender": True})
        page = c.get(f"/o/{t.name}/sources/mx").text
        assert "takes mail from anyone" in page
        r = c.post(f"/o/{t.name}/sources/mx/edit", data={"csrf": token, "allow_networks": "198.51.100.0/24, 2001:db8::/32"})
        assert r.status_code == 303, r.text
        with client(server, t.token) as api:
            config = api.get(f"/api/orgs/{t.name}/sources/mx").json()["config"]
        assert config["allow_networks"] == ["198.51.100.0/24", "2001:db8::/32"] and config["allow_any_sender"] is False
        assert "takes mail from anyone" not in c.get(f"/o/{t.name}/sources/mx").text
        r = c.post(f"/o/{t.name}/sources/mx/edit", data={"csrf": token, "allow_networks": ""})
        assert r.status_code == 400 and "sender networks" in r.text
