"""Text extraction: bounded, defensive, and fast on broken or hostile attachments."""

from __future__ import annotations

import os
import time

from mailark.catalog.search import text
from tests.search.mails import PDF, message, pdf_with


def test_html_text_skips_scripts_and_styles() -> None:
    out = text.html_to_text("<html><head><title>T</title><style>.x{}</style></head><body><p>One&nbsp;two</p>"
                            "<script>no()</script><div>three</div></body></html>")
    assert out.split() == ["One", "two", "three"]
    assert "no()" not in out and ".x" not in out and "three" in out


def test_corrupt_pdf_streams_are_skipped_quickly() -> None:
    good = pdf_with("Readable words here")
    # the same PDF with its page content replaced by random bytes declared as Flate data
    start = good.index(b"stream") + len(b"stream\n")
    end = good.index(b"endstream")
    bad = good[:start] + os.urandom(end - start) + good[end:]
    assert "Readable words" in text.attachment_text(good, PDF, "a.pdf")
    t = time.monotonic()
    assert text.attachment_text(bad, PDF, "a.pdf") == ""
    assert text.attachment_text(b"%PDF-1.4 garbage", PDF, "b.pdf") == ""  # unreadable: no text, no error
    assert time.monotonic() - t < 2


def test_sizes_are_bounded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(text, "MAX_BODY_CHARS", 1000)
    monkeypatch.setattr(text, "MAX_ATTACHMENT_CHARS", 500)
    raw = message(1, body="word " * 10_000, attachments=[("big.txt", "text/plain", b"data " * 10_000)])
    t = text.message_text(raw)
    assert len(t.body) <= 1000 and len(t.attachment_text) <= 500 and t.filenames == ["big.txt"] and t.has_attachment
    monkeypatch.setattr(text, "MAX_ATTACHMENT_BYTES", 100)
    assert text.message_text(raw).attachment_text == ""  # too large to open: its name is still indexed


def test_broken_mime_still_gives_text() -> None:
    raw = (b"From: =?bogus?q?x?= <a@b>\r\nSubject: =?utf-8?b?broken\r\nContent-Type: text/plain; charset=nonexistent\r\n\r\n"
           b"caf\xe9 body\r\n")
    t = text.message_text(raw)
    assert "body" in t.body and t.from_


def test_encoded_words_beside_8bit_text() -> None:
    raw = ("Subject: Grüße =?utf-8?q?J=C3=B6rg?= und =?iso-8859-1?q?M=FCller?=\r\n"
           "From: =?utf-8?q?Doe=2C_J=C3=B6rg?= <j@x.org>\r\n\r\nbody\r\n").encode()
    t = text.message_text(raw)
    assert t.subject == "Grüße Jörg und Müller" and t.from_ == ["Doe, Jörg j@x.org"]


def test_an_attachment_forwarded_again_is_read_once_per_run(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The same file in many messages is read once (PDF reading is the larger part of indexing);
    the text is the same as reading it each time, and the memo stays within its bound."""
    pdf = pdf_with("Quarterly figures zebrafinch")
    first = message(1, body="see attached", attachments=[("q3.pdf", PDF, pdf)])
    again = message(2, subject="Fwd", body="again", attachments=[("copy.pdf", PDF, pdf)])
    as_text = message(3, body="odd", attachments=[("q3.txt", "text/plain", pdf)])  # same bytes, another reader
    reads: list[bytes] = []
    real = text._pdf_text
    monkeypatch.setattr(text, "_pdf_text", lambda data: reads.append(data) or real(data))
    memo = text.AttachmentTexts()
    texts = [text.message_text(raw, memo) for raw in (first, again, as_text)]
    assert len(reads) == 1
    assert [t.attachment_text for t in texts] == [text.message_text(raw).attachment_text for raw in (first, again, as_text)]
    assert "zebrafinch" in texts[1].attachment_text and texts[2].attachment_text.startswith("%PDF")

    small = text.AttachmentTexts(max_chars=10)
    small.text(b"a" * 8, "text/plain", "a.txt")
    small.text(b"b" * 8, "text/plain", "b.txt")
    assert len(small._texts) == 1 and small._chars == 8
