"""Logins, sessions, CSRF, throttling, TOTP and API tokens, over real HTTP."""

from __future__ import annotations

import pyotp

from tests.dashboards.conftest import CSRF, Server, add_user, client, login_token


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_it(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    with client(server) as c:
        r = c.post("/api/auth/login", json={"login": t.admin, "password": t.password}, headers=CSRF)
        assert r.status_code == 200, r.text
        assert r.json()["org"] == t.name and r.json()["via"] == "session"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "mailark_session=" in cookie
        assert c.get("/api/auth/me").json()["login"] == t.admin
        assert c.get(f"/api/orgs/{t.name}/users").status_code == 200
        assert c.post("/api/auth/logout", headers=CSRF).status_code == 200
        c.cookies.clear()
    with client(server) as c:  # the old cookie is dead on the server, not only in the browser
        c.cookies.set("mailark_session", cookie.split("mailark_session=")[1].split(";")[0])
        r = c.get("/api/auth/me")
        assert r.status_code == 401 and "log in" in r.json()["error"]


def test_cookie_writes_need_the_csrf_header_tokens_do_not(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    with client(server) as c:
        assert c.post("/api/auth/login", json={"login": t.admin, "password": t.password}).status_code == 403
        assert c.post("/api/auth/login", json={"login": t.admin, "password": t.password}, headers=CSRF).status_code == 200
        r = c.post(f"/api/orgs/{t.name}/groups", json={"name": "nocsrf"})
        assert r.status_code == 403 and "X-Requested-With" in r.json()["error"]
        assert c.post(f"/api/orgs/{t.name}/groups", json={"name": "withcsrf"}, headers=CSRF).status_code == 201
    with client(server, t.token) as c:
        assert c.post(f"/api/orgs/{t.name}/groups", json={"name": "bytoken"}).status_code == 201


def test_wrong_password_is_401_and_repeated_failures_lock_with_429(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    with client(server) as c:
        for _ in range(4):
            r = c.post("/api/auth/login", json={"login": t.admin, "password": "wrong-password!"}, headers=CSRF)
            assert r.status_code == 401, r.text
            assert r.json()["error"] == "wrong login, password or code"
        r = c.post("/api/auth/login", json={"login": t.admin, "password": "wrong-password!"}, headers=CSRF)
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60
        assert "too many failed logins" in r.json()["error"]
        r = c.post("/api/auth/login", json={"login": t.admin, "password": t.password}, headers=CSRF)
        assert r.status_code == 429, "a locked login refuses even the right password"
        # an unknown login is answered the same way (no account enumeration)
        r = c.post("/api/auth/login", json={"login": f"nobody@{t.name}", "password": "wrong-password!"}, headers=CSRF)
        assert r.status_code == 401 and r.json()["error"] == "wrong login, password or code"
    with client(server, t.token) as c:  # the failures were committed and audited despite the refusals
        c.post(f"/api/orgs/{t.name}/roles/assign", json={"role": "Auditor", "group": "admins"})
        events = c.get(f"/api/orgs/{t.name}/audit", params={"limit": 1000}).json()
        failed = [e for e in events if e["action"] == "auth.login" and e["outcome"] == "failed"]
        assert len(failed) >= 6


def test_totp_enrolment_then_required_at_login(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    login, token = add_user(server, t, "tess")
    with client(server, token) as c:
        secret = c.post("/api/auth/totp").json()["secret"]
        assert c.post("/api/auth/totp/confirm", json={"code": "000000"}).status_code == 401
        assert c.post("/api/auth/totp/confirm", json={"code": pyotp.TOTP(secret).now()}).status_code == 200
    with client(server) as c:
        r = c.post("/api/auth/login", json={"login": login, "password": f"pw-tess-{t.name}-long"}, headers=CSRF)
        assert r.status_code == 401, "without the code the password alone is not enough"
    with client(server) as c:  # the code used for confirmation works once; wait for no clock: use the next step
        code = pyotp.TOTP(secret).at(__import__("time").time() + 30)
        r = c.post("/api/auth/login", json={"login": login, "password": f"pw-tess-{t.name}-long", "totp": code},
                   headers=CSRF)
        assert r.status_code == 200, r.text


def test_org_requiring_mfa_limits_a_new_session_to_enrolment(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    login, _ = add_user(server, t, "mia", roles=["Admin"])
    with client(server, t.token) as c:
        assert c.put(f"/api/orgs/{t.name}/mfa", json={"required": True}).json()["mfa_required"] is True
    with client(server) as c:
        r = c.post("/api/auth/login", json={"login": login, "password": f"pw-mia-{t.name}-long"}, headers=CSRF)
        assert r.status_code == 200 and r.json()["totp_enrolment_required"] is True
        r = c.get(f"/api/orgs/{t.name}/users")
        assert r.status_code == 403 and "TOTP" in r.json()["error"]
        secret = c.post("/api/auth/totp", headers=CSRF).json()["secret"]
        assert c.post("/api/auth/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=CSRF).status_code == 200
        assert c.get(f"/api/orgs/{t.name}/users").status_code == 200


def test_api_tokens_are_shown_once_listed_without_secret_and_revocable(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    with client(server, t.token) as c:
        r = c.post("/api/auth/tokens", json={"name": "ci", "ttl_days": 30})
        assert r.status_code == 201 and r.json()["token"].startswith("mla_")
        new = r.json()
        listed = c.get("/api/auth/tokens").json()
        assert {x["name"] for x in listed} >= {"ci", "tests"} and all("token" not in x for x in listed)
    with client(server, new["token"]) as c:
        assert c.get("/api/auth/me").json() == {"kind": "user", "login": t.admin, "org": t.name, "orgs": None,
                                                "via": "token", "totp_enrolment_required": False}
        assert c.delete(f"/api/auth/tokens/{new['id']}").status_code == 200
        r = c.get("/api/auth/me")
        assert r.status_code == 401 and "not valid" in r.json()["error"]
    for bad in ("Bearer mla_nonsense", "Basic abc"):
        with httpx_client(server, bad) as c:
            assert c.get("/api/auth/me").status_code == 401
    assert client(server).get("/api/orgs").status_code == 401


def httpx_client(server: Server, authorization: str):  # type: ignore[no-untyped-def]
    import httpx

    return httpx.Client(base_url=server.url, headers={"Authorization": authorization})


def test_operator_logs_in_by_name_and_limited_operator_sees_only_its_orgs(server: Server, make_tenant, operator_token) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant(), make_tenant()
    with client(server, operator_token) as c:
        names = {o["name"] for o in c.get("/api/orgs").json()}
        assert {a.name, b.name} <= names
    from mailark.control.auth import create_operator
    from mailark.control.principals import Principal

    with server.rt.session() as s:
        create_operator(s, Principal.deployment_operator(), f"tech-{a.name}", password="technician-pw1", orgs=[a.name])
    tok = login_token(server, f"tech-{a.name}", "technician-pw1")
    with client(server, tok) as c:
        assert [o["name"] for o in c.get("/api/orgs").json()] == [a.name]
        assert c.get(f"/api/orgs/{a.name}/users").status_code == 200
        assert c.get(f"/api/orgs/{b.name}/users").status_code == 404
        r = c.post("/api/orgs", json={"name": "nope"})
        assert r.status_code == 403 and "every organization" in r.json()["error"]


def test_secure_cookie_by_default_and_storage_in_use_from_the_catalogue(tmp_path, cheap_argon2) -> None:  # type: ignore[no-untyped-def]
    """A server configured as in production sets Secure cookies; the default meter reads the (empty) catalogue."""
    from mailark.control.auth import create_operator
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal
    from mailark.dashboards.deps import AppContext, lake_storage_used
    from tests.dashboards.conftest import start_server

    srv = start_server(tmp_path / "home")  # secure_cookies not given: the default (Secure) applies
    try:
        with srv.rt.session() as s:
            create_operator(s, Principal.deployment_operator(), "ops", password="operator-password-2")
            org = create_org(s, "lakeorg", srv.rt.master_key).org
        with client(srv) as c:
            r = c.post("/api/auth/login", json={"login": "ops", "password": "operator-password-2"}, headers=CSRF)
            assert r.status_code == 200 and "; secure" in r.headers["set-cookie"].lower()
        assert lake_storage_used(AppContext(runtime=srv.rt, secure_cookies=True), org) == 0
    finally:
        srv.stop()


def test_a_one_time_password_only_lets_you_choose_your_own(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant()
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/users", json={"login": f"otto@{t.name}", "roles": ["Reader"]})
        assert r.status_code == 201, r.text
        one_time = r.json()["one_time_password"]
    with client(server) as c:
        r = c.post("/api/auth/login", json={"login": f"otto@{t.name}", "password": one_time}, headers=CSRF)
        assert r.status_code == 200 and r.json()["must_change_password"] is True
        assert c.get("/api/auth/me").status_code == 200
        for method, path in (("GET", f"/api/orgs/{t.name}/mailboxes"), ("POST", "/api/auth/tokens")):
            r = c.request(method, path, json={"name": "x"}, headers=CSRF)
            assert r.status_code == 403 and "one-time password" in r.json()["error"], (path, r.text)
        r = c.post("/api/auth/password", json={"old_password": one_time, "new_password": "otto-own-password"},
                   headers=CSRF)
        assert r.status_code == 200
        assert c.get(f"/api/orgs/{t.name}/mailboxes").status_code == 200
