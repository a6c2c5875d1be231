"""What admins, readers, compliance officers, auditors and operators can and cannot do, over HTTP."""

from __future__ import annotations

from tests.dashboards.conftest import Server, add_user, client


def test_operator_creates_org_with_licence_and_changes_it(server: Server, operator_token: str) -> None:
    from tests.dashboards.conftest import unique

    name = unique("lic")
    with client(server, operator_token) as c:
        r = c.post("/api/orgs", json={"name": name, "users": 3, "storage_gb": 25, "mailboxes_per_user": 1})
        assert r.status_code == 201 and r.json()["admin_login"] == f"admin@{name}" and r.json()["admin_password"]
        lic = c.get(f"/api/orgs/{name}/licence").json()
        assert (lic["status"], lic["licensed_users"], lic["users"], lic["storage_gb"]) == ("paid", 3, 1, 25)
        r = c.patch(f"/api/orgs/{name}/licence", json={"users": 10, "storage_gb": 50})
        assert r.status_code == 200 and r.json()["licensed_users"] == 10 and r.json()["mailbox_quota"] == 10
        r = c.patch(f"/api/orgs/{name}/licence", json={"storage_gb": 11})
        assert r.status_code == 400 and "not a tier" in r.json()["error"]
        assert c.post("/api/orgs", json={"name": name}).status_code == 409
        r = c.post("/api/orgs", json={"name": "Bad.Name"})
        assert r.status_code == 400 and "invalid organization name" in r.json()["error"]


def test_admin_cannot_change_own_licence_nor_create_orgs(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    with client(server, t.token) as c:
        assert c.get(f"/api/orgs/{t.name}/licence").status_code == 200
        r = c.patch(f"/api/orgs/{t.name}/licence", json={"users": 1000})
        assert r.status_code == 403 and "MSP operator" in r.json()["error"]
        assert c.post(f"/api/orgs/{t.name}/licence/renew").status_code == 403
        assert c.post("/api/orgs", json={"name": "mine"}).status_code == 403


def test_adding_a_user_or_mailbox_beyond_the_licence_is_refused_clearly(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(users=2, storage_gb=10, mailboxes_per_user=1)
    add_user(server, t, "bob", with_mailbox=True)
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/users", json={"login": f"carl@{t.name}", "password": "long-enough-pw"})
        assert r.status_code == 409
        assert "uses all 2 licensed users" in r.json()["error"] and "raise the licence" in r.json()["error"]
        assert c.post(f"/api/orgs/{t.name}/mailboxes", json={"address": f"shared@{t.name}", "kind": "shared"}).status_code == 201
        r = c.post(f"/api/orgs/{t.name}/mailboxes", json={"address": f"more@{t.name}", "kind": "shared"})
        assert r.status_code == 409 and "archive mailboxes its licence allows" in r.json()["error"]
        codes = {w["code"] for w in c.get(f"/api/orgs/{t.name}/warnings").json()}
        assert codes == {"users", "mailboxes"}
        server.used_bytes[t.name] = 9_500_000_000
        codes = {w["code"]: w["message"] for w in c.get(f"/api/orgs/{t.name}/warnings").json()}
        assert "95 % full" in codes["storage"]
        assert c.delete(f"/api/orgs/{t.name}/users/bob@{t.name}").status_code == 200  # frees the licence
        assert c.post(f"/api/orgs/{t.name}/users", json={"login": f"carl@{t.name}"}).json()["one_time_password"]
        mb = c.get(f"/api/orgs/{t.name}/mailboxes/bob@{t.name}").json()
        assert mb["owner"] is None, "the mailbox outlives its user"


def test_the_last_admin_cannot_be_removed_demoted_or_disabled(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    base = f"/api/orgs/{t.name}"
    with client(server, t.token) as c:
        for r in (
            c.delete(f"{base}/users/{t.admin}"),
            c.delete(f"{base}/groups/admins/members/{t.admin}"),
            c.post(f"{base}/roles/revoke", json={"role": "Admin", "group": "admins"}),
            c.put(f"{base}/users/{t.admin}/active", json={"active": False}),
            c.delete(f"{base}/groups/admins"),
        ):
            assert r.status_code == 409 and "without an Admin" in r.json()["error"], r.text
        assert c.get(f"{base}/users/{t.admin}/roles").json()["roles"] == ["Admin"]
    second, _ = add_user(server, t, "deputy", roles=["Admin"])
    with client(server, t.token) as c:
        r = c.delete(f"{base}/groups/admins/members/{t.admin}")
        assert r.status_code == 200, r.text
        assert c.get(f"{base}/users").status_code == 403, "no longer an Admin: at once"


def test_reader_sees_only_granted_mailboxes_and_no_admin_routes(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(users=5, storage_gb=10, mailboxes_per_user=4)
    base = f"/api/orgs/{t.name}"
    rita, rita_token = add_user(server, t, "rita", with_mailbox=True)
    with client(server, t.token) as c:
        for box in ("sales", "hr", "legal"):
            assert c.post(f"{base}/mailboxes", json={"address": f"{box}@{t.name}", "kind": "shared"}).status_code == 201
        assert c.post(f"{base}/groups", json={"name": "team"}).status_code == 201
        assert c.put(f"{base}/groups/team/members/{rita}").json()["members"] == [rita]
        assert c.put(f"{base}/mailboxes/sales@{t.name}/permissions/users/{rita}").status_code == 200
        r = c.put(f"{base}/mailboxes/hr@{t.name}/permissions/groups/team")
        assert r.json()["readers"] == ["group team"]
    with client(server, rita_token) as c:
        seen = sorted(m["primary_address"] for m in c.get(f"{base}/mailboxes").json())
        assert seen == [f"hr@{t.name}", f"rita@{t.name}", f"sales@{t.name}"]
        assert c.get(f"{base}/mailboxes/legal@{t.name}").status_code == 404
        assert c.get(f"{base}/mailboxes/sales@{t.name}").status_code == 200
        for path in ("/users", "/groups", "/domains", "/licence", "/audit", f"/mailboxes/sales@{t.name}/permissions"):
            r = c.get(base + path)
            assert r.status_code == 403 and "role" in r.json()["error"], (path, r.text)
    with client(server, t.token) as c:
        assert c.delete(f"{base}/mailboxes/hr@{t.name}/permissions/groups/team").status_code == 200
    with client(server, rita_token) as c:
        assert c.get(f"{base}/mailboxes/hr@{t.name}").status_code == 404, "revoked at once"


def test_journal_mailbox_is_only_for_compliance(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    base = f"/api/orgs/{t.name}"
    reader, reader_token = add_user(server, t, "rob")
    _, comp_token = add_user(server, t, "cleo", roles=["Compliance"])
    with client(server, t.token) as c:
        assert c.post(f"{base}/mailboxes", json={"address": f"journal@{t.name}", "kind": "journal"}).status_code == 201
        r = c.put(f"{base}/mailboxes/journal@{t.name}/permissions/users/{reader}")
        assert r.status_code == 409 and "Compliance" in r.json()["error"]
    with client(server, reader_token) as c:
        assert c.get(f"{base}/mailboxes").json() == []
        assert c.get(f"{base}/mailboxes/journal@{t.name}").status_code == 404
    with client(server, comp_token) as c:
        assert [m["kind"] for m in c.get(f"{base}/mailboxes").json()] == ["journal"]
        assert c.get(f"{base}/mailboxes/journal@{t.name}").status_code == 200


def test_aliases_and_domains(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    base = f"/api/orgs/{t.name}"
    dom = f"{t.name}.example"
    with client(server, t.token) as c:
        assert c.post(f"{base}/domains", json={"name": dom, "kind": "global"}).status_code == 201
        assert {d["name"] for d in c.get(f"{base}/domains").json()} == {t.name, dom}
        assert c.post(f"{base}/mailboxes", json={"address": f"info@{dom}", "kind": "shared"}).status_code == 201
        r = c.post(f"{base}/mailboxes/info@{dom}/aliases", json={"alias": f"hello@{dom}"})
        assert r.status_code == 201 and r.json()["aliases"] == [f"hello@{dom}"]
        assert c.post(f"{base}/mailboxes/info@{dom}/aliases", json={"alias": f"hello@{dom}"}).status_code == 409
        r = c.post(f"{base}/aliases/hello@{dom}/make-primary")
        assert r.json()["primary_address"] == f"hello@{dom}" and r.json()["aliases"] == [f"info@{dom}"]
        assert c.delete(f"{base}/aliases/hello@{dom}").status_code == 409  # now the primary one
        assert c.delete(f"{base}/aliases/info@{dom}").status_code == 200
        assert c.delete(f"{base}/domains/{t.name}").status_code == 409  # the default domain stays
        assert c.delete(f"{base}/domains/{dom}").status_code == 200
        r = c.post(f"{base}/domains", json={"name": "not a domain"})
        assert r.status_code == 400 and "invalid domain" in r.json()["error"]
        r = c.post(f"{base}/users", json={"login": "x@acme-elsewhere", "unexpected": 1})
        assert r.status_code == 422 and r.json()["error"].startswith("the request is not valid")


def test_auditor_reads_the_log_and_the_chain_verdict(server: Server, make_tenant, operator_token: str) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    base = f"/api/orgs/{t.name}"
    _, aud_token = add_user(server, t, "audrey", roles=["Auditor"])
    with client(server, t.token) as c:
        assert c.get(f"{base}/audit").status_code == 403, "Admin alone does not read the audit log"
        assert c.get(f"{base}/audit/verify").status_code == 403
    with client(server, aud_token) as c:
        events = c.get(f"{base}/audit", params={"limit": 1000}).json()
        actions = [e["action"] for e in events]
        assert "org.create" in actions and "user.create" in actions and "auth.login" in actions
        assert all(e["org_id"] == events[0]["org_id"] for e in events)
        later = c.get(f"{base}/audit", params={"after": events[2]["seq"], "limit": 2}).json()
        assert [e["seq"] for e in later] == [e["seq"] for e in events[3:5]]
        v = c.get(f"{base}/audit/verify").json()
        assert {k: v.pop(k) for k in ("last_full_at", "full_is_stale")}  # the full check's time, no counts
        assert v == {"ok": True, "first_bad_seq": None, "reason": None, "events": None, "head_seq": None,
                     "head_hash": None, "full": None, "from_seq": None, "events_checked": None}
        assert c.get(f"{base}/users").status_code == 403, "no admin rights"
        assert c.get("/api/audit/verify").status_code == 403
        # Refusals are audit events themselves.
        denied = [e for e in c.get(f"{base}/audit", params={"limit": 1000}).json() if e["action"] == "request.denied"]
        assert {e["target"] for e in denied} >= {f"GET {base}/audit", f"GET {base}/users"}
        assert all(e["outcome"] == "denied" for e in denied)
    # an edited row is detected
    from sqlalchemy import text

    with server.rt.session() as s:  # (the server is shared: the row is put back afterwards)
        seq = s.execute(text("SELECT max(seq) FROM audit_events")).scalar_one() - 1
        was = s.execute(text("SELECT target FROM audit_events WHERE seq = :s"), {"s": seq}).scalar_one()
        s.execute(text("UPDATE audit_events SET target = 'tampered' WHERE seq = :s"), {"s": seq})
    try:
        with client(server, aud_token) as c:
            v = c.get(f"{base}/audit/verify").json()
            assert v["ok"] is False and v["first_bad_seq"] is not None and "changed" in v["reason"]
        with client(server, operator_token) as c:
            v = c.get("/api/audit/verify").json()
            assert v["ok"] is False and v["events"] >= 1 and len(v["head_hash"]) == 64
    finally:
        with server.rt.session() as s:
            s.execute(text("UPDATE audit_events SET target = :t WHERE seq = :s"), {"t": was, "s": seq})
    with client(server, aud_token) as c:
        assert c.get(f"{base}/audit/verify").json()["ok"] is True
