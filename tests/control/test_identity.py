"""Domains, users, groups, roles, the last-admin rule and tenant isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailark.control import audit, auth, licensing, mailboxes
from mailark.control import identity as idn
from mailark.control.models import Mailbox, User
from mailark.control.orgs import Conflict, ControlError, Forbidden, NotFound
from mailark.control.principals import ADMIN, AUDITOR, COMPLIANCE, READER, user_principal, user_roles


def _p(s, login):  # type: ignore[no-untyped-def]
    return user_principal(s.scalar(select(User).where(User.login == login)))


def test_first_admin_and_default_domain(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    assert tenant.admin.login == "admin@acme" and len(tenant.admin_password) >= 12
    with rt.session() as s:
        assert [d.name for d in idn.list_domains(s, tenant.admin, "acme")] == ["acme"]
        assert user_roles(s, tenant.admin.id) == {ADMIN}


@pytest.mark.parametrize("name,kind", [("corp.local", "local"), ("intranet", "local"), ("example.com", "global"),
                                       ("mail.example.co.uk", "global"),
                                       # local domains follow the organization names' rule: '_' is allowed (issue 14)
                                       ("exa_mple.com", "local"), ("my_org", "local"), ("_svc.corp", "local")])
def test_domain_syntax_accepted(rt, tenant, name, kind) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        assert idn.add_domain(s, tenant.admin, "acme", name, kind).name == name


@pytest.mark.parametrize("name,kind", [("-bad.com", "local"), ("a..b", "local"), ("exa_mple.com", "global"), ("bad-", "local"),
                                       ("localhost", "global"), ("x" * 64 + ".com", "global"), ("example.123", "global"),
                                       ("example.com", "intranet")])
def test_domain_syntax_refused(rt, tenant, name, kind) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ControlError, match="invalid"), rt.session() as s:
        idn.add_domain(s, tenant.admin, "acme", name, kind)


def test_domain_belongs_to_one_org_and_can_move_after_removal(rt, tenant, other) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.add_domain(s, tenant.admin, "acme", "Acme.COM", "global")
    with pytest.raises(Conflict, match="taken on this deployment"), rt.session() as s:
        idn.add_domain(s, other.admin, "globex", "acme.com", "global")
    with pytest.raises(Conflict, match="taken"), rt.session() as s:  # another org's name is its default domain
        idn.add_domain(s, other.admin, "globex", "acme", "local")
    with rt.session() as s:
        idn.remove_domain(s, tenant.admin, "acme", "acme.com")
    with rt.session() as s:
        assert idn.add_domain(s, other.admin, "globex", "acme.com", "global").org_id == other.org.id


def test_default_domain_not_removable_and_domain_with_users_kept(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict, match="default domain"), rt.session() as s:
        idn.remove_domain(s, tenant.admin, "acme", "acme")
    with rt.session() as s:
        idn.add_domain(s, tenant.admin, "acme", "acme.com", "global")
        idn.create_user(s, tenant.admin, "acme", "ann@acme.com", password="correct horse battery")
    with pytest.raises(Conflict, match="1 user"), rt.session() as s:
        idn.remove_domain(s, tenant.admin, "acme", "acme.com")


def test_user_login_needs_own_domain(rt, tenant, other) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ControlError, match="not a domain of organization"), rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "bob@globex")
    with pytest.raises(ControlError, match="not a domain"), rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "bob@nowhere.com")
    with pytest.raises(ControlError, match="invalid login"), rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "bob")
    with rt.session() as s:
        new = idn.create_user(s, tenant.admin, "acme", "Bob@ACME")
    assert new.user.login == "bob@acme" and new.one_time_password and new.user.must_change_password
    with pytest.raises(Conflict, match="already exists"), rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "bob@acme")


def test_last_admin_cannot_be_removed(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict, match="without an Admin"), rt.session() as s:
        idn.delete_user(s, tenant.admin, "acme", "admin@acme")
    with pytest.raises(Conflict, match="without an Admin"), rt.session() as s:
        idn.remove_member(s, tenant.admin, "acme", "admins", "admin@acme")
    with pytest.raises(Conflict, match="without an Admin"), rt.session() as s:
        idn.revoke_role(s, tenant.admin, "acme", ADMIN, group="admins")
    with pytest.raises(Conflict, match="without an Admin"), rt.session() as s:
        idn.delete_group(s, tenant.admin, "acme", "admins")
    with pytest.raises(Conflict, match="without an Admin"), rt.session() as s:
        idn.set_user_active(s, tenant.admin, "acme", "admin@acme", False)
    with rt.control() as s:  # every refusal was rolled back
        assert idn.admin_count(s, tenant.org.id) == 1
        assert idn.list_groups(s, tenant.admin, "acme")[0][1:] == (["admin@acme"], [ADMIN])


def test_admin_can_go_once_another_exists(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "boss@acme", roles=(ADMIN,))  # a direct role
    with rt.session() as s:
        idn.delete_user(s, tenant.admin, "acme", "admin@acme")
    with rt.session() as s:
        boss = _p(s, "boss@acme")
        with pytest.raises(Conflict, match="without an Admin"):
            idn.revoke_role(s, boss, "acme", ADMIN, user="boss@acme")
        # the deleted admin's principal has no roles any more
        with pytest.raises(Forbidden):
            idn.list_users(s, tenant.admin, "acme")


def test_groups_give_roles(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "ann@acme")
        idn.create_group(s, tenant.admin, "acme", "legal")
        idn.assign_role(s, tenant.admin, "acme", COMPLIANCE, group="legal")
        idn.add_member(s, tenant.admin, "acme", "legal", "ann@acme")
        ann = _p(s, "ann@acme")
        assert user_roles(s, ann.id) == {COMPLIANCE}
        with pytest.raises(Forbidden, match="needs the Admin role"):  # Compliance is no Admin
            idn.create_group(s, ann, "acme", "x")
        with pytest.raises(ControlError, match="unknown role"):
            idn.assign_role(s, tenant.admin, "acme", "Root", group="legal")
        idn.remove_member(s, tenant.admin, "acme", "legal", "ann@acme")
        assert user_roles(s, ann.id) == frozenset()


def test_deleting_user_keeps_mailboxes_and_frees_licence(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "ann@acme", with_mailbox=True)
    with rt.session() as s:
        idn.delete_user(s, tenant.admin, "acme", "ann@acme")
    with rt.control() as s:
        mb = s.scalar(select(Mailbox).where(Mailbox.primary_address == "ann@acme"))
        assert mb is not None and mb.owner_user_id is None
        assert s.scalar(select(User).where(User.login == "ann@acme")) is None


def test_tenant_isolation(rt, tenant, other) -> None:  # type: ignore[no-untyped-def]
    """A principal of one organization learns nothing of another: NotFound, as if it did not exist."""
    with rt.session() as s:
        idn.create_user(s, other.admin, "globex", "gina@globex")
    calls = [
        lambda s: idn.list_users(s, tenant.admin, "globex"),
        lambda s: idn.list_domains(s, tenant.admin, "globex"),
        lambda s: idn.add_domain(s, tenant.admin, "globex", "x.com", "global"),
        lambda s: idn.create_user(s, tenant.admin, "globex", "evil@globex"),
        lambda s: idn.delete_user(s, tenant.admin, "globex", "gina@globex"),
        lambda s: idn.create_group(s, tenant.admin, "globex", "g"),
        lambda s: idn.assign_role(s, tenant.admin, "globex", ADMIN, user="gina@globex"),
        lambda s: idn.get_user(s, tenant.admin, "globex", "gina@globex"),
        lambda s: idn.remove_domain(s, tenant.admin, "globex", "globex"),
        lambda s: idn.add_member(s, tenant.admin, "globex", "admins", "gina@globex"),
        lambda s: idn.revoke_role(s, tenant.admin, "globex", ADMIN, group="admins"),
        lambda s: licensing.get_licence(s, tenant.admin, "globex"),
        lambda s: audit.list_events(s, tenant.admin, "globex"),
        lambda s: auth.reset_password(s, tenant.admin, "globex", "gina@globex"),
        lambda s: auth.set_mfa_required(s, tenant.admin, "globex", True),
        lambda s: mailboxes.create_mailbox(s, tenant.admin, "globex", "x@globex", kind="shared"),
    ]
    for call in calls:
        with rt.session() as s:
            with pytest.raises(NotFound, match="no organization named 'globex'") as e:
                call(s)
            with pytest.raises(NotFound) as missing:
                idn.list_users(s, tenant.admin, "does-not-exist")
            assert str(e.value).replace("globex", "X") == str(missing.value).replace("does-not-exist", "X")
    with rt.session() as s:  # and its own users are not reachable through its own org either
        with pytest.raises(NotFound, match="no user"):
            idn.delete_user(s, tenant.admin, "acme", "gina@globex")


def test_reader_and_auditor_cannot_administer(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.create_user(s, tenant.admin, "acme", "rea@acme", roles=(READER, AUDITOR))
        rea = _p(s, "rea@acme")
        for call in (lambda: idn.create_user(s, rea, "acme", "x@acme"), lambda: idn.list_users(s, rea, "acme"),
                     lambda: idn.add_domain(s, rea, "acme", "a.com", "global")):
            with pytest.raises(Forbidden):
                call()


def test_org_name_cannot_take_another_orgs_domain(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import create_org

    with rt.session() as s:
        idn.add_domain(s, tenant.admin, "acme", "beta", "local")
    with pytest.raises(Conflict, match="already a domain of another organization"), rt.session() as s:
        create_org(s, "beta", rt.master_key)


def test_only_unrestricted_operators_create_orgs(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import create_org
    from mailark.control.principals import Principal

    tech = Principal("operator", "t", "tech", org_ids=frozenset({tenant.org.id}))
    for actor in (tenant.admin, tech):
        with pytest.raises(Forbidden, match="MSP operators who serve every organization"), rt.session() as s:
            create_org(s, "newco", rt.master_key, actor=actor)
