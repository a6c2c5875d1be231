"""Issue 13: the password policy (12 characters, not the login, not a common password) and a password
change that ends the account's other sessions (and, when asked, its API tokens)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.dashboards.conftest import CSRF, Server, Tenant, add_user, client


def _session(server: Server, login: str, password: str):  # type: ignore[no-untyped-def]
    c = client(server)
    r = c.post("/api/auth/login", json={"login": login, "password": password}, headers=CSRF)
    assert r.status_code == 200, r.text
    return c


@pytest.mark.parametrize("bad, says", [("short-pw", "too short"), ("123qweasdzxc", "most commonly used"),
                                       ("qwerty123456", "most commonly used")])
def test_weak_passwords_are_refused(server: Server, make_tenant: Callable[..., Tenant], bad: str, says: str) -> None:
    t = make_tenant("pol")
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/users", json={"login": f"zed@{t.name}", "password": bad})
        assert r.status_code in (400, 422) and says in r.text, r.text


def test_the_login_is_not_a_password(server: Server, make_tenant: Callable[..., Tenant]) -> None:
    t = make_tenant("pol")
    login = f"averyverylongname@{t.name}"
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/users", json={"login": login, "password": login})
        assert r.status_code in (400, 422) and "must not be the login" in r.text, r.text
        r = c.post(f"/api/orgs/{t.name}/users", json={"login": login, "password": "averyverylongname"})
        assert r.status_code in (400, 422) and "must not be the login" in r.text, r.text


def test_a_password_change_ends_the_other_sessions_and_on_request_the_tokens(
        server: Server, make_tenant: Callable[..., Tenant]) -> None:
    t = make_tenant("pwc")
    login, token = add_user(server, t, "ann", with_mailbox=True)
    password = f"pw-ann-{t.name}-long"
    mine, stolen = _session(server, login, password), _session(server, login, password)
    new = "a brand new passphrase 1"
    r = mine.post("/api/auth/password", json={"old_password": password, "new_password": new}, headers=CSRF)
    assert r.status_code == 200, r.text
    assert mine.get("/api/auth/me").status_code == 200          # the session that changed it goes on
    assert stolen.get("/api/auth/me").status_code == 401        # every other session ends
    with client(server, token) as c:
        assert c.get("/api/auth/me").status_code == 200         # tokens stay unless asked
    r = mine.post("/api/auth/password", json={"old_password": new, "new_password": "another passphrase 22",
                                               "end_tokens": True}, headers=CSRF)
    assert r.status_code == 200, r.text
    with client(server, token) as c:
        assert c.get("/api/auth/me").status_code == 401
    mine.close()
    stolen.close()


def test_tokens_expire_by_default_and_a_read_token_only_reads(server: Server, make_tenant: Callable[..., Tenant]) -> None:
    from datetime import UTC, datetime, timedelta

    t = make_tenant("tok")
    with client(server, t.token) as c:
        r = c.post("/api/auth/tokens", json={"name": "reports", "scope": "read"})
        assert r.status_code == 201, r.text
        expires = datetime.fromisoformat(r.json()["expires_at"].replace("Z", "+00:00"))
        assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
        read = r.json()["token"]
        assert c.post("/api/auth/tokens", json={"name": "x", "scope": "root"}).status_code == 422
    with client(server, read) as c:
        assert c.get(f"/api/orgs/{t.name}/users").status_code == 200
        r = c.post(f"/api/orgs/{t.name}/groups", json={"name": "sneaky"})
        assert r.status_code == 403 and "may only read" in r.json()["error"], r.text
        assert [tk["scope"] for tk in c.get("/api/auth/tokens").json() if tk["name"] == "reports"] == ["read"]


def test_requiring_mfa_ends_the_sessions_and_tokens_of_users_without_totp(
        server: Server, make_tenant: Callable[..., Tenant]) -> None:
    t = make_tenant("mfa")
    login, token = add_user(server, t, "bea", with_mailbox=True)
    session = _session(server, login, f"pw-bea-{t.name}-long")
    with client(server, token) as c:
        assert c.get("/api/auth/me").status_code == 200
    from mailark.control.auth import set_mfa_required
    from mailark.control.principals import Principal

    with server.rt.session() as s:
        set_mfa_required(s, Principal.deployment_operator(), t.name, True)
    with client(server, token) as c:
        assert c.get("/api/auth/me").status_code == 401
    assert session.get("/api/auth/me").status_code == 401
    session.close()


def test_the_web_login_answers_a_locked_account_as_the_api_does(server: Server, make_tenant: Callable[..., Tenant]) -> None:
    t = make_tenant("lock")
    login, _ = add_user(server, t, "cy")
    with client(server) as c:
        codes = [c.post("/login", data={"login": login, "password": f"wrong guess {i}"}).status_code for i in range(6)]
        assert codes[:4] == [401] * 4 and codes[4:] == [429, 429]  # the fifth failure locks
        r = c.post("/login", data={"login": login, "password": f"pw-cy-{t.name}-long"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60


def test_wrong_current_passwords_are_throttled_like_logins(server: Server, make_tenant: Callable[..., Tenant]) -> None:
    t = make_tenant("oldpw")
    login, token = add_user(server, t, "dee")
    with client(server, token) as c:
        codes = [c.post("/api/auth/password", json={"old_password": f"guess {i} guess", "new_password": "x" * 20}).status_code
                 for i in range(6)]
        assert codes[:5] == [401] * 5 and codes[5] == 429, codes
        r = c.post("/api/auth/password", json={"old_password": f"pw-dee-{t.name}-long", "new_password": "a fine new one!"})
        assert r.status_code == 429 and "Retry-After" in r.headers
