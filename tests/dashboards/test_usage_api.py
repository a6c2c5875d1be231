"""Usage, history and billing over real HTTP: who may read them, and what they say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailark.operations.metering import meter_org
from tests.dashboards.conftest import Server, add_user, client
from tests.metering.conftest import add_object


def test_admin_and_auditor_read_usage_history_and_billing(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("meter", users=5, storage_gb=10)
    _, auditor = add_user(server, t, "audrey", roles=["Auditor"])
    _, reader = add_user(server, t, "rita", roles=["Reader"])
    org_id = server.rt.org(t.name).id
    with client(server, t.token) as c:
        r = c.get(f"/api/orgs/{t.name}/usage")
        assert r.status_code == 200 and r.json()["measured_at"] is None  # not metered yet
    add_object(server.rt, org_id, int(9.3 * 10**9))
    now = datetime.now(UTC)
    meter_org(server.rt, t.name, now=now - timedelta(hours=1))
    meter_org(server.rt, t.name, now=now - timedelta(minutes=1))
    meter_org(server.rt, t.name, now=now)  # the same quarter of an hour as the one before, or the next
    for token in (t.token, auditor):
        with client(server, token) as c:
            u = c.get(f"/api/orgs/{t.name}/usage").json()
            assert u["storage_used_gb"] == 10 and u["storage_quota_gb"] == 10 and u["users"] == 3
            assert u["storage_used_bytes"] > 9.3 * 10**9 and not u["archiving_paused"]
            assert [w["code"] for w in u["warnings"]] == ["storage"] and "93 % full" in u["warnings"][0]["message"]
            hist = c.get(f"/api/orgs/{t.name}/usage/history", params={"days": 1}).json()
            assert len(hist) in (2, 3) and hist[-1]["storage_bytes"] == u["storage_used_bytes"]  # one per 15 minutes
            assert len(c.get(f"/api/orgs/{t.name}/usage/history", params={"days": 30}).json()) in (1, 2)  # one per day
            bills = c.get(f"/api/orgs/{t.name}/billing").json()
            assert [(b["storage_gb"], b["licensed_users"], b["billable"], b["closed"]) for b in bills] == [(10, 5, True, False)]
    with client(server, reader) as c:
        for path in ("/usage", "/usage/history", "/billing"):
            r = c.get(f"/api/orgs/{t.name}{path}")
            assert r.status_code == 403 and "Admin or Auditor" in r.json()["error"], path
    with client(server, t.token) as c:
        assert c.get(f"/api/orgs/{t.name}/billing", params={"month": "2026-13"}).status_code == 400
        assert c.get("/api/usage").status_code == 403


def test_operator_overview_lists_only_the_organizations_served(server: Server, make_tenant, operator_token) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.auth import create_operator
    from mailark.control.principals import Principal
    from tests.dashboards.conftest import login_token

    a, b = make_tenant("ova"), make_tenant("ovb")
    with server.rt.session() as s:
        create_operator(s, Principal.deployment_operator(), f"tech-{a.name}", password="technician-pw1", orgs=[a.name])
    tech = login_token(server, f"tech-{a.name}", "technician-pw1")
    with client(server, tech) as c:
        assert [u["org"] for u in c.get("/api/usage").json()] == [a.name]
        assert c.get(f"/api/orgs/{b.name}/usage").status_code == 404
    with client(server, operator_token) as c:
        names = {u["org"] for u in c.get("/api/usage").json()}
        assert {a.name, b.name} <= names
