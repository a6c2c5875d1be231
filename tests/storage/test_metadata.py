"""Header metadata: the fast address reader gives exactly what `email.utils.getaddresses` gives."""

from __future__ import annotations

import email.utils
from pathlib import Path

import pytest

from mailark.storage.metadata import _text, fast_getaddresses
from mailark.storage.mime import field_name, field_value, header_fields, split_header

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
