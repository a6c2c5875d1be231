"""Directory sync against a real OpenLDAP with an Active-Directory-like schema (the `ad` preset)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailark.control.models import Group, GroupMember, Mailbox, MailboxPermission, User
from mailark.control.principals import user_principal
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
        from mailark.control.principals import user_roles

        assert "Compliance" in user_roles(s, ann.id)
        bob = s.scalar(select(User).where(User.login == f"bob@{DOMAIN}"))
        assert "Compliance" not in user_roles(s, bob.id)
    # A second run with nothing changed changes nothing.
    again = sync(rt, tenant.admin)
    assert again.changes == [] and again.status == "ok"


def _addresses(rt, ext: str) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    """address -> origin ("primary" for the primary address)."""
    _, addrs, _ = _mailbox(rt, ext)
    return {a: ("primary" if p else o) for a, p, o in addrs}


def test_rename_alias_changes_and_display_name(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv)
    directory.ad_user("ann", aliases=("a1@example.test", "a2@example.test"))
    sync(rt)
    ext = _user(rt, f"ann@{DOMAIN}").external_id
    # Rename: new UPN and primary address (the entry's DN changes too), one alias dropped, one added.
    directory.set("ann", userPrincipalName=f"ann.lee@{DOMAIN}", mail=f"ann.lee@{DOMAIN}", displayName="Ann Lee",
                  proxyAddresses=[f"SMTP:ann.lee@{DOMAIN}", "smtp:a2@example.test", "smtp:a3@example.test"])
    directory.rename("ann", "ann.lee")
    report = sync(rt)
    assert report.status == "ok", report.message()
    assert [c.action for c in report.changes] == ["user.rename", "user.update", "mailbox.addresses"]
    assert _user(rt, f"ann@{DOMAIN}") is None
    u = _user(rt, f"ann.lee@{DOMAIN}")
    assert u.external_id == ext and u.display_name == "Ann Lee" and u.directory_dn.startswith("cn=ann.lee,")
    # The old primary address stays (retained) so archived mail stays reachable; a removed alias goes.
    assert _addresses(rt, ext) == {f"ann.lee@{DOMAIN}": "primary", f"ann@{DOMAIN}": "retained",
                                   "a2@example.test": "directory", "a3@example.test": "directory"}


def test_retained_address_gives_way_to_its_new_holder(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv)
    directory.ad_user("ann")
    sync(rt)
    ann_ext = _user(rt, f"ann@{DOMAIN}").external_id
    directory.set("ann", userPrincipalName=f"ann.lee@{DOMAIN}", mail=f"ann.lee@{DOMAIN}",
                  proxyAddresses=[f"SMTP:ann.lee@{DOMAIN}"])
    sync(rt)
    directory.ad_user("ann2", upn=f"ann@{DOMAIN}")  # a new Ann gets the old address
    report = sync(rt)
    assert report.status == "ok", report.message()
    assert _addresses(rt, ann_ext) == {f"ann.lee@{DOMAIN}": "primary"}
    assert _addresses(rt, _user(rt, f"ann@{DOMAIN}").external_id) == {f"ann@{DOMAIN}": "primary"}


def test_group_membership_changes_and_group_deletion(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv, role_map={"Archive-Readers": "Reader"})
    directory.ad_user("ann")
    directory.ad_user("bob")
    directory.ad_group("archive-readers", ["ann"])
    directory.ad_group("temp", ["bob"])
    sync(rt)
    directory.join("archive-readers", "bob")
    directory.leave("archive-readers", "ann")
    directory.delete("temp")
    report = sync(rt)
    assert report.status == "ok", report.message()
    assert sorted((c.action, c.details.get("user")) for c in report.changes) == [
        ("group.remove", None), ("member.add", f"bob@{DOMAIN}"), ("member.remove", f"ann@{DOMAIN}")]
    from mailark.control.principals import user_roles

    with rt.session() as s:
        names = set(s.scalars(select(Group.name)))
        assert "temp" not in names and "archive-readers" in names
        assert "Reader" in user_roles(s, _user(rt, f"bob@{DOMAIN}").id)
        assert "Reader" not in user_roles(s, _user(rt, f"ann@{DOMAIN}").id)


def test_deleted_and_disabled_users_removed_or_kept(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.directory_profiles import update_profile

    # two of four (then of three) leave at once: the accidental-delete guard (test_sync_guard.py) expects it
    add_profile(rt, tenant.admin, directory.srv, deleted_users="remove", disabled_users="keep", max_removal_percent=70)
    for n in ("ann", "bob", "carl", "dora"):
        directory.ad_user(n)
    sync(rt)
    exts = {n: _user(rt, f"{n}@{DOMAIN}").external_id for n in ("ann", "bob", "carl", "dora")}
    directory.delete("ann")  # deleted -> removed
    directory.set("bob", userAccountControl=514)  # disabled -> kept, disabled
    report = sync(rt)
    assert report.status == "ok", report.message()
    assert _user(rt, f"ann@{DOMAIN}") is None
    assert _user(rt, f"bob@{DOMAIN}").active is False
    # The mailboxes of both stay: a sync never deletes an archive mailbox.
    assert _mailbox(rt, exts["ann"])[0] == f"ann@{DOMAIN}" and _mailbox(rt, exts["ann"])[2] is None
    assert _mailbox(rt, exts["bob"])[2] == _user(rt, f"bob@{DOMAIN}").id
    directory.set("bob", userAccountControl=512)  # enabled again
    assert [c.action for c in sync(rt).changes] == ["user.enable"]
    assert _user(rt, f"bob@{DOMAIN}").active is True

    with rt.session() as s:
        update_profile(s, tenant.admin, "acme", "corp", rt.master_key,
                       settings={"deleted_users": "keep", "disabled_users": "remove"})
    directory.delete("carl")  # deleted -> kept, disabled
    directory.set("dora", userAccountControl=514)  # disabled -> removed
    report = sync(rt)
    assert report.status == "ok", report.message()
    assert _user(rt, f"carl@{DOMAIN}").active is False
    assert _user(rt, f"dora@{DOMAIN}") is None
    assert _mailbox(rt, exts["dora"]) is not None
    # A removed user who comes back gets the same mailbox again (found by the directory's id).
    directory.set("dora", userAccountControl=512)
    sync(rt)
    dora = _user(rt, f"dora@{DOMAIN}")
    assert dora is not None and _mailbox(rt, exts["dora"])[2] == dora.id


def test_never_removes_the_last_admin(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    from mailark.control import identity

    add_profile(rt, tenant.admin, directory.srv, role_map={"archive-admins": "Admin"})
    directory.ad_user("ann")
    directory.ad_group("archive-admins", ["ann"])
    sync(rt)
    ann = _user(rt, f"ann@{DOMAIN}")
    with rt.session() as s:  # the local first admin leaves: ann (synced) is the only Admin now
        identity.remove_member(s, user_principal(ann), "acme", "admins", "admin@acme")
    directory.delete("ann")
    report = sync(rt)
    assert report.status == "partial"
    refused = report.refused
    assert refused and all("without an Admin" in c.reason for c in refused)
    assert "without an Admin" in report.message()
    assert _user(rt, f"ann@{DOMAIN}") is not None


def test_licence_overflow_adds_what_fits_and_reports_the_rest(rt, directory) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "small", users=3, storage_gb=10)  # admin@small takes one of the three
    add_profile(rt, t.admin, directory.srv, org="small")
    for n in ("ann", "bob", "carl", "dora"):
        directory.ad_user(n, aliases=(f"{n}.x@example.test",))
    directory.ad_group("all", ["ann", "bob", "carl", "dora"])
    report = sync(rt, t.admin, org="small")
    assert report.status == "partial"
    assert report.not_added_for_licence() == [f"carl@{DOMAIN}", f"dora@{DOMAIN}"]
    assert "2 user(s) not added because the licence is full" in report.message()
    assert "licensed users" in report.message()
    with rt.session() as s:
        logins = set(s.scalars(select(User.login).where(User.directory_profile_id.is_not(None))))
        assert logins == {f"ann@{DOMAIN}", f"bob@{DOMAIN}"}
        # never half a user: no mailbox, address or membership of the users not added
        from mailark.control.models import MailboxAddress

        assert s.scalar(select(MailboxAddress.id).where(MailboxAddress.address.like("carl%"))) is None
        assert s.scalar(select(Mailbox.id).where(Mailbox.primary_address.like("dora%"))) is None
    skipped = [c for c in report.changes if c.action == "member.add" and c.status == "skipped"]
    assert {c.details["user"] for c in skipped} == {f"carl@{DOMAIN}", f"dora@{DOMAIN}"}


def test_dry_run_changes_nothing_and_shows_the_plan(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import AuditEvent

    add_profile(rt, tenant.admin, directory.srv)
    directory.ad_user("ann")
    with rt.session() as s:
        before_users = s.scalar(select(User.id).where(User.login == f"ann@{DOMAIN}"))
    report = sync(rt, tenant.admin, dry_run=True)
    assert report.dry_run and [(c.action, c.status) for c in report.changes] == [("user.create", "done")]
    assert "would make 1 change(s)" in report.message()
    assert before_users is None and _user(rt, f"ann@{DOMAIN}") is None
    with rt.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("directory.%"))))
        assert actions == ["directory.create", "directory.dry_run"]
        assert s.scalar(select(AuditEvent.seq).where(AuditEvent.action == "user.create", AuditEvent.target == f"ann@{DOMAIN}")) is None


def test_sync_audited_with_the_acting_principal(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import AuditEvent

    add_profile(rt, tenant.admin, directory.srv)
    directory.ad_user("ann")
    sync(rt, tenant.admin)
    directory.ad_user("bob")
    sync(rt)  # the scheduled run: the system
    with rt.session() as s:
        rows = {(e.action, e.target): e.actor_login for e in s.scalars(select(AuditEvent))}
    assert rows[("user.create", f"ann@{DOMAIN}")] == "admin@acme"
    assert rows[("mailbox.create", f"ann@{DOMAIN}")] == "admin@acme"
    assert rows[("user.create", f"bob@{DOMAIN}")] == "directory-sync"
    assert rows[("directory.sync", "corp")] == "directory-sync"
