"""Sign in with Microsoft (Entra ID) and with a generic OpenID Connect provider, end to end (issue 18).

A real provider (panva's oidc-provider under node, tests/peers/oidc_provider.py) plays Microsoft
(its id tokens carry `tid` and `oid`) and a generic provider; the real web app (uvicorn) is driven
with httpx following every redirect, as a browser would: login page -> provider -> callback ->
session -> the mail page.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from mailark.control.auth import set_mfa_required
from mailark.control.directory import sync_snapshot
from mailark.control.directory_profiles import create_profile, profile_row
from mailark.control.directory_records import DirectorySnapshot, DirectoryUser
from mailark.control.models import AuditEvent, SignInProvider
from mailark.control.principals import Principal
from mailark.control.sign_in import REFUSED
from mailark.sources.directory import oidc
from tests.dashboards.conftest import Server, Tenant, add_user, client
from tests.dashboards.web_helpers import form_token, page_client
from tests.peers import oidc_provider

TENANT = "0f2a1c3e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
OTHER_TENANT = "99999999-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
ANN_OID = "7d3e1c2b-0000-4a5b-9c8d-112233445566"
STRANGER_OID = "7d3e1c2b-ffff-4a5b-9c8d-112233445566"
ACCOUNTS = {
    # Microsoft: the synced user (her Entra object id), one not synced, and her object id from another tenant
    "ann-ms": {"oid": ANN_OID, "tid": TENANT, "preferred_username": "ann@whatever.example", "name": "Ann"},
    "stranger-ms": {"oid": STRANGER_OID, "tid": TENANT, "preferred_username": "x@whatever.example"},
    "ann-elsewhere": {"oid": ANN_OID, "tid": OTHER_TENANT},
    # generic: filled per test with the tenant's domain (see _generic_accounts)
}
OPERATOR = Principal.deployment_operator()


def _generic_accounts(org: str) -> dict[str, dict[str, object]]:
    return {f"bob-{org}": {"email": f"bob@{org}", "email_verified": True},
            f"bob-unverified-{org}": {"email": f"bob@{org}", "email_verified": False},
            f"nobody-{org}": {"email": f"nobody@{org}", "email_verified": True}}


ORGS = ("entra", "generic", "other")  # organization names these tests make (unique per run: see make_tenant)


@pytest.fixture(scope="module")
def provider(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[oidc_provider.OidcProvider]:
    cache = tmp_path_factory.getbasetemp().parent / "oidc-provider-cache"
    package = oidc_provider.install(cache)
    if package is None:
        pytest.skip("node and npm are needed for the OpenID Connect provider")
    accounts: dict[str, dict[str, object]] = dict(ACCOUNTS)
    for n in range(1, 200):  # the tenants' names are prefix + a counter: accounts for the ones these tests make
        for prefix in ORGS:
            accounts.update(_generic_accounts(f"{prefix}{n}"))
    p = oidc_provider.start(package, tmp_path_factory.mktemp("oidc"), accounts=accounts,
                            redirect_uris=[server.url + "/login/sso/callback"])
    yield p
    p.stop()


def _m365_tenant(server: Server, t: Tenant) -> None:
    """A Microsoft 365 directory profile and Ann synced from it (her Graph id is her Entra object id)."""
    with server.rt.session() as s:
        create_profile(s, OPERATOR, t.name, "m365", "m365", {"tenant_id": TENANT, "client_id": "sync-app"},
                       {"client_secret": "sync-secret"}, server.rt.master_key, domains=[t.name])
        p = profile_row(s, OPERATOR, t.name, "m365")
        report = sync_snapshot(s, OPERATOR, p, DirectorySnapshot(users=[
            DirectoryUser(external_id=ANN_OID, login=f"ann@{t.name}", primary_address=f"ann@{t.name}")]))
        assert all(ch.status == "done" for ch in report.changes), report.changes
        s.commit()


def _put(server: Server, t: Tenant, body: dict[str, object]) -> httpx.Response:
    with client(server, t.token) as c:
        return c.put(f"/api/orgs/{t.name}/sign-in", json=body)


def _events(server: Server, org: str) -> list[AuditEvent]:
    from mailark.control.models import Organization

    with server.rt.session() as s:
        org_id = s.scalar(select(Organization.id).where(Organization.name == org))
        return list(s.scalars(select(AuditEvent).where(AuditEvent.org_id == org_id, AuditEvent.action == "auth.login")
                              .order_by(AuditEvent.seq)))


def _signed_in(c: httpx.Client, r: httpx.Response, login: str) -> None:
    """The callback's page moves on to the home page by itself (Refresh), where the session cookie works."""
    assert r.status_code == 200, r.text
    assert 'id="signed-in"' in r.text and r.headers["refresh"].startswith("0; url=/o/")
    target = r.headers["refresh"].split("url=", 1)[1]
    home = c.get(target)
    assert home.status_code == 200, home.text
    assert login in home.text


def test_sign_in_with_microsoft_matches_the_synced_user_by_object_id(server: Server, make_tenant, provider) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("entra")
    _m365_tenant(server, t)
    r = _put(server, t, {"kind": "entra", "client_id": provider.client_id, "client_secret": provider.client_secret,
                         "issuer": provider.issuer})  # the tenant id comes from the directory profile
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["tenant_id"] == TENANT and body["match_claim"] == "oid" and body["has_secret"]
    assert "client_secret" not in body and provider.client_secret not in r.text
    with server.rt.session() as s:  # stored encrypted
        row = s.scalar(select(SignInProvider))
        assert row is not None and provider.client_secret.encode() not in (row.secret or b"") + row.config.encode()
        set_mfa_required(s, OPERATOR, t.name, True)  # MFA comes from the provider: no TOTP enrolment asked
        s.commit()

    with page_client(server) as c:
        page = c.get(f"/login?org={t.name}")
        assert 'id="sso"' in page.text and "Sign in with Microsoft" in page.text
        r = oidc_provider.sign_in_through(c, "/login/sso", "ann-ms", org=t.name)
        _signed_in(c, r, f"ann@{t.name}")
    ok = _events(server, t.name)[-1]
    assert ok.outcome == "ok" and ok.target == f"ann@{t.name}"
    assert json.loads(ok.details)["method"] == "entra" and json.loads(ok.details)["mfa"] == "provider"

    # not synced, and Ann's object id in another tenant: the same refusal, no session, reasons audited
    for account, reason in (("stranger-ms", "no user synced"), ("ann-elsewhere", "another tenant")):
        with page_client(server) as c:
            r = oidc_provider.sign_in_through(c, "/login/sso", account, org=t.name)
            assert r.status_code == 401 and REFUSED.split(":")[0] in r.text
            assert "mailark_session" not in c.cookies
            assert c.get(f"/o/{t.name}/mail").status_code == 303
        failed = _events(server, t.name)[-1]
        assert failed.outcome == "failed" and reason in json.loads(failed.details)["reason"]


def test_generic_provider_matches_by_verified_email_in_allowed_domains(server: Server, make_tenant, provider) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("generic")
    add_user(server, t, "bob")
    r = _put(server, t, {"kind": "oidc", "issuer": provider.issuer, "client_id": provider.client_id,
                         "client_secret": provider.client_secret, "allowed_domains": [t.name],
                         "display_name": "Acme ID"})
    assert r.status_code == 200, r.text
    assert r.json()["match_claim"] == "email" and r.json()["allowed_domains"] == [t.name]

    with page_client(server) as c:  # from the email field of the login page: the domain names the organization
        r = oidc_provider.sign_in_through(c, "/login/sso", f"bob-{t.name}", email=f"bob@{t.name}")
        _signed_in(c, r, f"bob@{t.name}")
    assert json.loads(_events(server, t.name)[-1].details)["method"] == "oidc"

    refused = []
    for account in (f"bob-unverified-{t.name}", f"nobody-{t.name}"):
        with page_client(server) as c:
            r = oidc_provider.sign_in_through(c, "/login/sso", account, org=t.name)
            refused.append(r.text.split('role="alert">')[1].split("</div>")[0])
            assert r.status_code == 401 and "mailark_session" not in c.cookies
    assert refused[0] == refused[1]  # an unverified address and an unknown one read the same: no enumeration
    reasons = [json.loads(e.details)["reason"] for e in _events(server, t.name)[-2:]]
    assert "not verified" in reasons[0] and "no user matches" in reasons[1]


def test_a_provider_signs_in_only_the_organizations_own_users(server: Server, make_tenant, provider) -> None:  # type: ignore[no-untyped-def]
    """Bob of one organization, sent through another organization's provider, is nobody there."""
    home, other = make_tenant("generic"), make_tenant("other")
    add_user(server, home, "bob")
    r = _put(server, other, {"kind": "oidc", "issuer": provider.issuer, "client_id": provider.client_id,
                             "client_secret": provider.client_secret})
    assert r.status_code == 200, r.text
    with page_client(server) as c:
        r = oidc_provider.sign_in_through(c, "/login/sso", f"bob-{home.name}", org=other.name)
        assert r.status_code == 401 and "mailark_session" not in c.cookies
    # allowed domains must be the organization's own
    r = _put(server, other, {"kind": "oidc", "issuer": provider.issuer, "client_id": "x",
                             "allowed_domains": [home.name]})
    assert r.status_code == 400 and "not a domain of organization" in r.json()["error"]
    # and another organization's admin cannot see or change it
    with client(server, home.token) as c:
        assert c.get(f"/api/orgs/{other.name}/sign-in").status_code == 404
        assert c.delete(f"/api/orgs/{other.name}/sign-in").status_code == 404


def test_callback_refuses_a_state_it_did_not_send(server: Server, make_tenant, provider) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("generic")
    add_user(server, t, "bob")
    assert _put(server, t, {"kind": "oidc", "issuer": provider.issuer, "client_id": provider.client_id,
                            "client_secret": provider.client_secret}).status_code == 200
    with page_client(server) as c:
        start = c.get("/login/sso", params={"org": t.name})
        assert start.status_code == 303 and start.headers["location"].startswith(provider.issuer)
        assert "code_challenge_method=S256" in start.headers["location"]
        r = c.get("/login/sso/callback", params={"code": "forged", "state": "not-the-one-we-sent"})
        assert r.status_code == 400 and "start again" in r.text
        assert "mailark_session" not in c.cookies
    with page_client(server) as c:  # no flow cookie at all (a link someone else sent)
        assert c.get("/login/sso/callback", params={"code": "x", "state": "y"}).status_code == 400


def test_id_tokens_are_checked_signature_audience_nonce_and_expiry(provider) -> None:  # type: ignore[no-untyped-def]
    """Against the provider's real JWKS: a token signed by another key, or with the wrong aud, nonce or exp, fails."""
    ep = oidc.discover(provider.issuer)
    key = RSAKey.generate_key(2048, parameters={"kid": "not-the-providers"})
    now = int(time.time())
    good = {"iss": provider.issuer, "aud": provider.client_id, "sub": "ann", "nonce": "n1", "iat": now, "exp": now + 300}
    for claims in (good, {**good, "aud": "another-app"}, {**good, "nonce": "n2"}, {**good, "exp": now - 3600},
                   {**good, "iss": "https://evil.example"}):
        forged = jwt.encode({"alg": "RS256", "kid": "not-the-providers"}, claims, key)
        with pytest.raises(oidc.SignInError):
            oidc.verify_id_token(ep, provider.client_id, forged, "n1")


def test_admin_page_sets_up_and_removes_the_provider(server: Server, make_tenant, provider) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant("generic")
    with page_client(server, t.admin, t.password) as c:
        token = form_token(c, f"/o/{t.name}/sign-in")
        page = c.get(f"/o/{t.name}/sign-in").text
        assert f"{server.url}/login/sso/callback" in page
        r = c.post(f"/o/{t.name}/sign-in", data={"csrf": token, "kind": "oidc", "issuer": "ftp://idp.example",
                                                  "client_id": "app"})
        assert r.status_code == 400 and "not an https URL" in r.text
        r = c.post(f"/o/{t.name}/sign-in", data={"csrf": token, "kind": "oidc", "issuer": provider.issuer,
                                                  "client_id": provider.client_id, "client_secret": "s",
                                                  "display_name": "Acme ID", "enabled": "true"})
        assert r.status_code == 303 and "done=sign_in_saved" in r.headers["location"]
        page = c.get(r.headers["location"]).text
        assert "sign-in with <strong" in page and "Acme ID" in page and f"/login?org={t.name}" in page
        assert "Sign in with Acme ID" in c.get(f"/login?org={t.name}").text
        r = c.post(f"/o/{t.name}/sign-in/remove", data={"csrf": token})
        assert r.status_code == 303 and "done=sign_in_removed" in r.headers["location"]
        assert 'id="sso"' not in c.get(f"/login?org={t.name}").text
    actions = [e.action for e in _all_events(server)]
    assert "sign_in.set" in actions and "sign_in.remove" in actions


def _all_events(server: Server) -> list[AuditEvent]:
    with server.rt.session() as s:
        return list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(50)))


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="chromium is not installed (scripts/install-test-deps.sh)")
def test_sign_in_with_microsoft_in_a_real_browser(server: Server, make_tenant, provider) -> None:  # type: ignore[no-untyped-def]
    """Chromium keeps SameSite: the flow cookie (Lax) must come back from the provider's site, and the
    session cookie (Strict) must work on the page the callback moves on to."""
    from playwright.sync_api import sync_playwright

    t = make_tenant("entra")
    _m365_tenant(server, t)
    assert _put(server, t, {"kind": "entra", "client_id": provider.client_id, "client_secret": provider.client_secret,
                            "issuer": provider.issuer}).status_code == 200
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_context(base_url=server.url, locale="en-US").new_page()
            page.set_default_timeout(30_000)
            page.goto(f"/login?org={t.name}")
            page.click("#sso")
            page.wait_for_url(provider.issuer + "/**")
            page.fill('input[name="login"]', "ann-ms")
            page.fill('input[name="password"]', "any")
            page.click('button[type="submit"]')
            page.wait_for_url(f"{server.url}/o/{t.name}/mail")
            assert f"ann@{t.name}" in page.content()
        finally:
            browser.close()
