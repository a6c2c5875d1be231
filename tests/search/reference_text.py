"""The searchable text of a message: headers, bodies and attachments, each bounded in size.

Parsing uses the standard library's email package on the rebuilt message (what the user would
see); every extractor is defensive: a broken part or a hostile attachment costs its own text,
never the message's document. Attachment text comes from well-kept libraries (pypdf,
python-docx, openpyxl); other types contribute their file names only.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import io
import logging
import re
import zlib
from dataclasses import dataclass, field
from email.message import EmailMessage
from html.parser import HTMLParser

log = logging.getLogger(__name__)
logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about broken files are noise here

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


def _streams_decode(page: object) -> bool:
    """False if a Flate content stream of the page is corrupt.

    pypdf recovers corrupt Flate data byte by byte, which takes seconds per megabyte: a broken
    or hostile PDF would stall indexing. Such pages are skipped (their text is lost anyway).
    """
    contents = page.get("/Contents")  # type: ignore[attr-defined]
    if contents is None:
        return True
    contents = contents.get_object()
    streams = contents if isinstance(contents, list) else [contents]
    for st in streams:
        st = st.get_object()
        filt = st.get("/Filter")
        names = [str(f) for f in filt] if isinstance(filt, list) else [str(filt)] if filt is not None else []
        if names[:1] == ["/FlateDecode"]:
            try:
                zlib.decompressobj().decompress(getattr(st, "_data", b"") or b"", 1 << 20)
            except zlib.error:
                return False
    return True


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    out: list[str] = []
    size = 0
    for page in reader.pages[:MAX_PDF_PAGES]:
        if not _streams_decode(page):
            continue
        t = page.extract_text() or ""
        out.append(t)
        size += len(t)
        if size >= MAX_ATTACHMENT_CHARS:
            break
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


def message_text(raw: bytes) -> MessageText:
    """Everything searchable of one message's bytes."""
    msg = parse(raw)
    t = MessageText()
    try:
        t.subject = str(msg.get("subject", "") or "")
    except Exception:  # noqa: BLE001
        t.subject = ""
    t.from_, t.to, t.cc, t.bcc = (_addresses(msg, h) for h in ("from", "to", "cc", "bcc"))
    bodies: list[str] = []
    body_size = att_size = 0
    att_texts: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        if is_attachment(part):
            t.has_attachment = True
            name = attachment_name(part)
            if name:
                t.filenames.append(name)
            if att_size < MAX_ATTACHMENTS_CHARS and _kind(part.get_content_type(), name) is not None:
                try:
                    data = part.get_payload(decode=True) or b""
                except Exception:  # noqa: BLE001
                    data = b""
                text = attachment_text(data if isinstance(data, bytes) else b"", part.get_content_type(), name)
                if text:
                    att_texts.append(text)
                    att_size += len(text)
            continue
        if body_size >= MAX_BODY_CHARS:
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain":
            text = part_text(part)
        elif ctype == "text/html":
            text = html_to_text(part_text(part))
        else:
            continue
        bodies.append(text)
        body_size += len(text)
    t.body = _clip("\n".join(bodies), MAX_BODY_CHARS)
    t.attachment_text = _clip("\n".join(att_texts), MAX_ATTACHMENTS_CHARS)
    return t
