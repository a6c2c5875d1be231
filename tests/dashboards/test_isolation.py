"""Tenant isolation, generated from /openapi.json: a principal of org A gets 404 for all of org B.

Every operation whose path has an `{org}` parameter is called for B with path parameters naming
things that really exist in B (so a 404 is the isolation, not a typo) and a body built from the
schema's examples (so it is not a 422), by A's admin (token), A's admin (cookie session) and an
operator limited to A. Afterwards B is unchanged, and B's unrestricted operator reaches every GET.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.dashboards.conftest import CSRF, Server, Tenant, add_user, client

METHODS = ("get", "post", "put", "patch", "delete")
# The GET routes that read archived mail: MSP operators get none of them without a support grant.
CONTENT_GETS = ["/api/orgs/{org}/search", "/api/orgs/{org}/archive/{address}/messages",
                "/api/orgs/{org}/messages/{item_id}", "/api/orgs/{org}/messages/{item_id}/eml",
                "/api/orgs/{org}/messages/{item_id}/attachments/{index}", "/api/orgs/{org}/exports/{export_id}/download"]
# Compliance's own records (retention and legal holds): an operator manages the organization, not these.
COMPLIANCE_GETS = ["/api/orgs/{org}/retention/policies", "/api/orgs/{org}/retention/preview",
                   "/api/orgs/{org}/retention/report", "/api/orgs/{org}/retention/reviews", "/api/orgs/{org}/holds"]


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example_body(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A valid body: every property that has an example, and a plain value for required ones without."""
    s = _resolve(doc, schema)
    plain = {"string": "x", "integer": 1, "boolean": True, "array": []}
    body: dict[str, Any] = {}
    for name, prop in s.get("properties", {}).items():
        if prop.get("examples"):
            body[name] = prop["examples"][0]
        elif name in s.get("required", []):
            p = _resolve(doc, prop)
            body[name] = p["enum"][0] if "enum" in p else plain.get(p.get("type", "string"), "x")
    return body


def org_operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, item in doc["paths"].items():
        if "{org}" not in path:
            continue
        for method in METHODS:
            if method in item:
                out.append((method, path, item[method]))
    return out


def build_request(doc: dict[str, Any], method: str, path: str, op: dict[str, Any], params: dict[str, str]) -> tuple[str, dict[str, Any] | None]:
    url = path
    for p in op.get("parameters", []):
        if p["in"] == "path":
            url = url.replace("{" + p["name"] + "}", params[p["name"]])
    body = None
    if "requestBody" in op:
        body = example_body(doc, op["requestBody"]["content"]["application/json"]["schema"])
    return url, body


@pytest.fixture
def victim(server: Server, make_tenant) -> tuple[Tenant, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Org B with one of everything a path can name."""
    b = make_tenant("victim")
    login, _ = add_user(server, b, "bea", with_mailbox=True)
    base = f"/api/orgs/{b.name}"
    with client(server, b.token) as c:
        for method, url, body in (
            ("POST", f"{base}/domains", {"name": f"{b.name}.example"}),
            ("POST", f"{base}/groups", {"name": "grp"}),
            ("PUT", f"{base}/groups/grp/members/{login}", None),
            ("POST", f"{base}/mailboxes", {"address": f"shared@{b.name}", "kind": "shared"}),
            ("POST", f"{base}/mailboxes/shared@{b.name}/aliases", {"alias": f"alias@{b.name}"}),
            ("PUT", f"{base}/mailboxes/shared@{b.name}/permissions/groups/grp", None),
            ("POST", f"{base}/sources", {"kind": "journal", "name": "src", "config": {"allow_any_sender": True}}),
            ("POST", f"{base}/directory/ldap", {"name": "corp", "url": "ldap://127.0.0.1:9", "bind_dn": "cn=x",
                                                "bind_password": "pw", "base_dn": "dc=x", "domains": [f"dir.{b.name}.example"]}),
        ):
            r = c.request(method, url, json=body)
            assert r.status_code < 300, r.text
        # an export (done, so that its download is a real thing to reach); a Compliance user may make one
        _, ctoken = add_user(server, b, "carla", roles=["Compliance"])
    with client(server, ctoken) as c:
        for url, body in ((f"{base}/retention/policies", {"name": "keep-all", "keep": "10y"}),
                          (f"{base}/holds", {"case": "case-1", "reason": "counsel asked", "mailboxes": [login]})):
            assert c.post(url, json=body).status_code == 201
        export_id = c.post(f"{base}/exports", json={}).json()["id"]
        for _ in range(300):
            if c.get(f"{base}/exports/{export_id}").json()["status"] == "done":
                break
            time.sleep(0.05)
    # a support grant (revoked at once: it only needs to exist for the routes that name one)
    with client(server, b.token) as c:
        r = c.post(f"{base}/support-grants", json={"operator": "msp", "mailboxes": [login]})
        assert r.status_code == 201, r.text
        grant_id = r.json()["id"]
        assert c.delete(f"{base}/support-grants/{grant_id}").status_code == 200
        # a sign-in provider, so that its GET names a real thing
        r = c.put(f"{base}/sign-in", json={"kind": "oidc", "client_id": "mailark", "client_secret": "s3cret-for-the-walk",
                                          "issuer": "https://accounts.example.com", "allowed_domains": [b.name]})
        assert r.status_code == 200, r.text
    params = {"org": b.name, "login": login, "grant_id": grant_id, "address": f"shared@{b.name}", "alias": f"alias@{b.name}",
              "group": "grp", "domain": f"{b.name}.example", "source": "src", "profile": "corp",
              "export_id": export_id, "compliance_token": ctoken, "item_id": _archived_message(server, b.name, login), "index": "1",
              "policy": "keep-all", "case": "case-1"}
    return b, params


def _archived_message(server: Server, org: str, address: str) -> str:
    """A message with an attachment in B's mailbox, indexed: the reading routes name it."""
    from tests.dashboards.test_reading_api import _archive
    from tests.search.mails import message

    return _archive(server, org, address, [message(1, attachments=[("a.txt", "text/plain", b"hello")])])[0]


def snapshot(server: Server, token: str, org: str) -> dict[str, Any]:
    with client(server, token) as c:
        return {p: c.get(f"/api/orgs/{org}{p}").json() for p in
                ("", "/users", "/groups", "/domains", "/mailboxes", "/licence", "/sources",
                 "/mailboxes/shared@" + org + "/permissions", "/retention/policies", "/holds")}


def test_every_org_route_is_404_for_another_orgs_principals(server: Server, make_tenant, victim, operator_token) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.auth import create_operator
    from mailark.control.principals import Principal

    a = make_tenant("intruder")
    b, params = victim
    with server.rt.session() as s:
        create_operator(s, Principal.deployment_operator(), f"tech-{a.name}", password="technician-pw1", orgs=[a.name])
    from tests.dashboards.conftest import login_token

    tech = login_token(server, f"tech-{a.name}", "technician-pw1")
    cookie_client = client(server)
    assert cookie_client.post("/api/auth/login", json={"login": a.admin, "password": a.password}, headers=CSRF).status_code == 200
    callers: dict[str, httpx.Client] = {"admin token": client(server, a.token), "limited operator": client(server, tech),
                                        "admin cookie": cookie_client}

    doc = httpx.get(server.url + "/openapi.json").json()
    ops = org_operations(doc)
    assert len(ops) >= 35, "the walk found too few org-scoped operations: is the document complete?"
    before = snapshot(server, operator_token, b.name)
    failures = []
    for method, path, op in ops:
        url, body = build_request(doc, method, path, op, params)
        for who, c in callers.items():
            r = c.request(method.upper(), url, json=body, headers=CSRF)
            # exactly the answer for an organization that does not exist (not "no such route", not 403/422)
            if r.status_code != 404 or r.json() != {"error": f"no organization named {b.name!r}"}:
                failures.append(f"{who}: {method.upper()} {url} -> {r.status_code} {r.text[:200]}")
    for c in callers.values():
        c.close()
    assert not failures, "\n".join(failures)
    assert snapshot(server, operator_token, b.name) == before

    # the same paths do name real things: B's own unrestricted operator reaches every GET but the content
    # ones (it holds no content right without a support grant: tests/dashboards/test_operator_privacy.py),
    # which B's Compliance officer reaches
    refused = []
    with client(server, operator_token) as c:
        for method, path, op in ops:
            if method == "get":
                url, _ = build_request(doc, method, path, op, params)
                if c.get(url).status_code != 200:
                    refused.append(path)
    assert sorted(refused) == sorted(CONTENT_GETS + COMPLIANCE_GETS), refused
    with client(server, params["compliance_token"]) as c:
        for method, path, op in ops:
            if method == "get" and path in CONTENT_GETS + COMPLIANCE_GETS:
                url, _ = build_request(doc, method, path, op, params)
                assert c.get(url).status_code == 200, url


def test_a_token_of_another_org_cannot_be_revoked(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant(), make_tenant()
    with client(server, b.token) as c:
        token_id = c.get("/api/auth/tokens").json()[0]["id"]
    with client(server, a.token) as c:
        assert c.delete(f"/api/auth/tokens/{token_id}").status_code == 404
    with client(server, b.token) as c:
        assert c.get("/api/auth/me").status_code == 200


def test_every_operation_documents_a_response_model(server: Server) -> None:
    doc = httpx.get(server.url + "/openapi.json").json()
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                ok = [v for k, v in item[method]["responses"].items() if k.startswith("2")]
                content = ok[0]["content"] if ok else {}
                # JSON, a download (.eml, attachments) documented as binary, or a streamed export (application/zip)
                assert ok and (any("schema" in c for c in content.values()) or "application/zip" in content), (method, path)
                assert "404" in item[method]["responses"] and "401" in item[method]["responses"], (method, path)


def test_deployment_wide_routes_refuse_org_principals(server: Server, make_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = make_tenant(), make_tenant()
    with client(server, a.token) as c:
        assert [o["name"] for o in c.get("/api/orgs").json()] == [a.name]
        for path in ("/api/audit", "/api/audit/verify"):
            r = c.get(path)
            assert r.status_code == 403 and "every organization" in r.json()["error"], path
        r = c.post("/api/orgs", json={"name": b.name})
        assert r.status_code == 403, "creating (or probing for) an organization is for operators"
