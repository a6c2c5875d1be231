"""Issue 13: a journal address takes mail only from authenticated senders or from the sender
networks its profile names; a profile with neither is refused when it is made."""

from __future__ import annotations

import smtplib

import pytest

from mailark.control.orgs import ControlError
from mailark.control.principals import Principal
from mailark.sources.journal.profiles import add_journal
from tests.sources.journal.conftest import DOMAIN
from tests.sources.journal.test_journal import pending, send

RAW = b"From: x@example.net\r\nTo: y@example.net\r\nSubject: s\r\n\r\nbody\r\n"


def test_a_journal_address_needs_auth_or_sender_networks(jrt, acme) -> None:  # type: ignore[no-untyped-def]
    op = Principal.deployment_operator()
    with jrt.session() as s, pytest.raises(ControlError, match="needs the sender networks"):
        add_journal(s, op, "acme", jrt.master_key, DOMAIN, name="open")
    with jrt.session() as s, pytest.raises(ControlError, match="is not a network"):
        add_journal(s, op, "acme", jrt.master_key, DOMAIN, name="bad", allow_networks=["mail.example.com"])
    with jrt.session() as s:
        view, _ = add_journal(s, op, "acme", jrt.master_key, DOMAIN, name="anyone", allow_any_sender=True)
    assert view.config["allow_any_sender"] is True


def test_mail_from_outside_the_sender_networks_is_refused(jrt, acme, endpoint) -> None:  # type: ignore[no-untyped-def]
    op = Principal.deployment_operator()
    with jrt.session() as s:
        far, _ = add_journal(s, op, "acme", jrt.master_key, DOMAIN, name="far", allow_networks=["192.0.2.0/24"])
        near, _ = add_journal(s, op, "acme", jrt.master_key, DOMAIN, name="near", allow_networks=["127.0.0.0/8"])
    before = len(pending(jrt, acme.org))
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(endpoint[1], RAW, [far.config["address"]])
    code, text = refused.value.recipients[far.config["address"]]
    assert code == 550 and b"127.0.0.1 may not send" in text
    assert send(endpoint[1], RAW, [near.config["address"]]) == {}
    assert len(pending(jrt, acme.org)) == before + 1
