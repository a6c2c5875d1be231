"""Issue 14, item 1: the provider's staff cannot read customer mail.

MSP operator accounts (API token, web pages) manage organizations but get 403/404 on every content
route of every organization unless a support grant of that organization covers it; a grant is made
and revoked by the organization's Admin, is audited, shows a notice to its Admins, and expires by
itself. The local CLI (the deployment operator) still reads everything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.dashboards.conftest import CSRF, OPERATOR_PASSWORD, Server, client
from tests.dashboards.test_isolation import CONTENT_GETS, build_request, org_operations, victim  # noqa: F401
from tests.dashboards.test_web_pages import page_client


def _content_calls(server: Server, params: dict[str, str]) -> list[tuple[str, str, dict | None]]:  # type: ignore[type-arg]
    """Every content route of the organization: the reading GETs, starting an export, deleting mail."""
    doc = httpx.get(server.url + "/openapi.json").json()
    calls = []
    for method, path, op in org_operations(doc):
        if method == "get" and path in CONTENT_GETS:
            url, _ = build_request(doc, method, path, op, params)
            calls.append(("GET", url, None))
    base = f"/api/orgs/{params['org']}"
    calls.append(("POST", f"{base}/exports", {}))
    calls.append(("POST", f"{base}/exports", {"mailboxes": [params["login"]]}))
    calls.append(("POST", f"{base}/deletions", {"reason": "operator tries to delete", "item_ids": [params["item_id"]]}))
    return calls


def _refused(c: httpx.Client, calls: list) -> list[str]:  # type: ignore[type-arg]
    return [f"{m} {u} -> {r.status_code}" for m, u, b in calls
            if (r := c.request(m, u, json=b, headers=CSRF)).status_code not in (403, 404)]


def test_operator_reads_nothing_without_a_grant_and_only_the_granted_mailbox_with_one(
        server: Server, victim, operator_token: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    b, params = victim
    org, bea, item = b.name, params["login"], params["item_id"]
    calls = _content_calls(server, params)
    assert len(calls) >= 9
    with client(server, operator_token) as op:
        assert _refused(op, calls) == [], "an operator without a grant reached content"
        # it still manages the organization
        assert op.get(f"/api/orgs/{org}/users").status_code == 200
        assert op.get(f"/api/orgs/{org}/licence").status_code == 200
        # and cannot grant itself access
        r = op.post(f"/api/orgs/{org}/support-grants", json={"operator": "msp", "mailboxes": [bea]}, headers=CSRF)
        assert r.status_code == 403, r.text

    with client(server, b.token) as admin:
        assert admin.get(f"/api/orgs/{org}").json()["support_access_active"] is False
        r = admin.post(f"/api/orgs/{org}/support-grants",
                       json={"operator": "msp", "mailboxes": [bea], "reason": "ticket 4711"})
        assert r.status_code == 201, r.text
        g = r.json()
        assert g["active"] and g["mailboxes"] == [bea]
        assert timedelta(hours=23, minutes=59) < datetime.fromisoformat(g["expires_at"]) - datetime.fromisoformat(g["created_at"]) <= timedelta(hours=24)
        assert admin.get(f"/api/orgs/{org}").json()["support_access_active"] is True
        assert admin.post(f"/api/orgs/{org}/support-grants",
                          json={"operator": "msp", "mailboxes": [bea], "hours": 169}).status_code == 422

    with client(server, operator_token) as op:
        r = op.get(f"/api/orgs/{org}/messages/{item}")
        assert r.status_code == 200, r.text
        assert op.get(f"/api/orgs/{org}/search", params={"q": ""}).status_code == 200
        # the shared mailbox is not granted; exports and deletions stay refused under a grant
        assert op.get(f"/api/orgs/{org}/archive/shared@{org}/messages").status_code == 404
        assert op.post(f"/api/orgs/{org}/exports", json={"mailboxes": [bea]}, headers=CSRF).status_code == 403
        assert op.post(f"/api/orgs/{org}/deletions", json={"reason": "operator tries", "item_ids": [item]},
                       headers=CSRF).status_code == 403
        assert g["id"] in [x["id"] for x in op.get(f"/api/orgs/{org}/support-grants", params={"active": True}).json()]
        # the audit log is management, not content: the operator (Auditor) reads it
        events = op.get(f"/api/orgs/{org}/audit").json()

    # each read under the grant is audited with the grant's id
    with client(server, b.token) as admin:
        reads = [e for e in events if e["action"] in ("content.read", "content.search") and e["actor"] == "msp"]
        assert reads and all(e["details"]["support_grants"] == [g["id"]] for e in reads), reads
        assert any(e["action"] == "support.grant" for e in events)
        # revoked: refused again at once
        assert admin.delete(f"/api/orgs/{org}/support-grants/{g['id']}").json()["active"] is False
        assert admin.get(f"/api/orgs/{org}").json()["support_access_active"] is False
    with client(server, operator_token) as op:
        assert _refused(op, calls) == []


def test_a_grant_expires_by_itself(server: Server, victim, operator_token: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from mailark.control import support
    from mailark.control.models import Organization, User
    from mailark.control.principals import user_principal
    from sqlalchemy import select

    b, params = victim
    org, bea, item = b.name, params["login"], params["item_id"]
    with server.rt.session() as s:
        admin = s.scalar(select(User).where(User.login == b.admin))
        o = s.scalar(select(Organization).where(Organization.name == org))
        # made 25 hours ago for 24 hours: it has run out by now, with nobody revoking it
        g = support.grant(s, user_principal(admin), o, "msp", [bea], now=datetime.now(UTC) - timedelta(hours=25))
        assert support.active_grants(s, o.id) == []
        assert [v.active for v in support.list_grants(s, user_principal(admin), o) if v.id == g.id] == [False]
        # one made just now is active, and is the only one the operator reads under
        live = support.grant(s, user_principal(admin), o, "msp", [bea], hours=1)
        assert [v.id for v in support.active_grants(s, o.id)] == [live.id]
        support.revoke(s, user_principal(admin), o, live.id)
        s.commit()
    with client(server, operator_token) as op:
        assert op.get(f"/api/orgs/{org}/messages/{item}").status_code == 404
        assert _refused(op, _content_calls(server, params)) == []


def test_pages_refuse_mail_to_operators_and_show_admins_the_grant_notice(
        server: Server, victim, operator_token: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    b, params = victim
    org, bea, item = b.name, params["login"], params["item_id"]
    with page_client(server, "msp", OPERATOR_PASSWORD) as c:
        assert c.get(f"/o/{org}/m/{item}").status_code == 404
        assert c.get(f"/o/{org}/mail", params={"mailbox": bea}).status_code == 404
        assert c.get(f"/o/{org}/mail", params={"q": "hello"}).status_code == 403
        assert c.get(f"/o/{org}/users").status_code == 200
    with page_client(server, b.admin, b.password) as c:
        assert "support-access-notice" not in c.get(f"/o/{org}/users").text
    with client(server, b.token) as admin:
        assert admin.post(f"/api/orgs/{org}/support-grants", json={"operator": "msp", "mailboxes": [bea]}).status_code == 201
    with page_client(server, b.admin, b.password) as c:
        page = c.get(f"/o/{org}/users").text
        assert "support-access-notice" in page and "msp" in page and bea in page
    with page_client(server, "msp", OPERATOR_PASSWORD) as c:
        assert c.get(f"/o/{org}/m/{item}").status_code == 200


def test_the_local_cli_still_reads_everything(server: Server, victim) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from mailark.control.principals import Principal
    from mailark.control.reading import readable, reads_every_mailbox

    b, _params = victim
    with server.rt.session() as s:
        o, ids = readable(s, Principal.deployment_operator(), b.name)
        assert len(ids) >= 2 and reads_every_mailbox(s, Principal.deployment_operator(), o)


def test_operator_cancels_and_resumes_on_the_licence_page(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    from tests.dashboards.web_helpers import form_token

    t = make_tenant("leave")
    with page_client(server, "msp", OPERATOR_PASSWORD) as c:
        token = form_token(c, f"/o/{t.name}/licence")
        r = c.post(f"/o/{t.name}/licence/cancel", data={"csrf": token})
        assert r.status_code == 200 and "subscription ends" in r.text and 'id="lic-resume"' in r.text
        r = c.post(f"/o/{t.name}/licence/resume", data={"csrf": token})
        assert r.status_code == 200 and 'id="lic-cancel"' in r.text
    with client(server, t.token) as admin:  # an Admin cannot cancel
        assert admin.post(f"/api/orgs/{t.name}/licence/cancel", headers=CSRF).status_code == 403
