"""Directory sync of a Microsoft 365 profile through the real Graph reader and the local Graph server."""

from __future__ import annotations

from sqlalchemy import select

from mailark.control.directory_profiles import create_profile
from mailark.sources.directory.sync import run_named
from mailark.control.models import Mailbox, User
from mailark.control.principals import user_roles
from tests.directory.conftest import make_tenant
from tests.peers.graph_server import GraphServer, Tenant


def test_m365_directory_sync_end_to_end(rt, graph: GraphServer, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    ann = tenant.add_user("ann", display_name="Ann Smith", aliases=("ann.smith@contoso.example",))
    tenant.add_user("bob")
    tenant.add_shared_mailbox("info", aliases=("hello@contoso.example",))
    tenant.add_group("Archive Compliance", [ann.id])
    tenant.max_page_size = 2
    t = make_tenant(rt, "contoso", users=5, storage_gb=10)
    with rt.session() as s:
        create_profile(s, t.admin, "contoso", "m365", "tenant",
                       {**graph.profile_config(), "role_map": {"Archive Compliance": "Compliance"}},
                       {"client_secret": tenant.client_secret}, rt.master_key, domains=["contoso.example"])

    report = run_named(rt, t.admin, "contoso", "tenant")
    assert report.status == "ok", report.message()
    with rt.session() as s:
        users = {u.login: u for u in s.scalars(select(User).where(User.external_id.is_not(None)))}
        assert set(users) == {"ann@contoso.example", "bob@contoso.example"}
        assert "Compliance" in user_roles(s, users["ann@contoso.example"].id)
        info = s.scalar(select(Mailbox).where(Mailbox.primary_address == "info@contoso.example"))
        assert info.kind == "shared" and {a.address for a in info.addresses} == {"info@contoso.example",
                                                                                  "hello@contoso.example"}

    # In Microsoft 365: Ann is renamed, Bob is deleted. The next sync follows; Bob's mailbox stays.
    ann.upn, ann.mail = "ann.jones@contoso.example", "ann.jones@contoso.example"
    ann.proxy_addresses = ["SMTP:ann.jones@contoso.example", "smtp:ann.smith@contoso.example"]
    tenant.users = {k: v for k, v in tenant.users.items() if v.upn != "bob@contoso.example"}
    report = run_named(rt, t.admin, "contoso", "tenant")
    assert report.status == "ok", report.message()
    with rt.session() as s:
        logins = set(s.scalars(select(User.login).where(User.external_id.is_not(None))))
        assert logins == {"ann.jones@contoso.example"}
        assert s.scalar(select(Mailbox.id).where(Mailbox.primary_address == "bob@contoso.example")) is not None

    tenant.client_secret = "rotated-elsewhere"  # the stored secret is now wrong: the run fails, nothing changes
    report = run_named(rt, t.admin, "contoso", "tenant")
    assert report.status == "failed" and "secret" in report.message().lower()
