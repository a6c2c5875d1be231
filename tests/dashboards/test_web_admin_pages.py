"""Admin and Compliance pages over plain HTTP: mailboxes, aliases, readers, groups and roles, sources
with "test connection", deleting a message with a reason; refusals shown; other roles refused."""

from __future__ import annotations

from tests.dashboards.conftest import Server, add_user, client
from tests.dashboards.test_reading_api import _archive
from tests.dashboards.web_helpers import form_token, page_client
from tests.search.mails import message


def test_admin_manages_mailboxes_aliases_readers_groups_and_roles(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("adm")
    rita, _ = add_user(server, t, "rita", roles=["Reader"])
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/mailboxes")
        r = c.post(f"/o/{t.name}/admin/mailbox-add", data={"csrf": token, "address": f"sales@{t.name}", "kind": "shared"})
        assert r.status_code == 303 and "done=" in r.headers["location"]
        r = c.post(f"/o/{t.name}/admin/alias-add", data={"csrf": token, "mailbox": f"sales@{t.name}",
                                                        "alias": f"vertrieb@{t.name}"})
        assert r.status_code == 303
        r = c.post(f"/o/{t.name}/admin/grant", data={"csrf": token, "mailbox": f"sales@{t.name}", "who": f"user {rita}"})
        assert r.status_code == 303
        page = c.get(f"/o/{t.name}/mailboxes").text
        assert f"vertrieb@{t.name}" in page and f"user {rita}" in page
        r = c.post(f"/o/{t.name}/admin/domain-add", data={"csrf": token, "name": f"{t.name}-mail.example"})
        assert r.status_code == 303, r.text
        assert f"{t.name}-mail.example" in c.get(f"/o/{t.name}/mailboxes").text.split('id="domain-list"')[1]
        r = c.post(f"/o/{t.name}/admin/mailbox-add", data={"csrf": token, "address": f"sales@{t.name}", "kind": "shared"})
        assert r.status_code == 200 and 'id="refused"' in r.text  # exists already: shown, not a crash
        r = c.post(f"/o/{t.name}/admin/mailbox-add", data={"csrf": "forged", "address": f"x@{t.name}"})
        assert r.status_code == 403

        r = c.post(f"/o/{t.name}/admin/group-add", data={"csrf": token, "name": "legal"})
        assert r.status_code == 303
        assert c.post(f"/o/{t.name}/admin/member-add", data={"csrf": token, "group": "legal", "login": rita}).status_code == 303
        assert c.post(f"/o/{t.name}/admin/role-assign", data={"csrf": token, "role": "Auditor",
                                                              "target": "group legal"}).status_code == 303
        page = c.get(f"/o/{t.name}/groups").text
        assert "legal" in page and rita in page and "Auditor" in page
    with page_client(server, rita, f"pw-rita-{t.name}-long") as c:
        assert "sales@" in c.get(f"/o/{t.name}/mail").text  # the grant took effect
        for path in ("mailboxes", "groups", "sources"):
            assert c.get(f"/o/{t.name}/{path}").status_code == 403, path
        assert c.get(f"/o/{t.name}/audit").status_code == 200  # Auditor through the group
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/groups")
        assert c.post(f"/o/{t.name}/admin/role-revoke", data={"csrf": token, "role": "Auditor",
                                                              "target": "group legal"}).status_code == 303
        assert c.post(f"/o/{t.name}/admin/member-remove", data={"csrf": token, "group": "legal", "login": rita}).status_code == 303
        rows = c.get(f"/o/{t.name}/groups").text.split('id="group-list"')[1]
        assert "Auditor" not in rows and rita not in rows
        assert c.post(f"/o/{t.name}/admin/group-delete", data={"csrf": token, "group": "legal"}).status_code == 303
        assert "legal" not in c.get(f"/o/{t.name}/groups").text.split('id="group-list"')[1]
        assert c.post(f"/o/{t.name}/admin/alias-remove", data={"csrf": token, "alias": f"vertrieb@{t.name}"}).status_code == 303
        assert f"vertrieb@{t.name}" not in c.get(f"/o/{t.name}/mailboxes").text
    with page_client(server, rita, f"pw-rita-{t.name}-long") as c:
        assert c.get(f"/o/{t.name}/audit").status_code == 403  # the role went with the group


def test_sources_page_tests_a_connection_and_shows_the_last_run(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("src")
    config = {"host": "127.0.0.1", "port": 9, "security": "plain", "username": "ann", "mailbox": f"ann@{t.name}",
              "timeout": 5}
    with client(server, t.token) as c:
        assert c.post(f"/api/orgs/{t.name}/sources", json={"kind": "imap", "name": "office", "config": config,
                                                           "secret": {"password": "s3cret-pw"}}).status_code == 201
    with page_client(server, t.admin, t.password) as c:
        page = c.get(f"/o/{t.name}/sources").text
        assert "office" in page and "never" in page and "s3cret" not in page
        token = form_token(c, f"/o/{t.name}/sources")
        r = c.post(f"/o/{t.name}/sources/office/test", data={"csrf": token})
        assert r.status_code == 200 and "Connection failed" in r.text and "s3cret" not in r.text
        assert c.post(f"/o/{t.name}/sources/nosuch/test", data={"csrf": token}).status_code == 404
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, "name": "journal", "auth_required": "true"})
        assert r.status_code == 200 and 'id="added"' in r.text and "<code>" in r.text  # the password, once
        password = r.text.split("<code>")[1].split("</code>")[0]
        page = c.get(f"/o/{t.name}/sources").text
        assert "journal" in page.split('id="source-list"')[1] and password not in page
        r = c.post(f"/o/{t.name}/sources", data={"csrf": token, "name": "journal"})
        assert r.status_code in (400, 409) and 'id="refused"' in r.text


def test_compliance_deletes_a_message_with_a_reason(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("cmp")
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    cora, _ = add_user(server, t, "cora", roles=["Compliance"])
    ids = _archive(server, t.name, rita, [message(1, subject="To be erased"), message(2, subject="Stays")])
    with page_client(server, rita, f"pw-rita-{t.name}-long") as c:
        page = c.get(f"/o/{t.name}/m/{ids[0]}").text
        assert "Delete for good" not in page
        token = form_token(c, f"/o/{t.name}/m/{ids[0]}")
        assert c.post(f"/o/{t.name}/m/{ids[0]}/delete", data={"csrf": token, "reason": "x"}).status_code == 403
    with page_client(server, cora, f"pw-cora-{t.name}-long") as c:
        token = form_token(c, f"/o/{t.name}/m/{ids[0]}")
        assert "Delete for good" in c.get(f"/o/{t.name}/m/{ids[0]}").text
        r = c.post(f"/o/{t.name}/m/{ids[0]}/delete", data={"csrf": token, "reason": " "})
        assert r.status_code == 400 and "reason" in r.text
        r = c.post(f"/o/{t.name}/m/{ids[0]}/delete", data={"csrf": token, "reason": "GDPR erasure 2026-7"})
        assert r.status_code == 303 and r.headers["location"].endswith("deleted=1")
        assert c.get(f"/o/{t.name}/m/{ids[0]}").status_code == 404
        assert c.get(f"/o/{t.name}/m/{ids[1]}").status_code == 200


def test_admin_disables_resets_and_deletes_users(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("usr")
    uma, _ = add_user(server, t, "uma", roles=["Reader"])
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/users")
        r = c.post(f"/o/{t.name}/admin/user-active", data={"csrf": token, "login": uma, "kind": "disable"})
        assert r.status_code == 303
        with page_client(server) as other:
            assert other.post("/login", data={"login": uma, "password": f"pw-uma-{t.name}-long"}).status_code == 401
        r = c.post(f"/o/{t.name}/admin/user-password-reset", data={"csrf": token, "login": uma})
        assert r.status_code == 200 and 'id="reset"' in r.text and "new one-time password" in r.text
        otp = r.text.split("<code>")[1].split("</code>")[0]
        assert c.post(f"/o/{t.name}/admin/user-active", data={"csrf": token, "login": uma, "kind": "enable"}).status_code == 303
        with page_client(server) as other:
            r = other.post("/login", data={"login": uma, "password": otp})
            assert r.status_code == 303 and r.headers["location"] == "/password"
        r = c.post(f"/o/{t.name}/admin/user-delete", data={"csrf": token, "login": t.admin})
        assert r.status_code == 200 and 'id="refused"' in r.text  # never the last Admin
        assert c.post(f"/o/{t.name}/admin/user-delete", data={"csrf": token, "login": uma}).status_code == 303
        assert uma not in c.get(f"/o/{t.name}/users").text.split('id="user-list"')[1]
