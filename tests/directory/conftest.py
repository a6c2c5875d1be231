"""Directory-sync fixtures: a real OpenLDAP server per test, an organization, profiles and entries."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.control.conftest import cheap_argon2, make_tenant  # noqa: F401 - fixture reused here
from tests.peers.openldap import BASE, SYNC_DN, SYNC_PW, LdapServer, find_slapd, start_openldap

PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"
DOMAIN = "example.test"


@pytest.fixture
def ldap_server(tmp_path) -> Iterator[LdapServer]:  # type: ignore[no-untyped-def]
    if find_slapd() is None:
        pytest.skip("slapd is not installed (scripts/install-test-deps.sh installs it)")
    srv = start_openldap(tmp_path / "slapd")
    try:
        yield srv
    finally:
        srv.stop()


@dataclass
class Directory:
    """The test's view of the LDAP tree: adds AD-like or inetOrgPerson entries and remembers their DNs."""

    srv: LdapServer
    dns: dict[str, str] = field(default_factory=dict)

    def ad_user(self, name: str, *, upn: str | None = None, primary: str | None = None, aliases: tuple[str, ...] = (),
                disabled: bool = False, password: str | None = None, display: str | None = None,
                guid: bytes | None = None) -> str:
        dn = f"cn={name},{PEOPLE}"
        upn = upn or f"{name}@{DOMAIN}"
        proxies = [f"SMTP:{primary or upn}", *[f"smtp:{a}" for a in aliases]]
        attrs: dict[str, Any] = {"cn": name, "sn": name, "uid": name, "sAMAccountName": name, "userPrincipalName": upn,
                                 "mail": primary or upn, "proxyAddresses": proxies, "objectGUID": guid or uuid.uuid4().bytes_le,
                                 "userAccountControl": 512 | (2 if disabled else 0),
                                 "displayName": display or name.title()}
        if password:
            attrs["userPassword"] = password
        self.srv.add(dn, ["user"], attrs)
        self.dns[name] = dn
        return dn

    def ad_group(self, name: str, members: list[str] = ()) -> str:  # type: ignore[assignment]
        dn = f"cn={name},{GROUPS}"
        self.srv.add(dn, ["group"], {"cn": name, "objectGUID": uuid.uuid4().bytes_le})
        self.dns[name] = dn
        for m in members:
            self.join(name, m)
        return dn

    def join(self, group: str, user: str) -> None:
        """AD keeps memberOf on the user: the AD preset reads it from there."""
        import ldap3

        with self.srv._conn() as c:
            c.modify(self.dns[user], {"memberOf": [(ldap3.MODIFY_ADD, [self.dns[group]])]})

    def leave(self, group: str, user: str) -> None:
        import ldap3

        with self.srv._conn() as c:
            c.modify(self.dns[user], {"memberOf": [(ldap3.MODIFY_DELETE, [self.dns[group]])]})

    def set(self, name: str, **changes: Any) -> None:
        self.srv.modify(self.dns[name], changes)

    def rename(self, name: str, new: str) -> None:
        self.srv.rename(self.dns[name], f"cn={new}")
        self.dns[new] = f"cn={new},{PEOPLE}"

    def delete(self, name: str) -> None:
        self.srv.delete(self.dns.pop(name))


@pytest.fixture
def directory(ldap_server: LdapServer) -> Directory:
    return Directory(ldap_server)


def ldap_settings(srv: LdapServer, preset: str = "ad", **extra: Any) -> dict[str, Any]:
    return {"preset": preset, "url": srv.url, "security": "starttls", "ca_pem": srv.ca_file.read_text(), "bind_dn": SYNC_DN,
            "base_dn": BASE, "timeout": 3, "page_size": 2, **extra}


def add_profile(rt, principal, srv: LdapServer, name: str = "corp", *, org: str = "acme", preset: str = "ad",  # type: ignore[no-untyped-def]
                domains: tuple[str, ...] = (DOMAIN,), password: str = SYNC_PW, **extra: Any):
    from mailark.control.directory_profiles import create_profile

    with rt.session() as s:
        return create_profile(s, principal, org, "ldap", name, ldap_settings(srv, preset, **extra),
                              {"bind_password": password}, rt.master_key, domains=list(domains))


def sync(rt, principal=None, name: str = "corp", org: str = "acme", dry_run: bool = False, reader=None):  # type: ignore[no-untyped-def]
    from mailark.sources.directory.sync import SYSTEM, run_named

    return run_named(rt, principal or SYSTEM, org, name, dry_run=dry_run, reader=reader)
