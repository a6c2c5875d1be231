"""Header metadata: the fast address reader gives exactly what `email.utils.getaddresses` gives, the
fast encoded-word reader what `email.header` gives."""

from __future__ import annotations

import email.header
import email.utils
from pathlib import Path

import pytest

from mailark.storage.metadata import _one_charset_words, _simple_filename, _stdlib_filename, _text, fast_getaddresses
from mailark.storage.mime import NotAMessage, Splitter, field_name, field_value, header_fields, split_header

ADDRESS_FIELDS = (b"from", b"to", b"cc", b"bcc", b"reply-to", b"sender", b"resent-to", b"resent-from")


def corpus_address_values(root: Path) -> list[list[str]]:
    """Every address field of every top-level header in the corpus, as metadata reads it."""
    out: list[list[str]] = []
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        header = split_header(p.read_bytes())[0]
        by: dict[bytes, list[str]] = {}
        for f in header_fields(header):
            name = field_name(f)
            if name in ADDRESS_FIELDS:
                by.setdefault(name, []).append(_text(field_value(f)))
        out.extend(by.values())
    return out


def test_fast_path_equals_getaddresses_on_the_corpus(corpus: Path) -> None:
    values = corpus_address_values(corpus)
    assert len(values) > 1000
    for v in values:
        assert fast_getaddresses(v) == email.utils.getaddresses(v), v


@pytest.mark.parametrize("value", [
    "ann@example.org", "Ann <ann@example.org>", "  Ann   B\r\n\tC  < ann@example.org >  ", '"Doe, John" <j@x.org>',
    "a@b.c, Bob <b@c.d>,<c@d.e>", "=?utf-8?q?J=C3=B6rg?= <j@x.org>", "Ann (work) <a@b.c>", "John Q. Public <j@x.y>",
    'Undisclosed recipients:;', "a@b.c,", '"a\\"b" <x@y.z>', "<@route:a@b.c>", "ann@[127.0.0.1]", "Jörg <j@x.org>",
    "a.b.c@d-e.f", "a..b@c.d", ".a@b.c", "", " ", "ann", "Ann <ann>", "a@b@c",
])
def test_fast_path_equals_getaddresses(value: str) -> None:
    assert fast_getaddresses([value]) == email.utils.getaddresses([value])
    assert fast_getaddresses([value, "x@y.z"]) == email.utils.getaddresses([value, "x@y.z"])


def test_each_field_is_named_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The splitter names every header field once; metadata reuses the top-level names."""
    import hmac

    from mailark.storage import metadata, mime

    calls: list[bytes] = []
    real = mime.field_name

    def counting(f: bytes) -> bytes:
        calls.append(f)
        return real(f)

    monkeypatch.setattr(mime, "field_name", counting)
    monkeypatch.setattr(metadata, "field_name", counting)
    top = [f"X-Header-{i}: value {i}\r\n".encode() for i in range(20)]
    raw = (b"".join(top) + b"From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: hi\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\none\r\n"
           b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\ntwo\r\n--b--\r\n")
    split = mime.Splitter(lambda b: hmac.digest(b"k" * 32, b, "sha256")).split(raw)
    meta = metadata.extract(split.top_fields, split.leaves, split.top_names)
    assert meta.from_addr == "ann@example.org" and meta.to_addrs == ["bob@example.org"] and meta.subject == "hi"
    fields = 25 + 2 * 2
    assert len(calls) <= fields + 2  # + the check that each part starts with a header field


def _stdlib_words(value: str) -> str | None:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:  # noqa: BLE001 - the stdlib refuses: the fast reader must refuse too
        return None


def test_fast_words_equal_email_header_on_the_corpus(corpus: Path) -> None:
    values = set()
    for p in sorted(corpus.rglob("*")):
        if p.is_file():
            for f in header_fields(split_header(p.read_bytes())[0]):
                if b"=?" in f:
                    values.add(_text(field_value(f)))
    fast = 0
    for v in sorted(values):
        got = _one_charset_words(v)
        if got is not None:
            fast += 1
            assert got == _stdlib_words(v), v
    assert fast > 30, fast  # distinct values of this shape (most encoded values in the corpus repeat them)


@pytest.mark.parametrize("value", [
    "=?utf-8?B?SsO2cmc=?=", "=?UTF-8?b?SsO2cmc?=", "=?utf-8?B?SsO2?= =?utf-8?B?cmc=?=", "=?utf-8?B?SsO2?=\r\n =?utf-8?B?cmc=?=",
    "=?utf-8?B?SsO2?=\t=?utf-8?q?rg?=", "=?iso-8859-1?Q?J=F6rg_B?=", "=?iso-8859-1?q?J=f6rg?=", "=?utf-8?Q?a=ZZb=?=",
    "=?utf-8?B?w6k?=", "=?utf-8?B?/w==?=", "=?us-ascii?Q?caf=E9?=", "=?x-unknown?Q?abc?=", "=?utf-8?B?SsO2?= =?latin-1?Q?rg?=",
    "=?iso-2022-jp?B?GyRCJCQkbSRPGyhC?=", "=?gb2312?B?1tDOxA==?=", "=?unknown-8bit?Q?=E9?=", "=?utf-8?B?SsO2cmc=?= x",
    "=?latin_1?q?=E9t=E9?=", "=?ISO-8859-15?Q?=A4uro?=", "=?utf-8?B?!!!?=", "=?utf-8?Q??=", "=?utf-8?B??=",
])
def test_fast_words_equal_email_header(value: str) -> None:
    got = _one_charset_words(value)
    assert got is None or got == _stdlib_words(value), (got, _stdlib_words(value))
    if value in TAKEN_FAST:
        assert got is not None


# Shapes the fast reader must take itself (the others may go the stdlib's way).
TAKEN_FAST = {"=?utf-8?B?SsO2cmc=?=", "=?UTF-8?b?SsO2cmc?=", "=?utf-8?B?SsO2?=\r\n =?utf-8?B?cmc=?=",
              "=?utf-8?B?SsO2?=\t=?utf-8?q?rg?=", "=?iso-8859-1?Q?J=F6rg_B?=", "=?utf-8?Q?a=ZZb=?=", "=?latin_1?q?=E9t=E9?="}


def test_plain_part_headers_give_the_stdlib_file_name_on_the_corpus(corpus: Path) -> None:
    splitter = Splitter(lambda b: b"d" * 32)
    headers = set()
    for p in sorted(corpus.rglob("*")):
        if p.is_file():
            try:
                headers.update(leaf.header for leaf in splitter.split(p.read_bytes()).leaves if b"name" in leaf.header.lower())
            except NotAMessage:
                continue
    fast = 0
    for h in sorted(headers):
        got = _simple_filename(h)
        if got is not None:
            fast += 1
            assert (got or None) == _stdlib_filename(h), h
    assert fast > 200, fast  # most part headers of the corpus are plain


@pytest.mark.parametrize("header", [
    b'Content-Type: application/pdf;\r\n\tname="x.pdf"\r\n',
    b'Content-Disposition: attachment; filename="a b.pdf"\r\nContent-Type: text/plain; name=y\r\n',
    b'Content-Disposition: attachment; filename=" "\r\nContent-Type: text/plain; name=" y "\r\n',
    b'Content-Disposition: attachment; filename=""\r\nContent-Type: text/plain\r\n',
    b'Content-Disposition: attachment\r\nContent-Type: text/plain; NAME="=?utf-8?B?SsO2cmcucGRm?="\r\n',
    b'Content-Type: text/plain; name="a;b.pdf"; charset=us-ascii\r\n',
    b'Content-Type: text/plain; name="a.pdf"; name="b.pdf"\r\n',
    b'Content-Type: text/plain; name*=utf-8\'\'x.pdf\r\n', b'Content-Type: text/plain; name="<x>"\r\n',
    b'Content-Type: text/plain; name=<x>\r\n', b'Content-Type: text/plain; name="a\\"b"\r\n',
    b'Content-Type: text/plain; name="x.pdf"\r\nContent-Type: text/html; name="y.pdf"\r\n',
    b'Bad line\r\nContent-Type: text/plain; name="x.pdf"\r\n', b'Content-Type : text/plain; name="x.pdf"\r\n',
    b'Content-Type: name="x.pdf"\r\n', b'Content-Type: text/plain; filename="x.pdf"\r\n',
    b'Content-Disposition: inline; filename=x.pdf;\r\n', b'Content-Type: text/plain;name=\r\n',
    b'Content-Type: text/plain; name="caf\xc3\xa9.pdf"\r\n', b'X-Name: y\r\nContent-Type: text/plain\r\n',
])
def test_plain_part_headers_give_the_stdlib_file_name(header: bytes) -> None:
    got = _simple_filename(header)
    assert got is None or (got or None) == _stdlib_filename(header), (got, _stdlib_filename(header))
    if header in TAKEN_FAST_HEADERS:
        assert got is not None


TAKEN_FAST_HEADERS = {b'Content-Type: application/pdf;\r\n\tname="x.pdf"\r\n',
                      b'Content-Disposition: attachment; filename=" "\r\nContent-Type: text/plain; name=" y "\r\n',
                      b'Content-Type: text/plain; name="a;b.pdf"; charset=us-ascii\r\n',
                      b'Content-Disposition: attachment\r\nContent-Type: text/plain; NAME="=?utf-8?B?SsO2cmcucGRm?="\r\n'}
