"""Retention and legal holds over HTTP: Compliance only, held copies refused by the deletion API
(409, the case named), the shortening warning before a save, apply and report."""

from __future__ import annotations

import json

from tests.dashboards.conftest import Server, add_user, client
from tests.dashboards.test_deletions_api import _archive


def test_retention_and_holds_through_the_api(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t, other = make_tenant(), make_tenant()
    rita, rita_token = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    _, officer = add_user(server, t, "cora", roles=["Compliance"])
    items = _archive(server, t.name, rita, 3)  # dated 2024-01-01
    base = f"/api/orgs/{t.name}"
    policy = {"name": "short", "keep": "1d"}
    with client(server, t.token) as c:  # an Admin is not Compliance
        assert c.post(f"{base}/retention/policies", json=policy).status_code == 403
        assert c.post(f"{base}/holds", json={"case": "C1", "reason": "counsel asked", "mailboxes": [rita]}).status_code == 403
    with client(server, other.token) as c:
        assert c.get(f"{base}/retention/policies").status_code == 404
    with client(server, officer) as c:
        assert c.post(f"{base}/retention/policies", json={**policy, "keep": "1w"}).status_code == 400
        r = c.post(f"{base}/retention/policies", json={"name": "long", "keep": "10y"})
        assert r.status_code == 201, r.text
        assert c.post(f"{base}/retention/policies", json=policy).status_code == 201
        r = c.put(f"{base}/retention/policies/long", json={"name": "long", "keep": "1y"})
        assert r.status_code == 409 and "would shorten how long 3 archived copies" in r.json()["error"]
        r = c.put(f"{base}/retention/policies/long", json={"name": "long", "keep": "1y", "confirm": True})
        assert r.status_code == 200 and r.json()["shortened"] == 3
        r = c.post(f"{base}/holds", json={"case": "Case 7", "reason": "litigation hold", "mailboxes": [rita]})
        assert r.status_code == 201, r.text
        (h,) = c.get(f"{base}/holds").json()
        assert h["case"] == "Case 7" and h["covers"]["copies"] == 3

        r = c.post(f"{base}/deletions", json={"reason": "erasure request", "item_ids": items[:1]})
        assert r.status_code == 409 and "Case 7" in r.json()["error"]
        pv = c.get(f"{base}/retention/preview").json()
        assert pv["held"]["copies"] == 3
        r = c.post(f"{base}/retention/apply")
        assert r.status_code == 200 and (r.json()["deleted"], r.json()["held"]) == (0, 3)
        assert c.post(f"{base}/holds/Case 7/release", json={"reason": "case closed"}).status_code == 200
        assert c.post(f"{base}/retention/apply").json()["deleted"] == 3
        rep = c.get(f"{base}/retention/report").json()
        assert rep["audit_chain"]["ok"]
        assert [e["action"] for e in rep["events"]][:2] == ["retention.policy.create", "retention.policy.create"]
        assert {"hold.place", "hold.release", "content.delete", "retention.apply"} <= {e["action"] for e in rep["events"]}
        (long_,) = [p for p in rep["policies"] if p["name"] == "long"]
        assert long_["deleted"][0]["copies"] == 3 and "retention policy 'long'" in long_["deleted"][0]["reason"]
    with client(server, rita_token) as c:
        assert c.get(f"{base}/holds").status_code == 403


def test_hold_export_over_http_is_compliance_only_and_audited(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import io
    import zipfile

    t = make_tenant()
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    _, officer = add_user(server, t, "cora", roles=["Compliance"])
    _archive(server, t.name, rita, 2)
    base = f"/api/orgs/{t.name}"
    with client(server, officer) as c:
        assert c.post(f"{base}/holds", json={"case": "Case 8", "reason": "litigation hold", "mailboxes": [rita]}).status_code == 201
        assert c.post(f"{base}/holds/Case 9/export").status_code == 404
        r = c.post(f"{base}/holds/Case 8/export")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/zip"
        assert r.headers["x-mailark-zip-sha256"] == hashlib.sha256(r.content).hexdigest()
        with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
            assert len([n for n in zf.namelist() if n.endswith(".eml")]) == 2
            assert "Case 8" in zf.read("CUSTODY.txt").decode()
    _, auditor = add_user(server, t, "audra", roles=["Auditor"])
    with client(server, auditor) as c:
        events = c.get(f"{base}/audit", params={"limit": 500})
        assert events.status_code == 200, events.text
        (ev,) = [e for e in events.json() if e["action"] == "hold.export"]
        assert ev["target"] == "Case 8" and hashlib.sha256(r.content).hexdigest() in json.dumps(ev)
    with client(server, t.token) as c:  # an Admin is not Compliance
        assert c.post(f"{base}/holds/Case 8/export").status_code == 403


def test_usage_shows_what_will_expire_next_to_admins_and_auditors(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    from tests.dashboards.web_helpers import page_client

    t = make_tenant()
    rita, _ = add_user(server, t, "rita", with_mailbox=True, roles=["Reader"])
    _, officer = add_user(server, t, "cora", roles=["Compliance"])
    auditor, auditor_token = add_user(server, t, "audra", roles=["Auditor"])
    _archive(server, t.name, rita, 3)
    base = f"/api/orgs/{t.name}"
    with client(server, t.token) as c:
        assert c.get(f"{base}/usage").json()["expiring"] == []  # no policy: nothing expires
    with page_client(server, t.admin, t.password) as c:
        assert 'id="expiring-none"' in c.get(f"/o/{t.name}/usage").text
    with client(server, officer) as c:
        assert c.post(f"{base}/retention/policies", json={"name": "month", "keep": "1m", "from": "archived"}).status_code == 201
    for token in (t.token, auditor_token):
        with client(server, token) as c:
            months = c.get(f"{base}/usage").json()["expiring"]
            assert len(months) == 12 and months[0]["copies"] == 3 and months[0]["bytes"] > 0
            assert sum(m["copies"] for m in months[1:]) == 0
    with page_client(server, auditor, f"pw-audra-{t.name}-long") as c:
        page = c.get(f"/o/{t.name}/usage").text
        table = page.split('id="expiring"')[1].split("</table>")[0]
        assert table.count("<tr>") == 13 and "<td>3</td>" in table
    with page_client(server, t.admin, t.password) as c:
        assert "Was als Nächstes abläuft" in c.get(f"/o/{t.name}/usage", params={"lang": "de"}).text
