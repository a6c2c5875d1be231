"""Whole-server mode: one admin credential (a Dovecot master user) archives many mailboxes."""

from __future__ import annotations

from mailark.control.principals import Principal
from mailark.sources.imap.sync import sync_profile
from mailark.sources.imap.client import probe
from tests.peers.dovecot import MASTER_PASSWORD, MASTER_USER
from tests.sources.imap.conftest import append, make_source, new_user


def _server_config(server, **extra):  # type: ignore[no-untyped-def]
    cfg = {"host": server.host, "port": server.imaps_port, "ca_file": str(server.cert), "username": MASTER_USER,
           "mode": "server", "batch_messages": 50}
    cfg.update(extra)
    return cfg


def _per_mailbox(rt) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(rt.lake.execute("SELECT mailbox, count(*) FROM lake.mailbox_items GROUP BY 1").fetchall())


def test_master_user_archives_listed_mailboxes(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    ann, bob = new_user(dovecot), new_user(dovecot)
    append(dovecot, ann, "INBOX", messages[:4])
    append(dovecot, bob, "INBOX", messages[4:6])
    append(dovecot, bob, "Sent", messages[6:9])
    cfg = _server_config(dovecot, accounts=[ann, bob])
    assert f"logged in as {ann}*{MASTER_USER}" in probe(cfg, {"password": MASTER_PASSWORD})
    pid = make_source(rt, "whole-server", cfg, {"password": MASTER_PASSWORD})
    r = sync_profile(rt, pid)
    assert r.status == "ok", r.error
    assert r.accounts == 2 and r.fetched == 9
    assert _per_mailbox(rt) == {ann: 4, bob: 5}
    # Each account's archive mailbox was created, with the account's address.
    from mailark.control.orgs import find_mailbox

    with rt.session() as s:
        assert find_mailbox(s, org, ann) is not None and find_mailbox(s, org, bob) is not None
    append(dovecot, ann, "INBOX", messages[9:10])
    r = sync_profile(rt, pid)
    assert r.fetched == 1 and _per_mailbox(rt)[ann] == 5


def test_every_user_mailbox_and_a_refused_account(rt, org, dovecot, messages) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.mailboxes import create_mailbox

    carl = new_user(dovecot)
    append(dovecot, carl, "INBOX", messages[:2])
    with rt.session(write=True) as s:
        create_mailbox(s, Principal.deployment_operator(), "acme", carl)
        create_mailbox(s, Principal.deployment_operator(), "acme", "nobody@acme")  # no such IMAP account
        create_mailbox(s, Principal.deployment_operator(), "acme", "journal@acme", kind="journal")
    pid = make_source(rt, "all-users", _server_config(dovecot, all_user_mailboxes=True), {"password": MASTER_PASSWORD})
    r = sync_profile(rt, pid)
    # The account the server does not know fails alone; the others are archived.
    assert r.status == "partial" and r.accounts == 2
    assert "nobody@acme" in r.error and "refused the login" in r.error
    assert _per_mailbox(rt) == {carl: 2}
