"""Exchange envelope journal reports (made here from corpus messages, see reports.py): unwrapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailark.sources.journal.report import MalformedReport, is_journal_report, parse_body, unwrap
from tests.sources.journal.reports import corpus_message, make_report


def test_report_fields_and_every_address(corpus: Path) -> None:
    original = corpus_message(corpus, "cpython-test_email/msg_07.txt")
    report = make_report(original, [
        "Sender: Alice@Acme.com", "Subject: Re: a: b", "Message-Id: <m1@acme.com>", "On-Behalf-Of: boss@acme.com",
        "To: bob@acme.com", "Cc: carol@acme.com", "Bcc: dave@acme.com", "To: erin@acme.com, Expanded: team@acme.com",
        "Cc: fwd@fabrikam.com, Forwarded: frank@acme.com", "Recipient: hal@acme.com", "Bcc: ian@acme.com, Expanded: all@acme.com",
    ])
    assert is_journal_report(report) and not is_journal_report(original)
    r = unwrap(report)
    assert r.original == original  # byte for byte
    assert (r.sender, r.subject, r.message_id, r.on_behalf_of) == ("alice@acme.com", "Re: a: b", "<m1@acme.com>", ["boss@acme.com"])
    assert [(x.kind, x.address, x.redirection, x.source) for x in r.recipients][3:5] == [
        ("To", "erin@acme.com", "Expanded", "team@acme.com"), ("Cc", "fwd@fabrikam.com", "Forwarded", "frank@acme.com")]
    assert r.addresses == {"alice@acme.com", "boss@acme.com", "bob@acme.com", "carol@acme.com", "dave@acme.com",
                           "erin@acme.com", "team@acme.com", "fwd@fabrikam.com", "frank@acme.com", "hal@acme.com",
                           "ian@acme.com", "all@acme.com"}


def test_exchange_2003_recipients_list() -> None:
    _, _, _, recipients, _ = parse_body("Sender: a@x.com\nMessage-ID: <1@x>\nRecipients: b@x.com, C <c@x.com>\n")
    assert [r.address for r in recipients] == ["b@x.com", "c@x.com"]


def test_original_with_lf_and_leading_dots_is_taken_exactly(corpus: Path) -> None:
    original = b"From: a@x.com\nSubject: lf\n\n.leading dot\n..two\nend\n"
    r = unwrap(make_report(original, ["Sender: a@x.com", "To: b@x.com"]))
    assert r.original == original


@pytest.mark.parametrize(("raw", "reason"), [
    (b"X-MS-Journal-Report: \r\nSubject: x\r\n\r\nno parts\r\n", "not multipart"),
    (make_report(b"From: a@x.com\r\n\r\nhi\r\n", ["Subject: nobody"]), "names no sender and no recipients"),
    (make_report(b"From: a@x.com\r\n\r\nhi\r\n", ["Sender: a@x.com"]), "lists no recipients"),
    (make_report(b"\r\n\r\n", ["Sender: a@x.com", "To: b@x.com"]), "original message (message/rfc822 part) is missing"),
    (make_report(b"From: a@x.com\r\n\r\nhi\r\n", ["Sender: a@x.com", "To: b@x.com"]).replace(
        b"Content-Type: message/rfc822", b"Content-Type: application/ms-tnef"), "TNEF"),
])
def test_malformed_reports_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedReport, match="malformed journal report") as e:
        unwrap(raw)
    assert reason in str(e.value)
