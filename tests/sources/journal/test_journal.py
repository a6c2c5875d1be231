"""The journal endpoint with real SMTP clients (Python's smtplib): routing, replies, drops and the drain."""

from __future__ import annotations

import smtplib
import time
from pathlib import Path

import pytest

from mailark.sources.journal import drops
from mailark.sources.journal.drain import drain_all, drain_org
from tests.sources.journal.conftest import JOURNAL, archived, client_tls, quarantined
from tests.sources.journal.reports import corpus_message, make_report

REPORT_LINES = [
    "Sender: alice.smith@acme.com",  # an alias of alice@acme.com
    "Subject: Here is your dingus fish",
    "Message-Id: <dingus@digicool.com>",
    "To: bob@acme.com",
    "Bcc: carol@acme.com",
    "To: dave@acme.com, Expanded: team@acme.com",
    "Cc: outsider@fabrikam.com, Forwarded: erin@acme.com",
    "To: nobody@elsewhere.example",
]


def send(port: int, raw: bytes, to: list[str], sender: str = "", **login: str) -> dict:  # type: ignore[type-arg]
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
        c.ehlo()
        if login:
            c.starttls(context=client_tls())
            c.ehlo()
            c.login(login["user"], login["password"])
        return c.sendmail(sender, to, raw)


def pending(rt, org) -> list[str]:  # type: ignore[no-untyped-def]
    return [o.name for o in drops.pending(rt.store, org.id)]


def test_journal_report_unwrapped_and_linked_to_every_mailbox(jrt, acme, endpoint, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    original = corpus_message(corpus, "cpython-test_email/msg_07.txt")
    report = make_report(original, REPORT_LINES)
    assert send(endpoint[1], report, [JOURNAL]) == {}
    # Durable before the 250: the drop is there, sealed, with the report's bytes exactly.
    [name] = pending(jrt, acme.org)
    assert name.startswith(f"orgs/{acme.org.id}/drops/journal/")
    sealed = jrt.store.get(name)
    assert b"dingus" not in sealed
    meta, raw = drops.read(jrt.store, jrt.archive_for(acme.org).sealer, name)
    assert raw == report and meta.kind == "journal" and meta.mailbox == JOURNAL

    [res] = drain_all(jrt)
    assert res.removed == 1 and pending(jrt, acme.org) == []
    # alice (through her alias), bob, carol (Bcc), dave (expanded from team), erin (forwarded), team
    # (the group has a mailbox too) and the journal mailbox: the original, byte for byte.
    for mb in ["alice@acme.com", "bob@acme.com", "carol@acme.com", "dave@acme.com", "erin@acme.com",
               "team@acme.com", JOURNAL]:
        assert archived(jrt, acme.org, mb) == [original], mb
    assert res.counts.archived == 7 and res.counts.quarantined == 0
    kinds = dict(jrt.lake.execute("SELECT DISTINCT source, count(*) FROM lake.mailbox_items GROUP BY 1").fetchall())
    assert kinds == {"journal": 7}


def test_report_variants_base64_body_and_original(jrt, acme, endpoint, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    original = corpus_message(corpus, "letters/" + sorted(p.name for p in (corpus / "letters").glob("*.txt"))[0])
    report = make_report(original, ["Sender: bob@acme.com", "Subject: x", "Message-Id: <x@y>", "Recipient: carol@acme.com"],
                         encode_body="base64", original_cte="base64")
    send(endpoint[1], report, [JOURNAL])
    drain_all(jrt)
    assert archived(jrt, acme.org, "bob@acme.com") == [original]
    assert archived(jrt, acme.org, "carol@acme.com") == [original]
    assert archived(jrt, acme.org, "alice@acme.com") == []


def test_plain_message_goes_to_journal_and_matching_mailboxes(jrt, acme, endpoint, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    raw = (b"From: Bob <bob@acme.com>\r\nTo: outsider@fabrikam.com\r\nCc: Alice <ALICE.SMITH@acme.com>\r\n"
           b"Subject: plain\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <plain@acme.com>\r\n\r\nhello\r\n")
    send(endpoint[1], raw, [JOURNAL], sender="erin@acme.com")  # envelope sender counts too
    drain_all(jrt)
    for mb in ["bob@acme.com", "alice@acme.com", "erin@acme.com", JOURNAL]:
        assert archived(jrt, acme.org, mb) == [raw], mb
    assert archived(jrt, acme.org, "carol@acme.com") == []


def test_unknown_recipient_550(endpoint) -> None:  # type: ignore[no-untyped-def]
    with smtplib.SMTP("127.0.0.1", endpoint[1], timeout=10) as c:
        c.ehlo()
        c.mail("a@b.example")
        code, msg = c.rcpt("someone@acme.journal.localhost")
        assert code == 550 and b"no journal or import address" in msg
        assert c.rcpt(JOURNAL)[0] == 250


def test_too_big_552_and_size_announced(endpoint) -> None:  # type: ignore[no-untyped-def]
    with smtplib.SMTP("127.0.0.1", endpoint[1], timeout=10) as c:
        c.ehlo()
        assert int(c.esmtp_features["size"]) == 2 * 1024 * 1024
        code, _ = c.mail("a@b.example", ["SIZE=%d" % (3 * 1024 * 1024)])
        assert code == 552
    big = b"Subject: big\r\nFrom: a@b.example\r\n\r\n" + (b"x" * 998 + b"\r\n") * 2200
    with smtplib.SMTP("127.0.0.1", endpoint[1], timeout=10) as c:
        c.ehlo()
        c.mail("a@b.example")  # no SIZE announced: refused after DATA
        assert c.rcpt(JOURNAL)[0] == 250
        assert c.data(big)[0] == 552


def test_long_lines_are_mail_not_errors(jrt, acme, endpoint) -> None:  # type: ignore[no-untyped-def]
    raw = b"From: bob@acme.com\r\nSubject: long line\r\n\r\n" + b"y" * 50_000 + b"\r\n"
    assert send(endpoint[1], raw, [JOURNAL]) == {}
    drain_all(jrt)
    assert archived(jrt, acme.org, "bob@acme.com") == [raw]


def test_storage_full_452_then_accepted_after_room(jrt, acme, endpoint, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import Organization

    with jrt.session() as s:
        s.get(Organization, acme.org.id).storage_quota_bytes = 1000
    time.sleep(0.5)  # past the endpoint's cache of quota and usage (0.2 s in tests)
    raw = corpus_message(corpus, "cpython-test_email/msg_07.txt")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        send(endpoint[1], raw, [JOURNAL])  # smtplib announces SIZE: refused at RCPT
    code, msg = e.value.recipients[JOURNAL]
    assert code == 452 and b"full" in msg
    assert pending(jrt, acme.org) == []
    with jrt.session() as s:
        s.get(Organization, acme.org.id).storage_quota_bytes = 10 * 1024**3
    time.sleep(0.5)
    assert send(endpoint[1], raw, [JOURNAL]) == {}
    assert len(pending(jrt, acme.org)) == 1


def test_drain_defers_while_full_and_keeps_the_drop(jrt, acme, endpoint, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import Organization, SourceProfile
    from sqlalchemy import select

    raw = corpus_message(corpus, "cpython-test_email/msg_07.txt")
    send(endpoint[1], raw, [JOURNAL])
    with jrt.session() as s:
        s.get(Organization, acme.org.id).storage_quota_bytes = 100
    org = jrt.org("acme")
    res = drain_org(jrt, org)
    assert res.counts.deferred >= 1 and res.kept == 1 and res.removed == 0
    assert len(pending(jrt, org)) == 1
    with jrt.session() as s:
        p = s.scalar(select(SourceProfile).where(SourceProfile.kind == "journal"))
        assert p.last_status == "paused" and "storage full" in p.paused_reason
        s.get(Organization, acme.org.id).storage_quota_bytes = 10 * 1024**3
    res = drain_org(jrt, jrt.org("acme"))
    assert res.removed == 1 and pending(jrt, org) == []
    assert archived(jrt, acme.org, JOURNAL) == [raw]


def test_drain_is_idempotent_and_crash_safe(jrt, acme, endpoint, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    raw = corpus_message(corpus, "cpython-test_email/msg_07.txt")
    report = make_report(raw, REPORT_LINES)
    send(endpoint[1], report, [JOURNAL])
    send(endpoint[1], report, [JOURNAL])  # Exchange may journal one message twice
    [a, b] = pending(jrt, acme.org)
    keep = jrt.store.get(a)
    res = drain_org(jrt, jrt.org("acme"))
    assert res.removed == 2 and res.counts.archived == 7 and res.counts.duplicates == 7
    # A drain killed after its batch landed but before it deleted the drop: the drop comes back.
    jrt.store.put_if_absent(a, keep)
    res = drain_org(jrt, jrt.org("acme"))
    assert res.removed == 1 and res.counts.archived == 0 and res.counts.duplicates == 7
    assert archived(jrt, acme.org, "bob@acme.com") == [raw]
    assert drain_org(jrt, jrt.org("acme")).drops == 0


def test_malformed_report_quarantined_with_bytes_and_reason(jrt, acme, endpoint) -> None:  # type: ignore[no-untyped-def]
    bad = (b"X-MS-Journal-Report: \r\nFrom: exchange@contoso.com\r\nSubject: broken\r\n"
           b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
           b"Sender: bob@acme.com\r\nTo: alice@acme.com\r\n--b1--\r\n")
    send(endpoint[1], bad, [JOURNAL])
    res = drain_all(jrt)[0]
    assert res.counts.quarantined == 1 and res.removed == 1
    [(mb, reason, data)] = quarantined(jrt, acme.org)
    assert mb == JOURNAL and data == bad
    assert "original message (message/rfc822 part) is missing" in reason


def test_starttls_auth_required_address(jrt, acme, endpoint) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.principals import Principal
    from mailark.sources.journal.profiles import add_journal

    with jrt.session() as s:
        view, pw = add_journal(s, Principal.deployment_operator(), "acme", jrt.master_key, "journal.localhost",
                               name="secure", auth_required=True)
    addr = view.config["address"]
    assert addr == "journal-secure@acme.journal.localhost" and pw
    time.sleep(0.3)  # the endpoint re-reads its address table after 0.2 s in tests (5 s by default)
    raw = b"From: bob@acme.com\r\nSubject: secure\r\n\r\nbody\r\n"
    with smtplib.SMTP("127.0.0.1", endpoint[1], timeout=10) as c:
        c.ehlo()
        assert "auth" not in c.esmtp_features  # AUTH is offered only after STARTTLS
        assert c.docmd("AUTH", "PLAIN AGpvdXJuYWwAeA==")[0] == 538
        c.mail("")
        code, msg = c.rcpt(addr)  # AUTH required for this address
        assert code == 530
    with smtplib.SMTP("127.0.0.1", endpoint[1], timeout=10) as c:
        c.ehlo()
        c.starttls(context=client_tls())
        c.ehlo()
        assert "PLAIN" in c.esmtp_features["auth"] and "LOGIN" in c.esmtp_features["auth"]
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            c.login(addr, pw + "-wrong")
        assert e.value.smtp_code == 535
    assert send(endpoint[1], raw, [addr], user=addr, password=pw) == {}
    # Authenticated as one address gives no right to another address that requires AUTH.
    with smtplib.SMTP("127.0.0.1", endpoint[1], timeout=10) as c:
        c.ehlo()
        c.starttls(context=client_tls())
        c.ehlo()
        c.login(addr, pw)
        c.mail("")
        assert c.rcpt(JOURNAL)[0] == 250  # no AUTH needed there
    drain_all(jrt)
    assert archived(jrt, acme.org, addr) == [raw]


def test_password_guessing_is_throttled(jrt, acme, endpoint) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.principals import Principal
    from mailark.sources.journal.profiles import add_journal

    with jrt.session() as s:
        view, pw = add_journal(s, Principal.deployment_operator(), "acme", jrt.master_key, "journal.localhost",
                               name="guarded", auth_required=True)
    addr = view.config["address"]
    time.sleep(0.3)
    with smtplib.SMTP("127.0.0.1", endpoint[1], timeout=10) as c:
        c.ehlo()
        c.starttls(context=client_tls())
        c.ehlo()
        c.user = addr
        for n in range(5):  # journal.auth_max_failures
            c.password = f"guess-{n}"
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                c.auth("PLAIN", c.auth_plain)
            assert e.value.smtp_code == 535
        c.password = pw
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            c.auth("PLAIN", c.auth_plain)  # the right password, too late: this client is locked out for a while
        assert e.value.smtp_code == 454


def test_require_tls_refuses_mail_before_starttls(jrt, acme) -> None:  # type: ignore[no-untyped-def]
    from mailark.sources.journal.endpoint import JournalEndpoint

    s = jrt.settings.model_copy(update={"journal": jrt.settings.journal.model_copy(update={"require_tls": True})})
    with JournalEndpoint(s, host="127.0.0.1", port=0, runtime=jrt) as ep:
        assert ep.address is not None
        with smtplib.SMTP("127.0.0.1", ep.address[1], timeout=10) as c:
            c.ehlo()
            assert c.mail("")[0] == 530  # STARTTLS first
            c.starttls(context=client_tls())
            c.ehlo()
            assert c.mail("")[0] == 250 and c.rcpt(JOURNAL)[0] == 250


def test_a_second_journal_profile_gets_its_default_address_and_journal_mailbox(jrt, acme, endpoint) -> None:  # type: ignore[no-untyped-def]
    """A named journal profile without an address gets the default one (journal-<name>@...) and a journal
    mailbox; control.sources alone refuses an endpoint profile without an address (issue 13: every
    endpoint address is recorded, unique, when the profile is made)."""
    from mailark.control.models import Mailbox
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal
    from mailark.control.sources import create_source
    from mailark.sources.journal.profiles import add_journal
    from sqlalchemy import select

    op = Principal.deployment_operator()
    with jrt.session() as s, pytest.raises(ControlError, match="needs an address"):
        create_source(s, op, "acme", "journal", "branch", {}, None, jrt.master_key)
    with jrt.session() as s:
        add_journal(s, op, "acme", jrt.master_key, jrt.settings.journal.domain, name="branch",
                    allow_networks=["127.0.0.0/8"])
    time.sleep(0.3)
    addr = "journal-branch@acme.journal.localhost"
    raw = b"From: bob@acme.com\r\nSubject: branch office\r\n\r\nhi\r\n"
    assert send(endpoint[1], raw, [addr]) == {}
    drain_all(jrt)
    with jrt.session() as s:
        assert s.scalar(select(Mailbox.kind).where(Mailbox.primary_address == addr)) == "journal"
    assert archived(jrt, acme.org, addr) == [raw] and archived(jrt, acme.org, "bob@acme.com") == [raw]
