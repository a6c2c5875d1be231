"""Directory logins, read-only synced objects, connection failures, LDAPS/StartTLS and the generic LDAP preset."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailark.control import auth, identity, mailboxes
from mailark.control.models import AuditEvent, User
from mailark.control.orgs import Conflict
from tests.directory.conftest import DOMAIN, PEOPLE, add_profile, make_tenant, sync
from tests.peers.openldap import SYNC_DN
from mailark.sources.directory.login import check_directory_password


@pytest.fixture
def tenant(rt):  # type: ignore[no-untyped-def]
    return make_tenant(rt, "acme", users=10, storage_gb=10)


def _login(rt, login: str, password: str):  # type: ignore[no-untyped-def]
    with rt.session() as s:
        return auth.login(s, rt.master_key, login, password, directory_check=check_directory_password)


def test_directory_login_right_and_wrong_password(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv)
    directory.ad_user("ann", password="ann-directory-pw")
    sync(rt)
    ok = _login(rt, f"ann@{DOMAIN}", "ann-directory-pw")
    assert ok.ok and ok.principal.login == f"ann@{DOMAIN}"
    bad = _login(rt, f"ann@{DOMAIN}", "wrong-password")
    assert not bad.ok and bad.error == "wrong login, password or code" and bad.retry_after == 1
    assert not _login(rt, f"ann@{DOMAIN}", "").ok  # never an unauthenticated bind
    # The password changed in the directory works at once; the old one no longer does.
    directory.set("ann", userPassword="a-new-directory-pw")
    assert _login(rt, f"ann@{DOMAIN}", "a-new-directory-pw").ok
    assert not _login(rt, f"ann@{DOMAIN}", "ann-directory-pw").ok
    with rt.session() as s:
        reasons = [e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login",
                                                                          AuditEvent.outcome == "failed"))]
    assert any("refused by the directory" in d for d in reasons)


def test_directory_login_throttled_and_disabled_users_refused(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv)
    directory.ad_user("ann", password="ann-directory-pw")
    directory.ad_user("bob", password="bob-directory-pw")
    sync(rt)
    for _ in range(auth.MAX_FAILURES):
        _login(rt, f"ann@{DOMAIN}", "guess-guess-guess")
    locked = _login(rt, f"ann@{DOMAIN}", "ann-directory-pw")
    assert not locked.ok and locked.locked
    directory.set("bob", userAccountControl=514)
    sync(rt)  # kept, disabled
    assert not _login(rt, f"bob@{DOMAIN}", "bob-directory-pw").ok


def test_directory_login_off_and_local_password_not_used(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv, directory_login=False)
    directory.ad_user("ann", password="ann-directory-pw")
    sync(rt)
    with rt.session() as s:  # even a local hash (e.g. left from before the sync) is not used
        s.scalar(select(User).where(User.login == f"ann@{DOMAIN}")).password_hash = auth.hash_password("local-password-1")
    assert not _login(rt, f"ann@{DOMAIN}", "ann-directory-pw").ok
    assert not _login(rt, f"ann@{DOMAIN}", "local-password-1").ok


def test_directory_down_gives_a_clear_login_error(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv)
    directory.ad_user("ann", password="ann-directory-pw")
    sync(rt)
    directory.srv.stop()
    r = _login(rt, f"ann@{DOMAIN}", "ann-directory-pw")
    assert not r.ok and "directory that checks your password cannot be reached" in r.error
    directory.srv.start()
    assert _login(rt, f"ann@{DOMAIN}", "ann-directory-pw").ok  # the failure did not count towards a lockout


def test_synced_objects_are_read_only(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    add_profile(rt, tenant.admin, directory.srv, role_map={"staff": "Reader"})
    directory.ad_user("ann")
    directory.ad_group("staff", ["ann"])
    sync(rt)
    a, org, ann = tenant.admin, "acme", f"ann@{DOMAIN}"
    attempts = [
        lambda s: identity.delete_user(s, a, org, ann),
        lambda s: identity.set_user_active(s, a, org, ann, False),
        lambda s: identity.delete_group(s, a, org, "staff"),
        lambda s: identity.add_member(s, a, org, "staff", "admin@acme"),
        lambda s: identity.remove_member(s, a, org, "staff", ann),
        lambda s: identity.assign_role(s, a, org, "Auditor", group="staff"),
        lambda s: identity.revoke_role(s, a, org, "Reader", group="staff"),
        lambda s: identity.remove_domain(s, a, org, DOMAIN),
        lambda s: identity.create_user(s, a, org, f"zed@{DOMAIN}"),
        lambda s: auth.reset_password(s, a, org, ann),
        lambda s: mailboxes.add_alias(s, a, org, ann, "x@example.test"),
        lambda s: mailboxes.make_primary(s, a, org, ann),
    ]
    for attempt in attempts:
        with rt.session() as s, pytest.raises(Conflict, match="directory 'corp'|from a directory"):
            attempt(s)
    # What the archive owns stays editable: a synced user may join a local group, and get a direct role.
    with rt.session() as s:
        identity.create_group(s, a, org, "local-team")
        identity.add_member(s, a, org, "local-team", ann)
        identity.assign_role(s, a, org, "Auditor", user=ann)


def test_wrong_bind_password_and_server_down_fail_the_run_clearly(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.directory_profiles import get_profile

    add_profile(rt, tenant.admin, directory.srv, password="not-the-password")
    directory.ad_user("ann")
    r = sync(rt)
    assert r.status == "failed" and "refused the bind as " + SYNC_DN in r.error and "wrong bind DN or password" in r.error
    with rt.session() as s:
        v = get_profile(s, tenant.admin, "acme", "corp")
        assert v.last_status == "failed" and "wrong bind DN or password" in v.last_error
        assert s.scalar(select(User.id).where(User.login == f"ann@{DOMAIN}")) is None
    add_profile(rt, tenant.admin, directory.srv, name="second", domains=("second.test",))
    directory.srv.stop()
    r = sync(rt, name="second")
    assert r.status == "failed" and "cannot reach the directory server" in r.error
    assert "cannot reach" in r.message()


def test_certificate_checked_on_starttls_and_ldaps(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    directory.ad_user("ann")
    add_profile(rt, tenant.admin, directory.srv, name="tls", url=directory.srv.ldaps_url, security="ldaps")
    r = sync(rt, name="tls")
    assert r.status == "ok" and r.users_seen == 1, r.message()
    # Without our CA the server's certificate is not trusted: refused, with what to do.
    add_profile(rt, tenant.admin, directory.srv, name="untrusted", domains=("other.test",), ca_pem="")
    r = sync(rt, name="untrusted")
    assert r.status == "failed" and "certificate" in r.error and "--ca-file" in r.error
    # A file on the server is named only by the deployment operator (issue 13): an Admin gives the PEM.
    from mailark.control.orgs import Forbidden
    from mailark.control.principals import Principal

    with pytest.raises(Forbidden, match="ca_pem"):
        add_profile(rt, tenant.admin, directory.srv, name="nofile", domains=("nofile.test",), ca_pem="",
                    ca_file="/nonexistent/ca.pem")
    add_profile(rt, Principal.deployment_operator(), directory.srv, name="nofile", domains=("nofile.test",), ca_pem="",
                ca_file="/nonexistent/ca.pem")
    r = sync(rt, name="nofile")
    assert r.status == "failed" and "/nonexistent/ca.pem" in r.error
    # A stored file (from before ca_pem) is still used: the operator's profile with the real CA file syncs.
    add_profile(rt, Principal.deployment_operator(), directory.srv, name="legacy", url=directory.srv.ldaps_url,
                security="ldaps", domains=("legacy.test",), ca_pem="", ca_file=str(directory.srv.ca_file))
    r = sync(rt, name="legacy")
    assert r.status != "failed" and r.users_seen == 1, r.message()  # connected and read (ann's domain is not its)


def test_generic_ldap_preset_with_alias_attribute_and_groups(rt, tenant, directory) -> None:  # type: ignore[no-untyped-def]
    srv = directory.srv
    srv.add(f"uid=eve,{PEOPLE}", ["inetOrgPerson", "mailAliasUser"],
            {"cn": "Eve Adams", "sn": "Adams", "uid": "eve", "mail": f"eve@{DOMAIN}",
             "mailAlternateAddress": [f"e.adams@{DOMAIN}"], "userPassword": "eve-directory-pw"})
    srv.add(f"uid=finn,{PEOPLE}", ["inetOrgPerson"], {"cn": "Finn", "sn": "F", "uid": "finn", "mail": f"finn@{DOMAIN}"})
    srv.add(f"cn=compliance,ou=groups,dc=example,dc=test", ["groupOfNames"],
            {"cn": "compliance", "member": [f"uid=eve,{PEOPLE}"]})
    srv.add(f"cn=staff,ou=groups,dc=example,dc=test", ["posixGroup"],
            {"cn": "staff", "gidNumber": 100, "memberUid": ["eve", "finn"]})
    add_profile(rt, tenant.admin, srv, preset="ldap", role_map={"compliance": "Compliance"})
    r = sync(rt)
    assert r.status == "ok", r.message()
    from mailark.control.principals import user_roles

    with rt.session() as s:
        eve = s.scalar(select(User).where(User.login == f"eve@{DOMAIN}"))
        assert eve.display_name == "Eve Adams" and len(eve.external_id) == 36  # entryUUID
        assert "Compliance" in user_roles(s, eve.id)
        info = mailboxes.get_mailbox(s, tenant.admin, "acme", f"eve@{DOMAIN}")
        assert info.aliases == [f"e.adams@{DOMAIN}"]
        groups = {g.name: m for g, m, _ in identity.list_groups(s, tenant.admin, "acme")}
        assert groups["staff"] == [f"eve@{DOMAIN}", f"finn@{DOMAIN}"]
    assert _login(rt, f"eve@{DOMAIN}", "eve-directory-pw").ok


def test_profiles_one_directory_per_domain_and_secret_never_shown(rt, tenant, directory, other_tenant=None) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.directory_profiles import list_profiles, remove_profile

    v = add_profile(rt, tenant.admin, directory.srv)
    assert v.has_secret and v.domains == [DOMAIN] and "sync-secret-pw" not in repr(v.as_dict())
    with pytest.raises(Conflict, match="at most one directory"):
        add_profile(rt, tenant.admin, directory.srv, name="again")
    globex = make_tenant(rt, "globex")
    with pytest.raises(Conflict, match="taken"):
        add_profile(rt, globex.admin, directory.srv, name="x", org="globex")
    from mailark.control.orgs import NotFound

    with rt.session() as s, pytest.raises(NotFound):  # outsiders see nothing
        list_profiles(s, globex.admin, "acme")
    with rt.session() as s:
        events = " ".join(e.details for e in s.scalars(select(AuditEvent)))
    assert "sync-secret-pw" not in events
    directory.ad_user("ann")
    sync(rt)
    with rt.session() as s:
        released = remove_profile(s, tenant.admin, "acme", "corp")
        assert released["users"] == 1 and released["domains"] == 1
        identity.set_user_active(s, tenant.admin, "acme", f"ann@{DOMAIN}", False)  # an ordinary user again
