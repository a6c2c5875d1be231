"""Directory sync against a real OpenLDAP with an Active-Directory-like schema (the `ad` preset)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from control.models import Group, GroupMember, Mailbox, MailboxPermission, User
from control.principals import user_principal
from tests.directory.conftest import DOMAIN, add_profile, make_tenant, sync


@pytest.fixture
def tenant(rt):  # type: ignore[no-untyped-def]
    return make_tenant(rt, "acme", users=10, storage_gb=10)


def _user(rt, login: str) -> User | None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        return s.scalar(select(User).where(User.login == login))


def _mailbox(rt, ext: str):  # type: ignore[no-untyped-def]
    with rt.session() as s:
        mb = s.scalar(select(Mailbox).where(Mailbox.external_id == ext))
        if mb is None:
            return None
        return mb.primary_address, sorted((a.address, a.is_primary, a.origin) for a in mb.addresses), mb.owner_user_id


def test_create_users_groups_mailboxes_and_roles(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv, role_map={"archive-compliance": "Compliance"})
    directory.ad_user("ann", aliases=("a.smith@example.test", "ann@old.example.test"), display="Ann Smith")
    directory.ad_user("bob")
    directory.ad_user("carl", disabled=True)  # disabled and never synced: not created
    directory.ad_group("archive-compliance", ["ann"])
    directory.ad_group("sales", ["ann", "bob"])

    report = sync(rt, tenant.admin)
    assert report.status == "ok", report.message()
    ann = _user(rt, f"ann@{DOMAIN}")
    assert ann is not None and ann.directory_profile_id and ann.password_hash is None
    assert ann.display_name == "Ann Smith" and ann.directory_dn.startswith("cn=ann,")
    assert _user(rt, f"carl@{DOMAIN}") is None
    primary, addrs, owner = _mailbox(rt, ann.external_id)
    assert primary == f"ann@{DOMAIN}" and owner == ann.id
    assert [a[0] for a in addrs] == ["a.smith@example.test", "ann@example.test", "ann@old.example.test"]
    with rt.session() as s:
        # read access to the own mailbox at once
        assert s.scalar(select(MailboxPermission.id).where(MailboxPermission.user_id == ann.id)) is not None
        groups = {g.name: g for g in s.scalars(select(Group).where(Group.directory_profile_id.is_not(None)))}
        assert set(groups) == {"archive-compliance", "sales"}
        members = set(s.scalars(select(User.login).join(GroupMember, GroupMember.user_id == User.id)
                                .where(GroupMember.group_id == groups["sales"].id)))
        assert members == {f"ann@{DOMAIN}", f"bob@{DOMAIN}"}
        from control.principals import user_roles

        assert "Compliance" in user_roles(s, ann.id)
        bob = s.scalar(select(User).where(User.login == f"bob@{DOMAIN}"))
        assert "Compliance" not in user_roles(s, bob.id)
    # A second run with nothing changed changes nothing.
    again = sync(rt, tenant.admin)
    assert again.changes == [] and again.status == "ok"
