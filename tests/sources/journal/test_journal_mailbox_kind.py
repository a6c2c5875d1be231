"""Issue 13 (critical): journal mail lands only in a journal mailbox (Compliance only), never in a user
or shared mailbox that Readers can be granted."""

from __future__ import annotations

import json

import pytest

from mailark.control.orgs import Conflict
from mailark.control.principals import Principal
from mailark.sources.journal.drain import drain_all
from tests.sources.journal.conftest import archived
from tests.sources.journal.test_journal import pending, send

RAW = b"From: x@example.net\r\nTo: y@example.net\r\nMessage-ID: <kind@example.net>\r\nSubject: s\r\n\r\nbody\r\n"


def test_a_journal_profile_cannot_name_a_user_or_shared_mailbox(jrt, acme) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.sources import create_source

    op = Principal.deployment_operator()
    for address, config in (("team@acme.com", {}), ("j2@acme.com", {"mailbox": "bob@acme.com"})):
        with pytest.raises(Conflict, match="journal mailbox"), jrt.session() as s:
            create_source(s, op, "acme", "journal", "j2", {"address": address, "allow_any_sender": True, **config},
                          None, jrt.master_key)


def test_the_drain_keeps_journal_mail_meant_for_a_user_mailbox(jrt, acme, endpoint) -> None:  # type: ignore[no-untyped-def]
    """A profile from before the rule (its mailbox a user mailbox, set in the database): its mail stays
    in the drops, with the reason, instead of becoming readable by whoever may read that mailbox."""
    from mailark.control.models import SourceProfile

    with jrt.session() as s:
        p = s.query(SourceProfile).filter_by(org_id=acme.org.id, name="journal").one()
        p.config = json.dumps({**json.loads(p.config), "mailbox": "bob@acme.com"})
    assert send(endpoint[1], RAW, [acme.journal]) == {}
    [res] = drain_all(jrt)
    assert res.kept == 1 and res.removed == 0 and "not a journal mailbox" in res.problems[0], res
    assert archived(jrt, acme.org, "bob@acme.com") == [] and len(pending(jrt, acme.org)) == 1
