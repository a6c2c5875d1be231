"""The sign-in provider's rules in the control plane: who may set it, what it needs, what is stored
(the protocol and the login run end to end in tests/dashboards/test_sign_in_oidc.py)."""

from __future__ import annotations

import pytest

from mailark.control.directory_profiles import create_profile
from mailark.control.models import SignInProvider
from mailark.control.orgs import ControlError, NotFound
from mailark.control.sign_in import get_provider, login_config, set_provider
from tests.control.conftest import make_tenant

TENANT = "0f2a1c3e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def test_microsoft_needs_the_synced_tenant_and_defaults_to_its_authority(rt, tenant, op) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        with pytest.raises(ControlError, match="Microsoft 365 directory profile first"):
            set_provider(s, tenant.admin, "acme", rt.master_key, kind="entra", client_id="app", tenant_id=TENANT)
        create_profile(s, op, "acme", "m365", "m365", {"tenant_id": TENANT, "client_id": "sync"},
                       {"client_secret": "x"}, rt.master_key, domains=["acme"])
        v = set_provider(s, tenant.admin, "acme", rt.master_key, kind="entra", client_id="app",
                         client_secret="the-secret-value")
        assert v.tenant_id == TENANT and v.match_claim == "oid" and v.display_name == "Microsoft"
        assert v.issuer == f"https://login.microsoftonline.com/{TENANT}/v2.0"
        row = s.get(SignInProvider, tenant.org.id)
        assert b"the-secret-value" not in row.secret and "the-secret-value" not in row.config
        assert login_config(s, rt.master_key, "acme").client_secret == "the-secret-value"
        # a change without a secret keeps it
        set_provider(s, tenant.admin, "acme", rt.master_key, kind="entra", client_id="app2")
        assert login_config(s, rt.master_key, "acme").client_secret == "the-secret-value"


def test_generic_provider_rules(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        for issuer in ("http://idp.example.com", "https://idp.example.com/?x=1", "not a url"):
            with pytest.raises(ControlError, match="not an https URL"):
                set_provider(s, tenant.admin, "acme", rt.master_key, kind="oidc", client_id="a", issuer=issuer)
        with pytest.raises(ControlError, match="matched by"):
            set_provider(s, tenant.admin, "acme", rt.master_key, kind="oidc", client_id="a",
                         issuer="https://idp.example.com", match_claim="name")
        v = set_provider(s, tenant.admin, "acme", rt.master_key, kind="oidc", client_id="a",
                         issuer="https://idp.example.com/", allowed_domains=["@ACME"])
        assert v.issuer == "https://idp.example.com" and v.allowed_domains == ["acme"] and not v.has_secret


def test_only_the_organizations_admins_see_or_set_it(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    other = make_tenant(rt, "globex")
    with rt.session() as s:
        set_provider(s, tenant.admin, "acme", rt.master_key, kind="oidc", client_id="a", issuer="https://idp.example.com")
        for act in (lambda: get_provider(s, other.admin, "acme"),
                    lambda: set_provider(s, other.admin, "acme", rt.master_key, kind="oidc", client_id="b",
                                         issuer="https://evil.example.com")):
            with pytest.raises(NotFound):
                act()
