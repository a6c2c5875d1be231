"""Alias rules: an alias is in one of the organization's domains; an address a journal/import source
fills its mailbox by is not removed (the drain would make a second mailbox for it) — by hand, through
the API and the CLI, and by directory sync; outsiders get NotFound; successful changes are audited."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from mailark.control import audit
from mailark.control import mailboxes as mbx
from mailark.control.identity import add_domain, remove_domain
from mailark.control.models import Mailbox, Organization, SourceProfile
from mailark.control.orgs import Conflict, ControlError, NotFound
from mailark.control.principals import Principal
from mailark.control.sources import create_source, update_source
from mailark.sources.journal.drain import _Mailboxes
from mailark.sources.journal.profiles import add_import, add_journal, load_routes
from tests.control.conftest import make_tenant

FOREIGN = "not in a domain of organization 'acme'"


def _boxes(s, org_id: str) -> int:  # type: ignore[no-untyped-def]
    return int(s.scalar(select(func.count()).select_from(Mailbox).where(Mailbox.org_id == org_id)))


def _events(s, action: str) -> list[audit.AuditEntry]:  # type: ignore[no-untyped-def]
    return list(audit.list_events(s, Principal.deployment_operator(), "acme", filters=audit.AuditFilter(action=action)))


def _point(rt, name: str, address: str) -> None:  # type: ignore[no-untyped-def]
    """Change which address a source's config names for its mailbox (as PATCH .../sources/NAME does)."""
    with rt.session() as s:
        cfg = json.loads(s.scalar(select(SourceProfile.config).where(SourceProfile.name == name)))
        update_source(s, Principal.deployment_operator(), "acme", name, rt.master_key, config={**cfg, "mailbox": address})


def test_add_alias_only_in_the_organizations_domains(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "acme", "info@acme", kind="shared")
    with pytest.raises(Conflict) as e, rt.session() as s:
        mbx.add_alias(s, t.admin, "acme", "info@acme", "Hello@Elsewhere.Example")
    msg = str(e.value)
    assert FOREIGN in msg and "an address of an archive mailbox must be" in msg
    assert "mailark domain add elsewhere.example --org acme" in msg and "/api/orgs/acme/domains" in msg
    with pytest.raises(ControlError, match="invalid mailbox address"), rt.session() as s:
        mbx.add_alias(s, t.admin, "acme", "info@acme", "no-at-sign")
    with rt.session() as s:
        assert mbx.get_mailbox(s, t.admin, "acme", "info@acme").aliases == []  # nothing half-added
        assert _events(s, "mailbox.add_alias") == []
        add_domain(s, t.admin, "acme", "elsewhere.example", "global")
        mbx.add_alias(s, t.admin, "acme", "info@acme", "Hello@Elsewhere.Example")
        mbx.add_alias(s, t.admin, "acme", "info@acme", "hi@acme")  # the default domain is the organization's too
        assert mbx.get_mailbox(s, t.admin, "acme", "info@acme").aliases == ["hello@elsewhere.example", "hi@acme"]
        [first, second] = _events(s, "mailbox.add_alias")
        assert (first.target, first.details, first.actor) == ("info@acme", {"alias": "hello@elsewhere.example"},
                                                             "admin@acme")
        assert second.details == {"alias": "hi@acme"}


def test_make_primary_shares_the_domain_check(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")
    with rt.session() as s:
        add_domain(s, t.admin, "acme", "old.example", "global")
        mbx.create_mailbox(s, t.admin, "acme", "info@acme", kind="shared")
        mbx.add_alias(s, t.admin, "acme", "info@acme", "info@old.example")
        remove_domain(s, t.admin, "acme", "old.example")  # the mailbox keeps the address, outside any domain now
        assert mbx.get_mailbox(s, t.admin, "acme", "info@acme").aliases == ["info@old.example"]
    with pytest.raises(Conflict, match=f"{FOREIGN}: a primary address must be; add the domain 'old.example' first "
                                       r"\(mailark domain add old.example --org acme"), rt.session() as s:
        mbx.make_primary(s, t.admin, "acme", "info@old.example")
    with rt.session() as s:  # an address left outside the domains can still be removed
        mbx.remove_alias(s, t.admin, "acme", "info@old.example")
        assert [e.details for e in _events(s, "mailbox.remove_alias")] == [{"alias": "info@old.example"}]


def test_remove_alias_refused_while_an_import_fills_the_mailbox_by_it(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")
    with rt.session() as s:
        ann = mbx.create_mailbox(s, t.admin, "acme", "ann@acme", kind="shared")
        mbx.add_alias(s, t.admin, "acme", "ann@acme", "ann.a@acme")
        add_import(s, t.admin, "acme", rt.master_key, rt.settings.journal.domain, mailbox="ann@acme", name="pst")
        ann_id, org_id = ann.id, ann.org_id
    _point(rt, "pst", "ann.a@acme")  # the source names the alias, not the primary address
    with pytest.raises(Conflict) as e, rt.session() as s:
        mbx.remove_alias(s, t.admin, "acme", "ANN.A@acme")
    msg = str(e.value)
    assert "mail source(s) 'pst' of organization 'acme' still fill the archive mailbox by 'ann.a@acme'" in msg
    assert "second mailbox" in msg and "mailark source remove NAME --org acme" in msg
    assert "PATCH /api/orgs/acme/sources/NAME" in msg

    # what the refusal protects: the import's drops still land in ann's mailbox, and none is created
    with rt.session() as s:
        route = next(r for r in load_routes(s, rt.master_key, rt.settings.journal.domain).values() if r.profile_name == "pst")
        n = _boxes(s, org_id)
        assert mbx.get_mailbox(s, t.admin, "acme", "ann@acme").aliases == ["ann.a@acme"]
        assert _events(s, "mailbox.remove_alias") == []
    org = rt.org("acme")
    assert _Mailboxes(rt, org).ensure(route.mailbox, "user")[0] == ann_id
    with rt.session() as s:
        assert _boxes(s, org_id) == n

    _point(rt, "pst", "ann@acme")  # pointed back at the primary address: the alias may go
    with rt.session() as s:
        mbx.remove_alias(s, t.admin, "acme", "ann.a@acme")
        [ev] = _events(s, "mailbox.remove_alias")
        assert (ev.target, ev.details) == ("ann@acme", {"alias": "ann.a@acme"})


def test_remove_alias_refused_for_a_journal_address_without_a_mailbox_key(rt) -> None:  # type: ignore[no-untyped-def]
    """A journal profile made through the generic sources API fills the mailbox of its own address
    (every endpoint profile records its address when it is made)."""
    t = make_tenant(rt, "acme")
    deploy = rt.settings.journal.domain
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "acme", "records@acme", kind="journal")
        mbx.add_alias(s, t.admin, "acme", "records@acme", "jin@acme")
        add_domain(s, t.admin, "acme", f"acme.{deploy}", "local")
        mbx.add_alias(s, t.admin, "acme", "records@acme", f"journal-j3@acme.{deploy}")
        mbx.add_alias(s, t.admin, "acme", "records@acme", "spare@acme")
        create_source(s, t.admin, "acme", "journal", "j2", {"address": "jin@acme"}, None, rt.master_key)
        create_source(s, t.admin, "acme", "journal", "j3", {"address": f"journal-j3@acme.{deploy}"}, None, rt.master_key)
        routes = load_routes(s, rt.master_key, deploy)
        assert {routes["jin@acme"].mailbox, routes[f"journal-j3@acme.{deploy}"].mailbox} == \
            {"jin@acme", f"journal-j3@acme.{deploy}"}  # what the drain will look up
    with pytest.raises(Conflict, match="source\\(s\\) 'j2' .* by 'jin@acme'"), rt.session() as s:
        mbx.remove_alias(s, t.admin, "acme", "jin@acme")
    with pytest.raises(Conflict, match=f"source\\(s\\) 'j3' .* by 'journal-j3@acme.{deploy}'"), rt.session() as s:
        mbx.remove_alias(s, t.admin, "acme", f"journal-j3@acme.{deploy}")
    with rt.session() as s:
        mbx.remove_alias(s, t.admin, "acme", "spare@acme")  # an address no source names goes
        assert mbx.profiles_filling(s, t.org, "records@acme") == []


def test_make_primary_moves_the_journal_then_the_old_address_may_go(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")
    with rt.session() as s:
        view, _ = add_journal(s, t.admin, "acme", rt.master_key, rt.settings.journal.domain,
                              allow_networks=["127.0.0.0/8"])
        old = view.config["mailbox"]
        mbx.add_alias(s, t.admin, "acme", old, "journal@acme")
    with pytest.raises(Conflict, match="primary address of its mailbox"), rt.session() as s:
        mbx.remove_alias(s, t.admin, "acme", old)
    with rt.session() as s:
        mbx.make_primary(s, t.admin, "acme", "journal@acme")  # moves the profile to journal@acme
        assert mbx.profiles_filling(s, t.org, old) == [] and mbx.profiles_filling(s, t.org, "journal@acme") == ["journal"]
        mbx.remove_alias(s, t.admin, "acme", old)  # nothing fills the mailbox by the old address now
        [ev] = _events(s, "mailbox.make_primary")
        assert ev.details == {"was": old, "profiles": ["journal"]}


def test_domain_removal_keeps_the_addresses_sources_fill(rt) -> None:  # type: ignore[no-untyped-def]
    """Removing a domain removes no mailbox address, so a source filling one keeps finding its mailbox;
    the address then stays protected against removal like any other."""
    t = make_tenant(rt, "acme")
    with rt.session() as s:
        add_domain(s, t.admin, "acme", "acme.example", "global")
        desk = mbx.create_mailbox(s, t.admin, "acme", "desk@acme", kind="shared")
        mbx.add_alias(s, t.admin, "acme", "desk@acme", "desk@acme.example")
        add_import(s, t.admin, "acme", rt.master_key, rt.settings.journal.domain, mailbox="desk@acme", name="pst")
        desk_id, org_id = desk.id, desk.org_id
    _point(rt, "pst", "desk@acme.example")
    with rt.session() as s:
        remove_domain(s, t.admin, "acme", "acme.example")
        assert s.scalar(select(SourceProfile.name).where(SourceProfile.name == "pst")) == "pst"  # not tied to it
        n = _boxes(s, org_id)
    assert _Mailboxes(rt, rt.org("acme")).ensure("desk@acme.example", "user")[0] == desk_id
    with rt.session() as s:
        assert _boxes(s, org_id) == n
    with pytest.raises(Conflict, match="'pst'"), rt.session() as s:
        mbx.remove_alias(s, t.admin, "acme", "desk@acme.example")


def test_outsiders_get_not_found_and_sources_are_per_organization(rt) -> None:  # type: ignore[no-untyped-def]
    t, other = make_tenant(rt, "acme"), make_tenant(rt, "globex")
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "acme", "info@acme", kind="shared")
        mbx.add_alias(s, t.admin, "acme", "info@acme", "hello@acme")
    # globex cannot have a mailbox in acme's domain (issue 13: a mailbox lives in its organization's domains)
    with pytest.raises(Conflict, match="not in a domain of organization 'globex'"), rt.session() as s:
        mbx.create_mailbox(s, other.admin, "globex", "hello@acme", kind="shared")
    with pytest.raises(Conflict, match="its domain is not one of organization 'globex''s"), rt.session() as s:
        add_import(s, other.admin, "globex", rt.master_key, rt.settings.journal.domain, mailbox="hello@acme", name="pst")
    for call in (lambda s: mbx.add_alias(s, other.admin, "acme", "info@acme", "x@acme"),
                 lambda s: mbx.remove_alias(s, other.admin, "acme", "hello@acme"),
                 lambda s: mbx.make_primary(s, other.admin, "acme", "hello@acme")):
        with pytest.raises(NotFound), rt.session() as s:
            call(s)
    with pytest.raises(NotFound), rt.session() as s:  # its own organization has no mailbox info@acme
        mbx.add_alias(s, other.admin, "globex", "info@acme", "x@globex")
    with rt.session() as s:
        assert mbx.get_mailbox(s, t.admin, "acme", "info@acme").aliases == ["hello@acme"]
        mbx.remove_alias(s, t.admin, "acme", "hello@acme")


# ---- directory sync ------------------------------------------------------------------------------------


DOM = "contoso.example"


class _Tenant:
    """A Microsoft 365 directory reader returning what the test puts in it (as tests/directory do)."""

    def __init__(self) -> None:
        from mailark.control.directory_records import DirectorySnapshot

        self.snapshot = DirectorySnapshot()

    def __call__(self, config: dict, secret: dict):  # type: ignore[no-untyped-def,type-arg]
        return self.snapshot


def _user(gid: str, name: str, primary: str, aliases: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    from mailark.control.directory_records import DirectoryUser

    return DirectoryUser(external_id=gid, login=f"{name}@{DOM}", primary_address=primary, aliases=aliases,
                         display_name=name.title(), enabled=True, kind="user")


def test_directory_mailboxes_read_only_and_sync_keeps_what_sources_fill(rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.directory_profiles import create_profile
    from mailark.sources.directory.sync import run_named
    from mailark.control.directory_records import DirectorySnapshot

    t = make_tenant(rt, "contoso", users=4, storage_gb=10)
    with rt.session() as s:
        create_profile(s, t.admin, "contoso", "m365", "tenant", {"tenant_id": "t-1", "client_id": "app-1"},
                       {"client_secret": "very-secret"}, rt.master_key, domains=[DOM])
    m365 = _Tenant()
    m365.snapshot = DirectorySnapshot(users=[_user("g-ann", "ann", f"ann@{DOM}", (f"ann.a@{DOM}", f"a@{DOM}"))])
    assert run_named(rt, t.admin, "contoso", "tenant", reader=m365).status == "ok"
    with rt.session() as s:
        ann_id = s.scalar(select(Mailbox.id).where(Mailbox.external_id == "g-ann"))
        add_import(s, t.admin, "contoso", rt.master_key, rt.settings.journal.domain, mailbox=f"ann@{DOM}", name="pst")
        add_import(s, t.admin, "contoso", rt.master_key, rt.settings.journal.domain, mailbox=f"ann@{DOM}", name="old")
        cfg = json.loads(s.scalar(select(SourceProfile.config).where(SourceProfile.name == "old")))
        update_source(s, t.admin, "contoso", "old", rt.master_key, config={**cfg, "mailbox": f"ann.a@{DOM}"})
    for call in (lambda s: mbx.add_alias(s, t.admin, "contoso", f"ann@{DOM}", f"x@{DOM}"),
                 lambda s: mbx.remove_alias(s, t.admin, "contoso", f"a@{DOM}"),
                 lambda s: mbx.make_primary(s, t.admin, "contoso", f"a@{DOM}")):
        with pytest.raises(Conflict, match="come from a directory and are read-only"), rt.session() as s:
            call(s)

    # the directory renames ann's address and drops both aliases: the one source "old" fills by stays
    # (retained), the other goes; "pst", which named the old primary, follows the new one
    m365.snapshot = DirectorySnapshot(users=[_user("g-ann", "ann", f"ann.archer@{DOM}")])
    r = run_named(rt, t.admin, "contoso", "tenant", reader=m365)
    assert r.status == "ok", r.message()
    with rt.session() as s:
        box = s.get(Mailbox, ann_id)
        assert box.primary_address == f"ann.archer@{DOM}"
        assert {a.address: a.origin for a in box.addresses} == {
            f"ann.archer@{DOM}": "directory", f"ann@{DOM}": "retained", f"ann.a@{DOM}": "retained"}
        org = s.scalar(select(Organization).where(Organization.name == "contoso"))
        assert mbx.profiles_filling(s, org, f"ann.archer@{DOM}") == ["pst"]
        assert mbx.profiles_filling(s, org, f"ann.a@{DOM}") == ["old"]
        [ev] = list(audit.list_events(s, Principal.deployment_operator(), "contoso",
                                      filters=audit.AuditFilter(action="source.repoint")))
        assert (ev.target, ev.details) == (f"ann.archer@{DOM}", {"directory": "tenant", "was": f"ann@{DOM}",
                                                                  "profiles": ["pst"]})
        routes = {r.profile_name: r.mailbox for r in load_routes(s, rt.master_key, rt.settings.journal.domain).values()}
        n = _boxes(s, org.id)
    boxes = _Mailboxes(rt, rt.org("contoso"))
    assert {boxes.ensure(routes["pst"], "user")[0], boxes.ensure(routes["old"], "user")[0]} == {ann_id}
    with rt.session() as s:
        assert _boxes(s, org.id) == n  # no second mailbox


# ---- the API and the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def api(tmp_path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    from tests.dashboards.conftest import start_server

    srv = start_server(tmp_path / "api", secure_cookies=False)
    yield srv
    srv.stop()


def test_api_status_codes(api) -> None:  # type: ignore[no-untyped-def]
    from tests.dashboards.conftest import client, login_token

    t, other = make_tenant(api.rt, "acme"), make_tenant(api.rt, "globex")
    token = login_token(api, "admin@acme", t.admin_password, new_password="admin-password-acme")
    outsider = login_token(api, "admin@globex", other.admin_password, new_password="admin-password-globex")
    with api.rt.session() as s:
        mbx.create_mailbox(s, t.admin, "acme", "info@acme", kind="shared")
        add_import(s, t.admin, "acme", api.rt.master_key, api.settings.journal.domain, mailbox="info@acme", name="pst")
    base = "/api/orgs/acme"
    with client(api, token) as c:
        r = c.post(f"{base}/mailboxes/info@acme/aliases", json={"alias": "hello@elsewhere.example"})
        assert r.status_code == 409 and FOREIGN in r.json()["error"] and "mailark domain add" in r.json()["error"]
        r = c.post(f"{base}/mailboxes/info@acme/aliases", json={"alias": "not an address"})
        assert r.status_code == 400 and "invalid mailbox address" in r.json()["error"]
        r = c.post(f"{base}/mailboxes/info@acme/aliases", json={"alias": "hello@acme"})
        assert r.status_code == 201 and r.json()["aliases"] == ["hello@acme"]
        r = c.patch(f"{base}/sources/pst", json={"config": {"address": "import-pst@acme.journal.localhost",
                                                            "mailbox": "hello@acme", "folder": "Imported"}})
        assert r.status_code == 200, r.text
        r = c.delete(f"{base}/aliases/hello@acme")
        assert r.status_code == 409 and "'pst'" in r.json()["error"] and "second mailbox" in r.json()["error"]
        assert c.delete(f"{base}/aliases/nobody@acme").status_code == 404
    with client(api, outsider) as c:
        assert c.post(f"{base}/mailboxes/info@acme/aliases", json={"alias": "x@acme"}).status_code == 404
        assert c.delete(f"{base}/aliases/hello@acme").status_code == 404
        assert c.post(f"{base}/aliases/hello@acme/make-primary").status_code == 404
    with client(api, token) as c:
        r = c.patch(f"{base}/sources/pst", json={"config": {"address": "import-pst@acme.journal.localhost",
                                                            "mailbox": "info@acme", "folder": "Imported"}})
        assert r.status_code == 200, r.text
        assert c.delete(f"{base}/aliases/hello@acme").status_code == 200
    with api.rt.session() as s:  # only the changes that were made are in the log, by the admin who made them
        events = [(e.action, e.actor) for e in _events(s, "mailbox.") if e.action != "mailbox.create"]
    assert events == [("mailbox.add_alias", "admin@acme"), ("mailbox.remove_alias", "admin@acme")]


def test_cli_refusals_exit_1_with_the_message(run_cli, rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "acme", "info@acme", kind="shared")
        mbx.add_alias(s, t.admin, "acme", "info@acme", "hello@acme")
        add_import(s, t.admin, "acme", rt.master_key, rt.settings.journal.domain, mailbox="info@acme", name="pst")
    _point(rt, "pst", "hello@acme")
    r = run_cli("alias", "add", "info@acme", "x@elsewhere.example", "--org", "acme", code=1)
    assert FOREIGN in r.stderr and "mailark domain add elsewhere.example --org acme" in r.stderr and r.stdout == ""
    r = run_cli("alias", "remove", "hello@acme", "--org", "acme", code=1)
    assert "'pst'" in r.stderr and "second mailbox" in r.stderr
    run_cli("domain", "add", "elsewhere.example", "--global", "--org", "acme")
    assert "x@elsewhere.example now reaches info@acme" in run_cli("alias", "add", "info@acme", "x@elsewhere.example",
                                                              "--org", "acme").stdout


@pytest.mark.parametrize("bad", ["a/b@acme", "..@acme", "a\\b@acme", "x\u202e@acme", "nul\x00@acme"])
def test_new_addresses_cannot_become_paths(rt, bad: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: an address that reaches an export's entry names must not hold a path or control character."""
    t = make_tenant(rt, "acme")
    with rt.session() as s, pytest.raises(ControlError, match="may not contain"):
        mbx.create_mailbox(s, t.admin, "acme", bad)
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "acme", "fine@acme")
    with rt.session() as s, pytest.raises(ControlError, match="may not contain"):
        mbx.add_alias(s, t.admin, "acme", "fine@acme", bad)
