"""The searchable text of a message: headers, bodies and attachments, each bounded in size.

Indexing parses the rebuilt message with the standard library's `compat32` policy and decodes
only the few fields it indexes (RFC 2047 words, charsets, file names) itself: `policy.default`
builds a parsed header object for every header it touches, which was more than half of the
indexer's CPU, for the same words in the index (tests/search/test_text_equivalence.py checks
that queries over the corpus find the same messages). Displaying a message (`mailview`) keeps
`parse` with `policy.default`. Every extractor is defensive: a broken part or a hostile attachment costs its own text,
never the message's document. Attachment text comes from well-kept libraries (PDFium
through pypdfium2, python-docx, openpyxl); other types contribute their file names only.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import hashlib
import io
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from mailark.storage.metadata import fast_getaddresses

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 200_000  # text of the bodies of one message
MAX_ATTACHMENT_CHARS = 100_000  # text of one attachment
MAX_ATTACHMENTS_CHARS = 300_000  # text of all attachments of one message
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024  # larger attachments are not opened
MAX_PDF_PAGES = 50

_SPACE = re.compile(r"\s+")


@dataclass
class MessageText:
    subject: str = ""
    from_: list[str] = field(default_factory=list)  # "Name addr" per address
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    body: str = ""
    filenames: list[str] = field(default_factory=list)
    attachment_text: str = ""
    has_attachment: bool = False


class _HTMLText(HTMLParser):
    """Visible text of an HTML body (scripts and styles skipped); never fetches anything."""

    SKIP = {"script", "style", "head", "title", "noscript"}
    BREAK = {"p", "br", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.size = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BREAK:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and self.size < MAX_BODY_CHARS:
            self.out.append(data)
            self.size += len(data)


def html_to_text(html: str) -> str:
    p = _HTMLText()
    try:
        p.feed(html[: MAX_BODY_CHARS * 4])
        p.close()
    except Exception:  # noqa: BLE001 - the stdlib parser is lenient; anything else costs this body only
        pass
    return _SPACE.sub(" ", "".join(p.out)).strip()


def _clip(text: str, limit: int) -> str:
    return text[:limit]


def _addresses(msg: EmailMessage, name: str) -> list[str]:
    values = msg.get_all(name, [])
    try:
        pairs = email.utils.getaddresses([str(v) for v in values])
    except Exception:  # noqa: BLE001 - hostile headers
        return []
    return [f"{n} {a}".strip() for n, a in pairs if a or n]


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def part_text(part: EmailMessage) -> str:
    """A text part decoded to str (unknown charsets fall back to latin-1 rather than fail)."""
    try:
        return str(part.get_content())
    except Exception:  # noqa: BLE001 - LookupError, broken encodings
        payload = part.get_payload(decode=True) or b""
        return payload.decode("latin-1", "replace") if isinstance(payload, bytes) else str(payload)


def attachment_name(part: EmailMessage) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        return None
    return str(name).strip() or None if name else None


def is_attachment(part: EmailMessage) -> bool:
    if part.is_multipart():
        return False
    disp = part.get_content_disposition()
    if disp == "attachment":
        return True
    if attachment_name(part):
        return True
    return part.get_content_maintype() not in ("text", "multipart") and disp != "inline"


def _kind(content_type: str, filename: str | None) -> str | None:
    """Which extractor reads this attachment (None: only its name is indexed)."""
    name, ctype = (filename or "").lower(), content_type.lower()
    if ctype == "application/pdf" or name.endswith(".pdf"):
        return "pdf"
    if name.endswith(".docx") or ctype.endswith("wordprocessingml.document"):
        return "docx"
    if name.endswith((".xlsx", ".xlsm")) or ctype.endswith("spreadsheetml.sheet"):
        return "xlsx"
    if ctype.startswith("text/") or name.endswith((".txt", ".csv", ".md", ".log")):
        return "text"
    return None


def attachment_text(data: bytes, content_type: str, filename: str | None) -> str:
    """Text of a PDF, DOCX, XLSX or plain text attachment ('' for other types or on failure)."""
    if len(data) > MAX_ATTACHMENT_BYTES:
        return ""
    kind = _kind(content_type, filename)
    try:
        if kind == "pdf":
            return _pdf_text(data)
        if kind == "docx":
            return _docx_text(data)
        if kind == "xlsx":
            return _xlsx_text(data)
        if kind == "text":
            return _clip(data.decode("utf-8", "replace"), MAX_ATTACHMENT_CHARS)
    except Exception as e:  # noqa: BLE001 - a hostile or broken file costs its own text only
        log.info("no text from attachment %r (%s): %s", filename, content_type, type(e).__name__)
    return ""


_PDFIUM = threading.Lock()  # PDFium is not thread-safe (pypdfium2's documentation): one document at a time


def _pdf_text(data: bytes) -> str:
    """The text of a PDF's first pages, read by PDFium (Chrome's PDF engine, through pypdfium2).

    pypdf, pure Python, spent 20x the CPU on the corpus's PDFs for the same words, most of it on
    broken files, and recovered corrupt Flate data byte by byte (seconds per megabyte); PDFium
    gives up on those at once (tests/search/test_text.py)."""
    import pypdfium2 as pdfium

    out: list[str] = []
    size = 0
    with _PDFIUM:
        doc = pdfium.PdfDocument(data)
        try:
            for i in range(min(len(doc), MAX_PDF_PAGES)):
                page = doc[i]
                try:
                    textpage = page.get_textpage()
                    try:
                        t = textpage.get_text_range()
                    finally:
                        textpage.close()
                finally:
                    page.close()
                out.append(t)
                size += len(t)
                if size >= MAX_ATTACHMENT_CHARS:
                    break
        finally:
            doc.close()
    return _clip(" ".join(out), MAX_ATTACHMENT_CHARS)


def _docx_text(data: bytes) -> str:
    import docx

    d = docx.Document(io.BytesIO(data))
    parts = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            parts.extend(c.text for c in row.cells)
    return _clip("\n".join(parts), MAX_ATTACHMENT_CHARS)


def _xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    out: list[str] = []
    size = 0
    try:
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                cells = [str(c) for c in row if c is not None]
                if cells:
                    line = " ".join(cells)
                    out.append(line)
                    size += len(line)
                if size >= MAX_ATTACHMENT_CHARS:
                    return _clip("\n".join(out), MAX_ATTACHMENT_CHARS)
    finally:
        wb.close()
    return "\n".join(out)


_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ADDRESS_HEADERS = {"from": "from_", "to": "to", "cc": "cc", "bcc": "bcc"}


def _header_text(value: str) -> str:
    """A raw header value as text: unfolded, 8-bit bytes read as UTF-8 (else Latin-1)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # undecoded 8-bit bytes (surrogate escapes)
            data = value.encode("utf-8", "surrogateescape")
            try:
                value = data.decode("utf-8")
            except UnicodeDecodeError:
                # mostly UTF-8 (a name clipped mid-character) stays UTF-8; anything else is Latin-1
                value = data.decode("utf-8", "replace")
                if value.count("\ufffd") * 4 > sum(b > 127 for b in data):
                    value = data.decode("latin-1")
    if "\n" in value:
        value = _FOLD.sub("", value)
    return value


def _words(value: str) -> str:
    """RFC 2047 words decoded leniently, as `policy.default` shows them: a broken byte becomes
    U+FFFD and an unknown charset is read as ASCII, rather than keeping the encoded word."""
    if "=?" not in value:
        return value
    try:
        chunks = email.header.decode_header(value)
    except Exception:  # noqa: BLE001 - hostile encoded words keep their raw text
        return value
    out: list[str] = []
    prev_encoded = False
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            return value  # nothing was encoded
        if charset is None:  # the text between encoded words (decode_header's own encoding)
            text = chunk.decode("raw-unicode-escape", "replace").strip()
            if not text:
                continue
        else:
            try:
                text = chunk.decode(charset, "replace")
            except LookupError:
                text = chunk.decode("ascii", "replace")
        if out and not (prev_encoded and charset):
            out.append(" ")
        out.append(text)
        prev_encoded = charset is not None
    return "".join(out).strip()


def _address_texts(values: list[str]) -> list[str]:
    try:
        pairs = fast_getaddresses(values)
    except Exception:  # noqa: BLE001 - hostile headers
        return []
    return [f"{_words(n)} {a}".strip() for n, a in pairs if a or n]


def _param(part: Message, name: str, header: str = "content-type") -> str | None:
    raw = part.get(header)
    if raw is None:
        return None
    if not isinstance(raw, str) or "\n" in raw:  # 8-bit values come as Header objects; folds confuse get_param
        holder = Message()
        holder[header] = _header_text(_raw_value(part, header))
        part = holder
    value = part.get_param(name, header=header)
    if isinstance(value, tuple):  # RFC 2231
        value = email.utils.collapse_rfc2231_value(value)
    return None if value is None else str(value)


def _raw_value(part: Message, header: str) -> str:
    for k, v in part.raw_items():
        if k.lower() == header:
            return v
    return ""


class _IndexMessage(Message):
    """compat32's message, with the boundary read from the unfolded Content-Type, as
    `policy.default` reads it (`boundary="simple\r\n boundary"` is a real-world case)."""

    def get_boundary(self, failobj=None):  # type: ignore[no-untyped-def]
        raw = self.get("content-type")
        if isinstance(raw, str) and "\n" in raw:
            holder = Message()
            holder["content-type"] = _FOLD.sub("", raw)
            return holder.get_boundary(failobj)
        return super().get_boundary(failobj)


def _filename(part: Message) -> str | None:
    try:
        name = _param(part, "filename", "content-disposition") or _param(part, "name")
        return _words(_header_text(name)).strip() or None if name else None
    except Exception:  # noqa: BLE001
        return None


def _is_attachment(part: Message, name: str | None) -> bool:
    disp = part.get_content_disposition()
    if disp == "attachment" or name:
        return True
    return part.get_content_maintype() not in ("text", "multipart") and disp != "inline"


def _body_text(part: Message) -> str:
    """A text part decoded as `policy.default` does (charset parameter, else ASCII; errors
    replaced); an unknown charset falls back to latin-1."""
    payload = part.get_payload(decode=True) or b""
    if not isinstance(payload, bytes):
        return str(payload)
    try:
        return payload.decode(_param(part, "charset") or "ASCII", "replace")
    except (LookupError, TypeError, ValueError):
        return payload.decode("latin-1", "replace")


class AttachmentTexts:
    """The text of attachments already read in this run, by kind and content (bounded).

    The same file arrives in many messages (a PDF forwarded, a signature logo, a newsletter's
    attachment): 260 attachment reads in the 1,468 corpus messages, of 77 distinct files. Reading
    a PDF or an office file costs far more than the message around it; the text depends only on
    the bytes and the extractor, so it is read once. Only files of a kind that has an extractor are hashed."""

    def __init__(self, max_chars: int = 4_000_000) -> None:
        self._texts: OrderedDict[tuple[str, bytes], str] = OrderedDict()
        self._chars = 0
        self._max = max_chars

    def text(self, data: bytes, content_type: str, filename: str | None) -> str:
        kind = _kind(content_type, filename)
        if kind is None:
            return ""  # nothing to read but the name, which the caller indexes
        key = (kind, hashlib.sha256(data).digest())
        found = self._texts.get(key)
        if found is not None:
            self._texts.move_to_end(key)
            return found
        text = attachment_text(data, content_type, filename)
        self._texts[key] = text
        self._chars += len(text)
        while self._chars > self._max and len(self._texts) > 1:
            self._chars -= len(self._texts.popitem(last=False)[1])
        return text


def message_text(raw: bytes, attachments: AttachmentTexts | None = None) -> MessageText:
    """Everything searchable of one message's bytes (`attachments`: texts read earlier in the run)."""
    read = attachments.text if attachments is not None else attachment_text
    msg = email.message_from_bytes(raw, _class=_IndexMessage, policy=email.policy.compat32)
    t = MessageText()
    addresses: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        key = name.lower()
        if key == "subject" and not t.subject:
            t.subject = _words(_header_text(value))
        elif key in _ADDRESS_HEADERS:
            addresses.setdefault(key, []).append(_header_text(value))
    t.from_, t.to, t.cc, t.bcc = (_address_texts(addresses.get(h, [])) for h in ("from", "to", "cc", "bcc"))
    bodies: list[str] = []
    body_size = att_size = 0
    att_texts: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        name = _filename(part)
        if _is_attachment(part, name):
            t.has_attachment = True
            if name:
                t.filenames.append(name)
            ctype = part.get_content_type()
            if att_size < MAX_ATTACHMENTS_CHARS and _kind(ctype, name) is not None:
                try:
                    data = part.get_payload(decode=True) or b""
                except Exception:  # noqa: BLE001
                    data = b""
                text = read(data if isinstance(data, bytes) else b"", ctype, name)
                if text:
                    att_texts.append(text)
                    att_size += len(text)
            continue
        if body_size >= MAX_BODY_CHARS:
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            text = _body_text(part)
        elif ctype == "text/html":
            text = html_to_text(_body_text(part))
        else:
            continue
        bodies.append(text)
        body_size += len(text)
    t.body = _clip("\n".join(bodies), MAX_BODY_CHARS)
    t.attachment_text = _clip("\n".join(att_texts), MAX_ATTACHMENTS_CHARS)
    return t
