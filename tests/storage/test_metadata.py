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
