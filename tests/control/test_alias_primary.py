"""Making an alias a mailbox's primary address: the swap, its checks and audit, and that mail still
routes to the mailbox (journal by either address, `mailbox:` search by either address) afterwards."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.search.indexer import sync_index
from mailark.control import audit
from mailark.control import mailboxes as mbx
from mailark.control.identity import add_domain, remove_domain
from mailark.control.models import Mailbox, SourceProfile
from mailark.control.orgs import Conflict, Forbidden, NotFound, find_mailbox
from mailark.control.principals import Principal
from mailark.operations.searching import matching_copies
from mailark.sources.journal import drops
from mailark.sources.journal.drain import _Mailboxes, copies
from mailark.sources.journal.profiles import add_journal
from tests.control.conftest import make_tenant
from tests.search.mails import message


def test_swap_checks_and_audit(rt) -> None:  # type: ignore[no-untyped-def]
    t, other = make_tenant(rt, "acme"), make_tenant(rt, "globex")
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "acme", "info@acme", kind="shared")
        mbx.add_alias(s, t.admin, "acme", "info@acme", "hello@acme")
        add_domain(s, t.admin, "acme", "elsewhere.example", "global")  # an alias must be in a domain of the
        mbx.add_alias(s, t.admin, "acme", "info@acme", "info@elsewhere.example")  # organization; removing the
        remove_domain(s, t.admin, "acme", "elsewhere.example")  # domain leaves the address, outside any domain
    with pytest.raises(NotFound), rt.session() as s:  # an outsider: the address does not exist for it
        mbx.make_primary(s, other.admin, "acme", "hello@acme")
    with pytest.raises(Conflict, match="not in a domain of organization 'acme'.*add the domain"), rt.session() as s:
        mbx.make_primary(s, t.admin, "acme", "info@elsewhere.example")
    with pytest.raises(Conflict, match="already the primary"), rt.session() as s:
        mbx.make_primary(s, t.admin, "acme", "info@acme")
    with rt.session() as s:
        mbx.make_primary(s, t.admin, "acme", "HELLO@acme")
        box = mbx.get_mailbox(s, t.admin, "acme", "info@acme")
        assert box.primary_address == "hello@acme" and box.aliases == ["info@acme", "info@elsewhere.example"]
        assert find_mailbox(s, t.org, "info@acme").id == box.id  # the old address still reaches it
        with pytest.raises(Conflict, match="already belongs"):  # uniqueness kept: neither address is free
            mbx.create_mailbox(s, t.admin, "acme", "info@acme", kind="shared")
        events = list(audit.list_events(s, Principal.deployment_operator(), "acme", filters=audit.AuditFilter(action="mailbox.make_primary")))
        assert len(events) == 1 and events[0].target == "hello@acme" and events[0].details["was"] == "info@acme"
        add_domain(s, t.admin, "acme", "elsewhere.example", "global")  # with its domain accepted it may be primary
        mbx.make_primary(s, t.admin, "acme", "info@elsewhere.example")
        assert mbx.get_mailbox(s, t.admin, "acme", "hello@acme").primary_address == "info@elsewhere.example"


def test_reader_may_not_swap(rt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control import identity

    t = make_tenant(rt, "acme")
    with rt.session() as s:
        mbx.create_mailbox(s, t.admin, "acme", "info@acme", kind="shared")
        mbx.add_alias(s, t.admin, "acme", "info@acme", "hello@acme")
        rita = identity.create_user(s, t.admin, "acme", "rita@acme", roles=("Reader",)).user
        from mailark.control.principals import user_principal

        reader = user_principal(rita)
    with pytest.raises(Forbidden), rt.session() as s:
        mbx.make_primary(s, reader, "acme", "hello@acme")


def test_journal_and_search_find_the_mailbox_by_either_address(rt) -> None:  # type: ignore[no-untyped-def]
    t = make_tenant(rt, "acme")
    with rt.session() as s:
        ann = mbx.create_mailbox(s, t.admin, "acme", "ann@acme", kind="shared")
        mbx.add_alias(s, t.admin, "acme", "ann@acme", "ann.archer@acme")
        view, _ = add_journal(s, t.admin, "acme", rt.master_key, rt.settings.journal.domain, name="journal",
                              allow_networks=["127.0.0.0/8"])
        jbox = json.loads(s.scalar(select(SourceProfile.config).where(SourceProfile.id == view.id)))["mailbox"]
        mbx.add_alias(s, t.admin, "acme", jbox, "journal-new@acme")
        ann_id = ann.id
    org = rt.org("acme")
    old = message(1, to="Ann <ann@acme>", subject="Before the swap", body="quarterly figures")
    BatchWriter(rt.archive_for(org), "r1", "test").write([Incoming(old, ann_id, "ann@acme", "INBOX", "test", "1")])

    with rt.session() as s:
        mbx.make_primary(s, t.admin, "acme", "ann.archer@acme")
        mbx.make_primary(s, t.admin, "acme", "journal-new@acme")
        cfg = json.loads(s.scalar(select(SourceProfile.config).where(SourceProfile.id == view.id)))
        assert cfg["mailbox"] == "journal-new@acme"  # the journal profile follows its mailbox's new address
        n_boxes = len(list(s.scalars(select(Mailbox.id).where(Mailbox.org_id == org.id))))

    # journal: a report to the old address lands in the same mailbox (under its new primary address),
    # and a drop queued with the journal mailbox's old address still lands in the journal mailbox
    boxes = _Mailboxes(rt, org)
    meta = drops.DropMeta(kind="journal", profile_id=view.id, profile_name="journal", mailbox=jbox, folder="Journal",
                          mail_from="someone@example.net")
    new = message(2, to="Ann <ann@acme>", subject="After the swap", body="quarterly figures")
    items = copies(meta, new, "2", boxes)
    assert {(i.mailbox_id, i.mailbox) for i in items if i.mailbox_id == ann_id} == {(ann_id, "ann.archer@acme")}
    assert any(i.mailbox == "journal-new@acme" for i in items)
    with rt.session() as s:
        assert len(list(s.scalars(select(Mailbox.id).where(Mailbox.org_id == org.id)))) == n_boxes  # none created
    BatchWriter(rt.archive_for(org), "r2", "test").write(items)
    sync_index(rt.archive_for(org), rt.settings.db_dir)

    with rt.session() as s:
        for address in ("ann@acme", "ann.archer@acme"):
            found = matching_copies(s, Principal.deployment_operator(), "acme", rt.settings, f"mailbox:{address} quarterly")
            assert len(found) == 2, address  # the copy archived before the swap and the one after
