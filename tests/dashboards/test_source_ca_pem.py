"""Issue 13: a profile's CA is PEM text uploaded into it, never a file on the archive's server an Admin names.

Before, `ca_file` let an organization's Admin make the service open any path it can read (a probe for
what exists on the server, and a way to have it parsed). Now the API and the pages take `ca_pem`;
a new or changed `ca_file` is refused (403) to everyone but the deployment operator, and a stored
one keeps working unchanged.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.dashboards.conftest import Server, Tenant, client


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> str:
    d = tmp_path_factory.mktemp("ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "ca.pem")], check=True, capture_output=True)
    return (d / "ca.pem").read_text()


def _imap(t: Tenant, **extra: object) -> dict:  # type: ignore[type-arg]
    return {"kind": "imap", "name": "office", "secret": {"password": "x" * 12},
            "config": {"host": "10.0.0.7", "username": "ann", "mailbox": f"ann@{t.name}", **extra}}


def test_an_admin_cannot_name_a_file_on_the_server(server: Server, make_tenant: Callable[..., Tenant]) -> None:
    t = make_tenant("cafile")
    with client(server, t.token) as c:
        r = c.post(f"/api/orgs/{t.name}/sources", json=_imap(t, ca_file="/etc/passwd"))
        assert r.status_code == 403 and "ca_pem" in r.json()["error"], r.text
        assert c.get(f"/api/orgs/{t.name}/sources/office").status_code == 404
        r = c.post(f"/api/orgs/{t.name}/directory/ldap", json={
            "name": "corp", "url": "ldaps://10.0.0.8", "ca_file": "/etc/shadow", "bind_dn": "cn=sync",
            "bind_password": "pw", "base_dn": "dc=x", "domains": [f"{t.name}"]})
        assert r.status_code == 403 and "ca_pem" in r.json()["error"], r.text


def test_the_ca_is_uploaded_as_pem_and_checked(server: Server, make_tenant: Callable[..., Tenant], ca_pem: str) -> None:
    t = make_tenant("capem")
    base = f"/api/orgs/{t.name}/sources"
    with client(server, t.token) as c:
        for bad, why in (("not a certificate", "PEM text"),
                         ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "private key"),
                         ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "not a readable")):
            r = c.post(base, json=_imap(t, ca_pem=bad))
            assert r.status_code == 400 and why in r.json()["error"], (bad, r.text)
        r = c.post(base, json=_imap(t, ca_pem="some words before\n" + ca_pem))
        assert r.status_code == 201, r.text
        assert r.json()["config"]["ca_pem"] == ca_pem.replace("\r\n", "\n")  # only the certificate is kept
        r = c.patch(f"{base}/office", json={"config": {**c.get(f"{base}/office").json()["config"], "ca_pem": ""}})
        assert r.status_code == 200 and "ca_pem" not in r.json()["config"], r.text


def test_a_stored_ca_file_keeps_working_and_cannot_be_changed(server: Server, make_tenant: Callable[..., Tenant],
                                                              ca_pem: str, tmp_path: Path) -> None:
    """A profile the deployment operator made with a ca_file before ca_pem: its Admin may still edit it,
    keeping that file, but not point it at another one."""
    from mailark.control.principals import Principal
    from mailark.control.sources import create_source

    t = make_tenant("calegacy")
    legacy = tmp_path / "ca.pem"
    legacy.write_text(ca_pem)
    with server.rt.session() as s:
        create_source(s, Principal.deployment_operator(), t.name, "imap", "old",
                      {"host": "10.0.0.7", "username": "ann", "mailbox": f"ann@{t.name}", "ca_file": str(legacy)},
                      {"password": "x" * 12}, server.rt.master_key)
    base = f"/api/orgs/{t.name}/sources/old"
    with client(server, t.token) as c:
        config = c.get(base).json()["config"]
        r = c.patch(base, json={"config": {**config, "include": ["INBOX"]}})
        assert r.status_code == 200 and r.json()["config"]["ca_file"] == str(legacy), r.text
        r = c.patch(base, json={"config": {**config, "ca_file": "/etc/passwd"}})
        assert r.status_code == 403, r.text
        r = c.patch(base, json={"config": {**config, "ca_pem": ca_pem}})  # the PEM replaces the file
        assert r.status_code == 200 and "ca_file" not in r.json()["config"], r.text
    with server.rt.session() as s:
        from mailark.control.models import SourceProfile

        stored = json.loads(s.query(SourceProfile).filter_by(name="old").one().config)
    assert "ca_file" not in stored and stored["ca_pem"].startswith("-----BEGIN CERTIFICATE-----")
