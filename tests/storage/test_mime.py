"""Split and rebuild: byte-exact copies, shared skeletons, attachments stored once however wrapped."""

from __future__ import annotations

import base64
import hmac
import os

import pytest

from mailark.storage.mime import PART_MIN_BASE64, NotAMessage, Splitter, encode_base64, rebuild, skeleton_refs

KEY = os.urandom(32)


def splitter() -> Splitter:
    return Splitter(lambda b: hmac.digest(KEY, b, "sha256"))


def roundtrip(raw: bytes) -> bytes:
    s = splitter().split(raw)
    parts = {p.digest: p.content for p in s.parts}
    return rebuild(s.skeleton, s.delta, parts.__getitem__)


def message(attachment: bytes, line_len: int = 76, eol: bytes = b"\r\n", transport: bytes = b"", bcc: bytes = b"") -> bytes:
    body = encode_base64(attachment, line_len, eol, True)
    return (
        transport
        + b"From: Ann <ann@example.org>\r\nTo: bob@example.org\r\n" + bcc
        + b"Subject: report\r\nMessage-ID: <1@example.org>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\npreamble\r\n--XX\r\n'
        b"Content-Type: text/plain\r\n\r\nSee attached.\r\n--XX\r\n"
        b'Content-Type: application/pdf; name="r.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
        b'Content-Disposition: attachment; filename="r.pdf"\r\n\r\n' + body + b"--XX--\r\nepilogue\r\n"
    )


def test_corpus_rebuilds_byte_for_byte(corpus) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        try:
            assert roundtrip(raw) == raw, path
        except NotAMessage:
            continue
        checked += 1
    assert checked > 1000


def test_sent_and_inbox_copies_share_the_skeleton() -> None:
    att = os.urandom(50_000)
    sent = message(att, bcc=b"Bcc: carol@example.org\r\n")
    inbox = message(
        att,
        transport=b"Return-Path: <ann@example.org>\r\nReceived: from mx by mx2; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
        b"Delivered-To: bob@example.org\r\nAuthentication-Results: mx2; dkim=pass\r\n",
    )
    a, b = splitter().split(sent), splitter().split(inbox)
    assert a.message_digest == b.message_digest
    assert a.skeleton == b.skeleton
    assert b"carol" in a.delta and b"Received" in b.delta
    assert len(b.delta) < 300  # the per-copy piece is small, not a header block
    for raw in (sent, inbox):
        assert roundtrip(raw) == raw


def test_rewrapped_base64_attachment_is_one_part() -> None:
    att = os.urandom(30_000)
    variants = [message(att, 76), message(att, 72), message(att, 64, b"\n")]
    splits = [splitter().split(v) for v in variants]
    digests = {s.parts[0].digest for s in splits}
    assert len(digests) == 1
    assert splits[0].parts[0].content == att  # keyed by decoded content
    assert len({s.message_digest for s in splits}) == 3  # different messages all the same
    for v in variants:
        assert roundtrip(v) == v


def test_base64_that_cannot_be_reencoded_falls_back_to_its_bytes() -> None:
    att = os.urandom(30_000)
    raw = message(att)
    # Irregular line lengths: no recipe reproduces them.
    broken = raw.replace(b"\r\n", b"\r\n\r\n", 1) if False else raw
    body_start = broken.index(b"filename=\"r.pdf\"\r\n\r\n") + len(b'filename="r.pdf"\r\n\r\n')
    irregular = broken[:body_start] + b"QUJD\r\n" + broken[body_start:]
    s = splitter().split(irregular)
    assert s.parts[0].recipe.kind == 0
    assert roundtrip(irregular) == irregular


def test_small_base64_stays_in_the_skeleton() -> None:
    att = os.urandom(PART_MIN_BASE64 // 2)
    s = splitter().split(message(att))
    assert s.parts == [] and skeleton_refs(s.skeleton) == []


@pytest.mark.parametrize(
    ("raw", "reason"),
    [(b"", "empty"), (b"   \r\n", "empty"), (b"just some text\nmore\n", "first line"), (b"Foo: bar\r\n\r\nbody", "no From")],
)
def test_not_a_message(raw: bytes, reason: str) -> None:
    with pytest.raises(NotAMessage, match=reason):
        splitter().split(raw)


def test_other_organization_names_differ() -> None:
    att = os.urandom(10_000)
    other = Splitter(lambda b: hmac.digest(os.urandom(32), b, "sha256"))
    assert splitter().split(message(att)).parts[0].digest != other.split(message(att)).parts[0].digest


def test_encode_base64_matches_stdlib() -> None:
    data = os.urandom(1000)
    assert encode_base64(data, 76, b"\n", True) == base64.encodebytes(data)


def test_blanks_before_the_first_field_are_tolerated() -> None:
    from mailark.storage.metadata import extract

    raw = b" From: Ann <ann@example.org>\r\nSubject: plain\r\n\r\nhello\r\n"
    s = splitter().split(raw)
    assert "white space before the first header field" in s.defects
    assert extract(s.top_fields, s.leaves).from_addr == "ann@example.org"
    assert roundtrip(raw) == raw


def test_utf8_bom_before_the_first_field_is_a_message() -> None:
    from mailark.storage.metadata import extract

    raw = b"\xef\xbb\xbfFrom: Ann <ann@example.org>\r\nSubject: saved by Notepad\r\n\r\nhello\r\n"
    s = splitter().split(raw)  # quarantined as "not an RFC 5322 message" before
    assert "UTF-8 byte order mark before the first header field" in s.defects
    meta = extract(s.top_fields, s.leaves)
    assert meta.from_addr == "ann@example.org" and meta.subject == "saved by Notepad"
    assert roundtrip(raw) == raw


def test_an_undecodable_charset_keeps_its_word_and_decodes_the_rest() -> None:
    from mailark.storage.metadata import extract

    raw = ("From: =?ut\u00e9f-8?q?Ann?= <ann@example.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= "
           "=?ut\u00e9f-8?q?x?= =?iso-8859-1?q?=E0_bient=F4t?=\r\n\r\nhi\r\n").encode()
    s = splitter().split(raw)
    meta = extract(s.top_fields, s.leaves)  # email.errors.CharsetError escaped before: "unparseable"
    assert meta.subject == "Grüße =?ut\u00e9f-8?q?x?= à bientôt"
    assert meta.from_addr == "ann@example.org" and meta.from_name == "=?ut\u00e9f-8?q?Ann?="
    assert "undecodable encoded word: CharsetError" in meta.defects


@pytest.mark.parametrize(("date", "expected"), [
    ("Mon, 1 Jan 0000 00:00:00 +0000", None),
    ("Sat, 1 Jan 0999 00:00:00 +0000", None),
    ("Fri, 4 Dec 2026 10:00:00 0000", "2026-12-04T10:00:00+00:00"),
    ("4 Dec 99 10:00 -0000", "1999-12-04T10:00:00+00:00"),
])
def test_a_date_in_year_0000_is_no_date(date: str, expected: str | None) -> None:
    from mailark.storage.metadata import parse_date

    defects: list[str] = []
    got = parse_date(date, defects)
    assert (got.isoformat() if got else None) == expected
    assert bool(defects) == (expected is None)
