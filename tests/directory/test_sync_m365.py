"""The sync rules with Microsoft 365 profiles, fed with snapshots built here (the Graph reader is
sources.graph.directory, built separately; the lead wires it at merge)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailark.control.directory_profiles import create_profile
from mailark.sources.directory.sync import run_named
from mailark.control.models import Mailbox, User
from mailark.control.orgs import ControlError
from mailark.control.directory_records import DirectoryGroup, DirectorySnapshot, DirectoryUser
from tests.directory.conftest import make_tenant
from mailark.sources.directory.login import check_directory_password

DOM = "contoso.example"


@pytest.fixture
def tenant(rt):  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "contoso", users=4, storage_gb=10)
    with rt.session() as s:
        create_profile(s, t.admin, "contoso", "m365", "tenant", {"tenant_id": "t-1", "client_id": "app-1",
                                                                 "role_map": {"Archive Compliance": "Compliance"}},
                       {"client_secret": "very-secret"}, rt.master_key, domains=[DOM])
    return t


class FakeTenant:
    """A reader that returns whatever the test put in the tenant, and checks what the profile hands it."""

    def __init__(self) -> None:
        self.snapshot = DirectorySnapshot()

    def __call__(self, config: dict, secret: dict) -> DirectorySnapshot:  # type: ignore[type-arg]
        assert config["tenant_id"] == "t-1" and config["client_id"] == "app-1"
        assert secret == {"client_secret": "very-secret"}
        return self.snapshot


def _u(gid: str, name: str, aliases: tuple[str, ...] = (), enabled: bool = True, kind: str = "user") -> DirectoryUser:
    return DirectoryUser(external_id=gid, login=f"{name}@{DOM}", primary_address=f"{name}@{DOM}", aliases=aliases,
                         display_name=name.title(), enabled=enabled, kind=kind)


def test_m365_users_shared_mailboxes_groups_and_roles(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    m365 = FakeTenant()
    m365.snapshot = DirectorySnapshot(
        users=[_u("g-ann", "ann", (f"ann.a@{DOM}",)), _u("g-bob", "bob"),
               _u("g-info", "info", (f"hello@{DOM}",), kind="shared")],
        groups=[DirectoryGroup("g-comp", "Archive Compliance", ("g-ann",))])
    r = run_named(rt, tenant.admin, "contoso", "tenant", reader=m365)
    assert r.status == "ok", r.message()
    with rt.session() as s:
        info = s.scalar(select(Mailbox).where(Mailbox.external_id == "g-info"))
        assert info.kind == "shared" and info.owner_user_id is None
        assert {a.address for a in info.addresses} == {f"info@{DOM}", f"hello@{DOM}"}
        assert s.scalar(select(User.id).where(User.login == f"info@{DOM}")) is None  # no licence, no login
        from mailark.control.principals import user_roles

        ann = s.scalar(select(User).where(User.login == f"ann@{DOM}"))
        assert "Compliance" in user_roles(s, ann.id)
        assert ann.directory_dn is None
    # Microsoft 365 profiles cannot check passwords: a synced user cannot log in with one.
    from mailark.control import auth

    with rt.session() as s:
        assert not auth.login(s, rt.master_key, f"ann@{DOM}", "anything-at-all", directory_check=check_directory_password).ok

    # Rename (same Graph id), alias change, shared mailbox alias change, group emptied, user deleted.
    m365.snapshot = DirectorySnapshot(
        users=[_u("g-ann", "ann.new", (f"ann.a@{DOM}", f"ann.b@{DOM}")), _u("g-info", "info", (), kind="shared")],
        groups=[DirectoryGroup("g-comp", "Archive Compliance", ())])
    r = run_named(rt, tenant.admin, "contoso", "tenant", reader=m365)
    assert r.status == "ok", r.message()
    with rt.session() as s:
        ann = s.scalar(select(User).where(User.external_id == "g-ann"))
        assert ann.login == f"ann.new@{DOM}"
        mb = s.scalar(select(Mailbox).where(Mailbox.external_id == "g-ann"))
        assert {a.address: a.origin for a in mb.addresses} == {
            f"ann.new@{DOM}": "directory", f"ann@{DOM}": "retained", f"ann.a@{DOM}": "directory",
            f"ann.b@{DOM}": "directory"}
        info = s.scalar(select(Mailbox).where(Mailbox.external_id == "g-info"))
        assert {a.address for a in info.addresses} == {f"info@{DOM}"}
        assert s.scalar(select(User.id).where(User.external_id == "g-bob")) is None  # deleted -> removed (default)
        assert s.scalar(select(Mailbox.id).where(Mailbox.external_id == "g-bob")) is not None  # mailbox stays
        from mailark.control.principals import user_roles

        assert "Compliance" not in user_roles(s, ann.id)


def test_m365_licence_counts_users_not_shared_mailboxes(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    m365 = FakeTenant()  # 4 licensed users, admin@contoso takes one; 2 mailboxes per user -> 8 mailboxes
    m365.snapshot = DirectorySnapshot(users=[_u(f"g-{i}", f"user{i}") for i in range(5)]
                                      + [_u("g-s", "shared1", kind="shared")])
    r = run_named(rt, tenant.admin, "contoso", "tenant", reader=m365)
    assert r.not_added_for_licence() == [f"user3@{DOM}", f"user4@{DOM}"]
    assert [c.status for c in r.changes if c.action == "shared.create"] == ["done"]


def test_m365_shared_mailboxes_can_be_left_out(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.directory_profiles import update_profile

    with rt.session() as s:
        update_profile(s, tenant.admin, "contoso", "tenant", rt.master_key, settings={"include_shared_mailboxes": False})
    m365 = FakeTenant()
    m365.snapshot = DirectorySnapshot(users=[_u("g-ann", "ann"), _u("g-s", "shared1", kind="shared")])
    r = run_named(rt, tenant.admin, "contoso", "tenant", reader=m365)
    assert [c.action for c in r.changes] == ["user.create"] and r.status == "ok"


def test_an_alias_held_by_another_mailbox_is_reported_not_taken(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    m365 = FakeTenant()
    m365.snapshot = DirectorySnapshot(users=[_u("g-ann", "ann", (f"team@{DOM}",)), _u("g-bob", "bob", (f"team@{DOM}",))])
    r = run_named(rt, tenant.admin, "contoso", "tenant", reader=m365)
    assert [c.status for c in r.changes] == ["done", "done"]  # both users are there, with their own addresses
    assert r.status == "partial" and any(f"bob@{DOM}: aliases not added: team@{DOM} (held by archive mailbox ann@{DOM})"
                                         in p for p in r.problems)


def test_m365_login_domain_outside_the_profile_is_reported(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    m365 = FakeTenant()
    m365.snapshot = DirectorySnapshot(users=[DirectoryUser("g-x", "x@elsewhere.example", "x@elsewhere.example")],
                                      problems=["some entry: left out"])
    r = run_named(rt, tenant.admin, "contoso", "tenant", reader=m365)
    assert r.status == "partial" and r.changes == []
    assert any("elsewhere.example" in p and "not a domain of this profile" in p for p in r.problems)
    assert "some entry: left out" in r.problems


def test_m365_reader_is_imported_lazily_and_its_absence_is_clear(rt, tenant, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys
    import types

    from mailark.sources.directory.sync import reader_for

    fake = types.ModuleType("mailark.sources.graph.directory")
    fake.read_directory = lambda config, secret: DirectorySnapshot()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mailark.sources.graph.directory", fake)
    assert reader_for("m365") is fake.read_directory
    monkeypatch.setitem(sys.modules, "mailark.sources.graph.directory", None)  # not installed
    r = run_named(rt, tenant.admin, "contoso", "tenant")
    assert r.status == "failed" and "Microsoft 365 directory reader" in r.error


def test_m365_profile_refuses_directory_login(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "fabrikam")
    with rt.session() as s, pytest.raises(ControlError, match="cannot check passwords"):
        create_profile(s, t.admin, "fabrikam", "m365", "t", {"tenant_id": "a", "client_id": "b", "directory_login": True},
                       {"client_secret": "x"}, rt.master_key, domains=["fabrikam.example"])


def test_a_reader_that_breaks_fails_the_run_and_changes_nothing(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    def broken(config: dict, secret: dict) -> DirectorySnapshot:  # type: ignore[type-arg]
        raise KeyError("value")

    r = run_named(rt, tenant.admin, "contoso", "tenant", reader=broken)
    assert r.status == "failed" and "failed unexpectedly (KeyError" in r.error
    from mailark.control.directory_profiles import get_profile

    with rt.session() as s:
        assert get_profile(s, tenant.admin, "contoso", "tenant").last_status == "failed"
