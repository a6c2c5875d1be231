"""People who are silently removed (issue 18): the accidental-delete guard, roles that survive a
remove-and-re-add, and mailbox names that follow a rename. Against a real OpenLDAP (AD preset)."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from mailark.control.models import AuditEvent, DepartedAccess, DirectoryProfile, Mailbox, User
from tests.directory.conftest import DOMAIN, add_profile, make_tenant, sync


@pytest.fixture
def tenant(rt):  # type: ignore[no-untyped-def]
    return make_tenant(rt, "acme", users=50, storage_gb=10)


def _logins(rt) -> set[str]:  # type: ignore[no-untyped-def]
    with rt.session() as s:
        return set(s.scalars(select(User.login).where(User.directory_profile_id.is_not(None))))


def test_an_empty_directory_read_stops_before_removing_anyone(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv)
    names = [f"user{i:02}" for i in range(12)]
    for n in names:
        directory.ad_user(n)
    assert sync(rt).status == "ok"
    assert len(_logins(rt)) == 12
    for n in names:  # the directory comes back empty (a wrong filter, an OU moved, a broken export)
        directory.delete(n)

    report = sync(rt)
    assert report.status == "failed"
    assert report.mass_removal is not None and report.mass_removal.as_dict() == {
        "leaving": 12, "synced": 12, "percent": 100, "max_removals": 10, "max_removal_percent": 10}
    assert "12 of 12 synced users (100 %)" in report.message() and "--allow-mass-removal" in report.message()
    assert len(_logins(rt)) == 12  # nothing changed
    assert [c.status for c in report.changes] == ["planned"] * 12  # who would have gone
    with rt.session() as s:
        p = s.scalar(select(DirectoryProfile))
        assert p.last_status == "failed" and "12 of 12" in p.last_error
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "directory.sync")
                       .order_by(AuditEvent.seq.desc())).first()
        assert ev.outcome == "failed" and json.loads(ev.details)["mass_removal"]["leaving"] == 12
    # A dry run shows the same stop; an admin who checked the numbers lets it through.
    assert sync(rt, dry_run=True).mass_removal is not None
    from mailark.sources.directory.sync import SYSTEM, run_named

    done = run_named(rt, SYSTEM, "acme", "corp", allow_mass_removal=True)
    assert done.status == "ok", done.message()
    assert _logins(rt) == set()


def test_the_percentage_limit_and_a_single_leaver(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv)
    for n in ("ann", "bob", "carl", "dora", "emil"):
        directory.ad_user(n)
    sync(rt)
    directory.delete("ann")  # one person leaving never trips the guard, even 20 % of a small team
    assert sync(rt).status == "ok"
    directory.delete("bob")
    directory.set("carl", userAccountControl=514)  # disabled counts too: 2 of 4 is 50 %
    report = sync(rt)
    assert report.status == "failed" and report.mass_removal.leaving == 2 and report.mass_removal.synced == 4
    assert f"bob@{DOMAIN}" in _logins(rt)
    # The profile's own limits: an admin who expects such churn raises them.
    from mailark.control.directory_profiles import update_profile

    with rt.session() as s:
        update_profile(s, tenant.admin, "acme", "corp", rt.master_key, settings={"max_removal_percent": 50})
    assert sync(rt).status == "ok"
    assert f"bob@{DOMAIN}" not in _logins(rt)


def test_the_limits_are_checked(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import ControlError

    with pytest.raises(ControlError, match="max_removal_percent must be between 0 and 100"):
        add_profile(rt, tenant.admin, directory.srv, max_removal_percent=150)


def test_cli_stops_and_allow_mass_removal_proceeds(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    from mailark.cli import app

    add_profile(rt, tenant.admin, directory.srv)
    for n in ("ann", "bob", "carl"):
        directory.ad_user(n)
    sync(rt)
    for n in ("ann", "bob", "carl"):
        directory.delete(n)
    runner = CliRunner()
    r = runner.invoke(app, ["directory", "sync", "corp", "--org", "acme"])
    assert r.exit_code == 1 and "3 of 3 synced users" in r.output and "Traceback" not in r.output
    assert f"stopped  user.remove        ann@{DOMAIN}" in r.output
    assert len(_logins(rt)) == 3
    r = runner.invoke(app, ["directory", "sync", "corp", "--org", "acme", "--allow-mass-removal", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["summary"]["user.remove"] == {"done": 3}


def test_roles_and_archive_groups_survive_a_remove_and_re_add(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    from mailark.control import identity
    from mailark.control.mailboxes import create_mailbox, grant_read
    from mailark.control.principals import user_roles

    add_profile(rt, tenant.admin, directory.srv)
    guid = uuid.uuid4().bytes_le
    directory.ad_user("ann", guid=guid)
    directory.ad_user("bob")
    sync(rt)
    with rt.session() as s:  # what the archive (not the directory) gives ann
        identity.assign_role(s, tenant.admin, "acme", "Compliance", user=f"ann@{DOMAIN}")
        identity.create_group(s, tenant.admin, "acme", "auditors")
        identity.add_member(s, tenant.admin, "acme", "auditors", f"ann@{DOMAIN}")
        create_mailbox(s, tenant.admin, "acme", "legal@acme")
        grant_read(s, tenant.admin, "acme", "legal@acme", user=f"ann@{DOMAIN}")
    directory.delete("ann")
    assert sync(rt).status == "ok"
    assert f"ann@{DOMAIN}" not in _logins(rt)
    directory.ad_user("ann", guid=guid)  # the same directory object comes back
    report = sync(rt)
    assert report.status == "ok", report.message()
    from mailark.control.models import Group, GroupMember, MailboxPermission

    with rt.session() as s:
        ann = s.scalar(select(User).where(User.login == f"ann@{DOMAIN}"))
        assert "Compliance" in user_roles(s, ann.id)
        assert s.scalar(select(Group.name).join(GroupMember, GroupMember.group_id == Group.id)
                        .where(GroupMember.user_id == ann.id)) == "auditors"
        legal = s.scalar(select(Mailbox).where(Mailbox.primary_address == "legal@acme"))
        assert s.scalar(select(MailboxPermission.id).where(MailboxPermission.mailbox_id == legal.id,
                                                           MailboxPermission.user_id == ann.id)) is not None
        ev = s.scalar(select(AuditEvent).where(AuditEvent.action == "user.access_restored"))
        assert ev is not None and json.loads(ev.details)["roles"] == ["Compliance"]
        assert s.scalar(select(DepartedAccess)) is None  # given back once, then forgotten


def test_a_mailbox_display_name_follows_a_directory_rename(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv)
    directory.ad_user("ann", display="Ann Smith")
    sync(rt)
    with rt.session() as s:
        assert s.scalar(select(Mailbox.display_name).where(Mailbox.primary_address == f"ann@{DOMAIN}")) == "Ann Smith"
    directory.set("ann", displayName="Ann Lee")
    assert sync(rt).status == "ok"
    with rt.session() as s:
        assert s.scalar(select(Mailbox.display_name).where(Mailbox.primary_address == f"ann@{DOMAIN}")) == "Ann Lee"
        assert s.scalar(select(User.display_name).where(User.login == f"ann@{DOMAIN}")) == "Ann Lee"
