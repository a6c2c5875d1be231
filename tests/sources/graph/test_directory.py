"""The Microsoft 365 directory reader against the local Graph server."""

from __future__ import annotations

import pytest

from mailark.config.settings import GraphSettings
from mailark.control.directory_records import DirectoryGroup, DirectoryUser
from mailark.sources.errors import SourceError
from mailark.sources.graph.directory import read_directory
from tests.peers.graph_server import GraphServer, Tenant


def test_reads_users_aliases_shared_mailboxes_and_groups(graph: GraphServer, tenant: Tenant) -> None:
    ann = tenant.add_user("ann", display_name="Ann Smith", aliases=("ann.smith@contoso.example", "as@contoso.example"))
    bob = tenant.add_user("bob", enabled=False)  # left the company: disabled, mailbox kept
    info = tenant.add_shared_mailbox("info", aliases=("hello@contoso.example",))
    tenant.add_user("carl", purpose=None)  # no mailbox, no address: nothing to archive
    dora = tenant.add_user("dora", purpose=None, mail="dora@contoso.example")  # an address but no Exchange mailbox: still a person
    tenant.add_user("room1", purpose="room")
    guest = tenant.add_guest("partner@fabrikam.example")  # an invited outsider: not one of the tenant's people
    legal = tenant.add_group("legal", [ann.id])
    tenant.add_group("staff", [bob.id, legal.id, dora.id, guest.id])  # nested: legal's members are staff too
    tenant.max_page_size = 2  # users and members come in pages of 2
    secret = {"client_secret": tenant.client_secret}

    snap = read_directory(graph.profile_config(), secret, GraphSettings(ca_file=graph.ca_file))
    users = {u.primary_address: u for u in snap.users}
    assert set(users) == {"ann@contoso.example", "bob@contoso.example", "info@contoso.example", "dora@contoso.example"}
    assert users["ann@contoso.example"] == DirectoryUser(
        external_id=ann.id, login="ann@contoso.example", primary_address="ann@contoso.example",
        aliases=("ann.smith@contoso.example", "as@contoso.example"), display_name="Ann Smith", enabled=True, kind="user")
    assert users["bob@contoso.example"].enabled is False and users["bob@contoso.example"].kind == "user"
    assert users["info@contoso.example"].kind == "shared" and users["info@contoso.example"].external_id == info.id
    assert users["info@contoso.example"].aliases == ("hello@contoso.example",)
    groups = {g.name: g for g in snap.groups}
    assert groups["legal"] == DirectoryGroup(legal.id, "legal", (ann.id,))
    assert set(groups["staff"].member_ids) == {bob.id, ann.id, dora.id}

    # A rename keeps the external id: the sync rules see the same user with a new address.
    ann.upn, ann.mail = "ann.jones@contoso.example", "ann.jones@contoso.example"
    ann.proxy_addresses = ["SMTP:ann.jones@contoso.example", "smtp:ann@contoso.example"]
    snap = read_directory(graph.profile_config(), secret, GraphSettings(ca_file=graph.ca_file))
    renamed = next(u for u in snap.users if u.external_id == ann.id)
    assert (renamed.login, renamed.primary_address, renamed.aliases) == (
        "ann.jones@contoso.example", "ann.jones@contoso.example", ("ann@contoso.example",))


def test_directory_errors_are_clear(graph: GraphServer, tenant: Tenant) -> None:
    settings = GraphSettings(ca_file=graph.ca_file, backoff=0.01, max_attempts=2)
    with pytest.raises(SourceError, match="refused the client secret"):
        read_directory(graph.profile_config(), {"client_secret": "wrong"}, settings)
    tenant.roles.discard("GroupMember.Read.All")
    with pytest.raises(SourceError, match="GroupMember.Read.All"):
        read_directory(graph.profile_config(), {"client_secret": tenant.client_secret}, settings)
    graph.stop()
    with pytest.raises(SourceError, match="cannot reach") as e:
        read_directory(graph.profile_config(), {"client_secret": tenant.client_secret}, settings)
    assert e.value.retryable
