"""Archive mailboxes: kinds, addresses, permissions, journal privacy, readable mailboxes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailark.control import identity as idn
from mailark.control import mailboxes as mbx
from mailark.control.models import User
from mailark.control.orgs import Conflict, ControlError, Forbidden, NotFound, ensure_mailbox, find_mailbox
from mailark.control.principals import COMPLIANCE, READER, Principal, user_principal


def _p(s, login):  # type: ignore[no-untyped-def]
    return user_principal(s.scalar(select(User).where(User.login == login)))


@pytest.fixture
def staff(rt, tenant):  # type: ignore[no-untyped-def]
    """ann and bob with their own mailboxes, a shared one, a journal, and a compliance officer."""
    a = tenant.admin
    with rt.session() as s:
        idn.create_user(s, a, "acme", "ann@acme", with_mailbox=True)
        idn.create_user(s, a, "acme", "bob@acme", with_mailbox=True)
        idn.create_user(s, a, "acme", "cid@acme")
        idn.create_group(s, a, "acme", "legal")
        idn.assign_role(s, a, "acme", COMPLIANCE, group="legal")
        idn.add_member(s, a, "acme", "legal", "cid@acme")
        mbx.create_mailbox(s, a, "acme", "info@acme", kind="shared")
        mbx.create_mailbox(s, a, "acme", "journal@acme", kind="journal")
        ids = {m.primary_address: m.id for m in mbx.list_mailboxes(s, a, "acme")}
    return ids


def test_user_gets_read_access_to_own_mailbox_at_once(rt, tenant, staff) -> None:  # type: ignore[no-untyped-def]
    with rt.control() as s:
        assert mbx.readable_mailbox_ids(s, _p(s, "ann@acme")) == {staff["ann@acme"]}
        assert mbx.readable_mailbox_ids(s, _p(s, "bob@acme")) == {staff["bob@acme"]}
        assert mbx.get_mailbox(s, _p(s, "ann@acme"), "acme", "ann@acme").owner == "ann@acme"
        with pytest.raises(NotFound):  # another user's mailbox is invisible, not forbidden
            mbx.get_mailbox(s, _p(s, "ann@acme"), "acme", "bob@acme")
        assert mbx.require_readable(s, _p(s, "ann@acme"), "acme", "ann@acme").id == staff["ann@acme"]
        for who, box in (("ann@acme", "bob@acme"), ("ann@acme", "journal@acme"), ("admin@acme", "ann@acme")):
            with pytest.raises(NotFound, match="that you may read"):
                mbx.require_readable(s, _p(s, who), "acme", box)


def test_permissions_per_user_and_group(rt, tenant, staff) -> None:  # type: ignore[no-untyped-def]
    a = tenant.admin
    with rt.session() as s:
        idn.create_group(s, a, "acme", "support")
        idn.add_member(s, a, "acme", "support", "bob@acme")
        mbx.grant_read(s, a, "acme", "info@acme", group="support")
        mbx.grant_read(s, a, "acme", "bob@acme", user="ann@acme")
    with rt.control() as s:
        assert mbx.readable_mailbox_ids(s, _p(s, "bob@acme")) == {staff["bob@acme"], staff["info@acme"]}
        assert mbx.readable_mailbox_ids(s, _p(s, "ann@acme")) == {staff["ann@acme"], staff["bob@acme"]}
        assert mbx.list_permissions(s, a, "acme", "info@acme") == ["group support"]
    with rt.session() as s:
        mbx.revoke_read(s, a, "acme", "info@acme", group="support")
        assert staff["info@acme"] not in mbx.readable_mailbox_ids(s, _p(s, "bob@acme"))


def test_journal_only_for_compliance(rt, tenant, staff) -> None:  # type: ignore[no-untyped-def]
    a = tenant.admin
    with pytest.raises(Conflict, match="Compliance"), rt.session() as s:
        mbx.grant_read(s, a, "acme", "journal@acme", user="ann@acme")
    with rt.session() as s:  # even Readers and Admins do not read mail by default
        idn.assign_role(s, a, "acme", READER, user="ann@acme")
        assert staff["journal@acme"] not in mbx.readable_mailbox_ids(s, _p(s, "ann@acme"))
        assert mbx.readable_mailbox_ids(s, a) == set()
        assert mbx.readable_mailbox_ids(s, _p(s, "cid@acme")) == set(staff.values())


def test_addresses_unique_within_org_and_aliases(rt, tenant, other, staff) -> None:  # type: ignore[no-untyped-def]
    a = tenant.admin
    with rt.session() as s:
        mbx.add_alias(s, a, "acme", "ann@acme", "Ann.Smith@ACME")
        mbx.add_alias(s, a, "acme", "ann@acme", "as@acme")
        assert find_mailbox(s, tenant.org, "ann.smith@acme").id == staff["ann@acme"]
        assert mbx.get_mailbox(s, a, "acme", "ann@acme").aliases == ["ann.smith@acme", "as@acme"]
    for addr in ("ann.smith@acme", "info@acme"):
        with pytest.raises(Conflict, match="already belongs"), rt.session() as s:
            mbx.add_alias(s, a, "acme", "bob@acme", addr)
    with pytest.raises(Conflict, match="already belongs"), rt.session() as s:
        mbx.create_mailbox(s, a, "acme", "AS@acme", kind="shared")
    with rt.session() as s:  # the same address in another organization is fine
        mbx.create_mailbox(s, other.admin, "globex", "ann@acme", kind="shared")
        mbx.make_primary(s, a, "acme", "ann.smith@acme")
        assert mbx.get_mailbox(s, a, "acme", "ann@acme").primary_address == "ann.smith@acme"
    with pytest.raises(Conflict, match="primary"), rt.session() as s:
        mbx.remove_alias(s, a, "acme", "ann.smith@acme")
    with rt.session() as s:
        mbx.remove_alias(s, a, "acme", "ann@acme")
        assert find_mailbox(s, tenant.org, "ann@acme") is None


def test_kinds_and_owner_rules(rt, tenant, staff) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ControlError, match="invalid mailbox kind"), rt.session() as s:
        mbx.create_mailbox(s, tenant.admin, "acme", "x@acme", kind="public")
    with pytest.raises(ControlError, match="only user mailboxes"), rt.session() as s:
        mbx.create_mailbox(s, tenant.admin, "acme", "x@acme", kind="shared", owner="ann@acme")
    with pytest.raises(Forbidden), rt.session() as s:
        mbx.create_mailbox(s, _p(s, "cid@acme"), "acme", "x@acme", kind="shared")


def test_mailboxes_isolated_between_tenants(rt, tenant, other, staff) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        idn.create_user(s, other.admin, "globex", "gus@globex", with_mailbox=True)
        mbx.create_mailbox(s, other.admin, "globex", "j@globex", kind="journal")
        gus = _p(s, "gus@globex")
        for call in (lambda: mbx.list_mailboxes(s, gus, "acme"), lambda: mbx.get_mailbox(s, gus, "acme", "ann@acme"),
                     lambda: mbx.readable_mailbox_ids(s, gus, "acme"),
                     lambda: mbx.grant_read(s, other.admin, "acme", "ann@acme", user="gus@globex")):
            with pytest.raises(NotFound, match="no organization named 'acme'"):
                call()
        # compliance in acme reads nothing of globex
        assert mbx.readable_mailbox_ids(s, _p(s, "cid@acme")) == set(staff.values())
        with pytest.raises(NotFound, match="no user"):  # a grant to another org's user
            mbx.grant_read(s, tenant.admin, "acme", "info@acme", user="gus@globex")


def test_operators_read_what_they_serve(rt, tenant, other, staff) -> None:  # type: ignore[no-untyped-def]
    """The deployment operator (local CLI) reads everything; an operator account nothing without a grant (issue 14)."""
    with rt.session() as s:
        mbx.create_mailbox(s, other.admin, "globex", "g@globex", kind="shared")
        everything = mbx.readable_mailbox_ids(s, Principal.deployment_operator())
        assert set(staff.values()) < everything and len(everything) == len(staff) + 1
        tech = Principal("operator", "t1", "tech", org_ids=frozenset({other.org.id}))
        assert mbx.readable_mailbox_ids(s, tech) == set()
        assert mbx.readable_mailbox_ids(s, tech, "globex") == set()
        with pytest.raises(NotFound):
            mbx.list_mailboxes(s, tech, "acme")


def test_import_path_unchanged_and_licensed_form(rt, tenant) -> None:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        mb, created = ensure_mailbox(s, tenant.org, "old@acme")
        assert created and mb.kind == "user"
        again, created = mbx.ensure_archive_mailbox(s, tenant.admin, "acme", "OLD@acme")
        assert again.id == mb.id and not created
        new, created = mbx.ensure_archive_mailbox(s, tenant.admin, "acme", "new@acme")
        assert created and new.primary_address == "new@acme"
