"""Turn Outlook items (PST/OST messages, .msg files) into MIME, deterministically.

Outlook does not keep the MIME a message arrived in: it keeps properties (subject, bodies,
recipients, attachments, and for received mail the original internet headers). We rebuild a MIME
message from them. The same item must give the *same bytes* on every run, so that re-importing a
PST is recognised as duplicates: nothing here is random or time-dependent.

* Headers: the item's transport headers (its original internet headers) when present, minus the
  MIME-Version/Content-Type/... fields that described a MIME structure we no longer have; fields
  missing there (From, Subject, Date, Message-ID) and all fields of items without transport
  headers (sent mail, drafts) come from properties. Date is the client submit time, else the
  delivery time; no Date or Message-ID is invented.
* Bodies: text/plain and/or text/html (multipart/alternative). An HTML body that Outlook kept only
  inside the RTF body (``\\fromhtml1``) is de-encapsulated; a native RTF body is kept as text/rtf.
  Text is UTF-8 quoted-printable with CRLF line ends; other bodies keep their bytes.
* Attachments: base64 with their names (RFC 2231 when not plain ASCII); inline images referenced
  by ``cid:`` from the HTML go into multipart/related; embedded Outlook items become
  message/rfc822 parts converted the same way. S/MIME items put their signed/encrypted entity back.
* Boundaries are ``=_`` + a SHA-256 of the enclosed parts: ``=_`` cannot occur in quoted-printable
  or base64 text, and the hash makes them unique and stable.

The readers (``outlook_pst``, ``outlook_msg``) adapt their libraries to ``PropertySource`` so that a
message gives the same MIME whether it comes from a PST or from a .msg export.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Protocol

CRLF = b"\r\n"
MAX_EMBEDDING_DEPTH = 16
MAX_RTF_TO_DEENCAPSULATE = 4 << 20  # RTFDE needs ~0.3 s per 40 kB; bigger RTF is kept as text/rtf


class Kind(enum.Enum):
    """How a property is to be read (MAPI property types collapse onto these)."""

    STRING = "string"
    BINARY = "binary"
    TIME = "time"
    INT = "int"
    BOOL = "bool"


# MAPI property ids ([MS-OXPROPS]).
PR_MESSAGE_CLASS = 0x001A
PR_SUBJECT = 0x0037
PR_CLIENT_SUBMIT_TIME = 0x0039
PR_SENT_REPRESENTING_NAME = 0x0042
PR_SENT_REPRESENTING_ADDRTYPE = 0x0064
PR_SENT_REPRESENTING_EMAIL_ADDRESS = 0x0065
PR_TRANSPORT_MESSAGE_HEADERS = 0x007D
PR_SENDER_NAME = 0x0C1A
PR_RECIPIENT_TYPE = 0x0C15
PR_SENDER_ADDRTYPE = 0x0C1E
PR_SENDER_EMAIL_ADDRESS = 0x0C1F
PR_DISPLAY_BCC = 0x0E02
PR_DISPLAY_CC = 0x0E03
PR_DISPLAY_TO = 0x0E04
PR_MESSAGE_DELIVERY_TIME = 0x0E06
PR_BODY = 0x1000
PR_HTML = 0x1013
PR_INTERNET_MESSAGE_ID = 0x1035
PR_INTERNET_REFERENCES = 0x1039
PR_IN_REPLY_TO_ID = 0x1042
PR_DISPLAY_NAME = 0x3001
PR_ADDRTYPE = 0x3002
PR_EMAIL_ADDRESS = 0x3003
PR_ATTACH_FILENAME = 0x3704
PR_ATTACH_METHOD = 0x3705
PR_ATTACH_LONG_FILENAME = 0x3707
PR_ATTACH_PATHNAME = 0x3708
PR_ATTACH_MIME_TAG = 0x370E
PR_ATTACH_LONG_PATHNAME = 0x370D
PR_ATTACH_CONTENT_ID = 0x3712
PR_SMTP_ADDRESS = 0x39FE
PR_INTERNET_CPID = 0x3FDE
PR_MESSAGE_CODEPAGE = 0x3FFD
PR_SENDER_SMTP_ADDRESS = 0x5D01
PR_SENT_REPRESENTING_SMTP_ADDRESS = 0x5D02

ATTACH_BY_VALUE = 1
ATTACH_BY_REFERENCE = 2
ATTACH_BY_REF_RESOLVE = 3
ATTACH_BY_REF_ONLY = 4
ATTACH_EMBEDDED_MSG = 5
ATTACH_OLE = 6


class PropertySource(Protocol):
    """An Outlook object (message, recipient, attachment) whose MAPI properties can be read."""

    def get(self, tag: int, kind: Kind) -> object | None:
        """The property's value (str, bytes, int, bool or an aware datetime), None if absent."""
        ...

    def recipients(self) -> Sequence[PropertySource]:
        """The recipient rows of a message (empty for other objects)."""
        ...

    def attachments(self) -> Sequence[AttachmentSource]:
        """The attachments of a message (empty for other objects)."""
        ...

    def rtf(self) -> bytes | None:
        """The decompressed RTF body of a message, if any."""
        ...


class AttachmentSource(PropertySource, Protocol):
    """An attachment: its properties plus its bytes or the Outlook item it embeds."""

    def data(self) -> bytes | None:
        """The attachment's bytes (None when it has none, e.g. an embedded item)."""
        ...

    def embedded(self) -> PropertySource | None:
        """The embedded Outlook item of an ``ATTACH_EMBEDDED_MSG`` attachment."""
        ...


@dataclass(frozen=True)
class Conversion:
    """The MIME bytes of an item and what could not be carried over (empty when complete)."""

    raw: bytes
    warnings: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# small value helpers


def filetime_to_datetime(value: int) -> datetime | None:
    """A Windows FILETIME (100 ns since 1601) as an aware UTC datetime; None for 0 / absurd values."""
    if value <= 0:
        return None
    try:
        dt = datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=value // 10)
    except OverflowError:
        return None
    return _sane_date(dt)


def _sane_date(dt: object) -> datetime | None:
    if not isinstance(dt, datetime):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    if not 1971 <= dt.year <= 4000:  # Outlook writes 4501-01-01 for "none"; 1601 is FILETIME 0
        return None
    return dt


_CODEPAGE_CHARSETS = {
    65001: "utf-8",
    20127: "us-ascii",
    1200: "utf-16le",
    1201: "utf-16be",
    12000: "utf-32le",
    50220: "iso-2022-jp",
    50221: "iso-2022-jp",
    50222: "iso-2022-jp",
    51932: "euc-jp",
    932: "shift_jis",
    936: "gb2312",
    54936: "gb18030",
    949: "ks_c_5601-1987",
    51949: "euc-kr",
    950: "big5",
    20866: "koi8-r",
    21866: "koi8-u",
    874: "windows-874",
    28603: "iso-8859-13",
    28605: "iso-8859-15",
}


def codepage_charset(codepage: object) -> str | None:
    """The MIME charset name of a Windows code page id (None if unknown)."""
    if not isinstance(codepage, int):
        return None
    if codepage in _CODEPAGE_CHARSETS:
        return _CODEPAGE_CHARSETS[codepage]
    if 1250 <= codepage <= 1258:
        return f"windows-{codepage}"
    if 28591 <= codepage <= 28599:
        return f"iso-8859-{codepage - 28590}"
    return None


def codepage_codec(codepage: object, default: str = "cp1252") -> str:
    """A Python codec for a Windows code page id (``default`` if unknown)."""
    import codecs

    name = codepage_charset(codepage)
    for candidate in (name, f"cp{codepage}" if isinstance(codepage, int) else None):
        if candidate:
            try:
                return codecs.lookup(candidate).name
            except LookupError:
                continue
    return default


def _text(src: PropertySource, tag: int) -> str | None:
    value = src.get(tag, Kind.STRING)
    if not isinstance(value, str):
        return None
    value = value.rstrip("\x00")
    return value or None


def _clean_subject(subject: str) -> str:
    # PST subjects may start with a 2-character control prefix (0x01, prefix length).
    if subject.startswith("\x01") and len(subject) >= 2:
        return subject[2:]
    return subject


def _first_text(src: PropertySource, *tags: int) -> str | None:
    for tag in tags:
        value = _text(src, tag)
        if value:
            return value
    return None


# --------------------------------------------------------------------------------------------
# header encoding (our own, small and stable: stdlib folding may change between versions)

_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+")
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
_FIELD_NAME = re.compile(r"[!-9;-~]+[ \t]*:")


def _needs_encoding(value: str) -> bool:
    return not _PRINTABLE_ASCII.fullmatch(value) or "=?" in value


def _encoded_words(value: str) -> list[str]:
    """RFC 2047 'B' encoded words of at most 39 UTF-8 bytes each (never splitting a character)."""
    words: list[str] = []
    chunk = ""
    size = 0
    for ch in value:
        n = len(ch.encode("utf-8", "surrogatepass"))
        if chunk and size + n > 39:
            words.append(chunk)
            chunk, size = "", 0
        chunk += ch
        size += n
    if chunk:
        words.append(chunk)
    return [
        "=?utf-8?B?" + base64.b64encode(w.encode("utf-8", "surrogatepass")).decode("ascii") + "?="
        for w in words
    ]


def _fold(name: str, value: str, structured: bool = True) -> bytes:
    """``name: value`` folded greedily at spaces so that lines stay within 78 characters.

    Folding inserts CRLF before an existing space, which unfolds back to the same value. In
    structured fields no fold happens inside a quoted string.
    """
    text = f"{name}: {value}"
    breaks: list[int] = []
    in_quote = escaped = False
    for i, ch in enumerate(text):
        if in_quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_quote = False
            continue
        if ch == '"' and structured:
            in_quote = True
        elif ch == " " and i > len(name) + 2 and i + 1 < len(text) and text[i + 1] != " " and text[i - 1] != " ":
            breaks.append(i)
    lines: list[str] = []
    start = 0
    last = None
    for b in [*breaks, len(text)]:
        if b - start > 78 and last is not None and last > start:
            lines.append(text[start:last])
            start = last
        last = b
    lines.append(text[start:])
    return ("\r\n".join(lines) + "\r\n").encode("utf-8", "surrogatepass")


def _unstructured(name: str, value: str) -> bytes:
    if _needs_encoding(value) or any(len(w) > 900 for w in value.split(" ")):
        return _fold(name, " ".join(_encoded_words(value)), structured=False)
    return _fold(name, value, structured=False)


def _phrase(name: str) -> str:
    name = name.strip()
    if not name:
        return ""
    if _needs_encoding(name):
        return " ".join(_encoded_words(name))
    if _ATOM_PHRASE.fullmatch(name) and "  " not in name:
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mailbox(name: str | None, address: str | None) -> str:
    """``phrase <addr>``, ``addr``, or for an item without an internet address a group ``phrase:;``."""
    phrase = _phrase(name or "")
    address = (address or "").strip()
    if address:
        address = re.sub(r"[\s<>]", "", address)
        return f"{phrase} <{address}>" if phrase else address
    return f"{phrase}:;" if phrase else ""


def _address_field(name: str, mailboxes: Sequence[str]) -> bytes | None:
    mailboxes = [m for m in mailboxes if m]
    if not mailboxes:
        return None
    return _fold(name, ", ".join(mailboxes))


def _id_field(name: str, value: str | None) -> bytes | None:
    if not value:
        return None
    tokens = [t for t in re.split(r"[\s\x00-\x1f]+", value) if t]
    if not tokens:
        return None
    return _fold(name, " ".join(tokens))


def _param(name: str, value: str) -> str:
    """A MIME parameter: quoted when plain ASCII, RFC 2231 (with continuations) otherwise."""
    if _PRINTABLE_ASCII.fullmatch(value) and len(value) <= 60 and '"' not in value and "\\" not in value:
        return f'{name}="{value}"'
    encoded = urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")
    if len(encoded) <= 60:
        return f"{name}*=utf-8''{encoded}"
    pieces = []
    index = 0
    while encoded:
        cut = min(60, len(encoded))
        while cut < len(encoded) and "%" in encoded[cut - 2 : cut]:  # do not split a %XX escape
            cut -= 1
        piece, encoded = encoded[:cut], encoded[cut:]
        prefix = "utf-8''" if index == 0 else ""
        pieces.append(f"{name}*{index}*={prefix}{piece}")
        index += 1
    return ";\r\n ".join(pieces)


def _content_field(name: str, value: str, params: Sequence[str] = ()) -> bytes:
    text = f"{name}: {value}"
    for p in params:
        text += f";\r\n {p}"
    return (text + "\r\n").encode("ascii")


# --------------------------------------------------------------------------------------------
# MIME entities


@dataclass
class Entity:
    """A MIME entity: its content header fields and body (or verbatim bytes incl. headers)."""

    headers: list[bytes] = field(default_factory=list)
    body: bytes = b""
    verbatim: bytes | None = None

    def serialize(self) -> bytes:
        if self.verbatim is not None:
            return self.verbatim
        return b"".join(self.headers) + CRLF + self.body

    @property
    def content_type(self) -> str:
        for h in self.headers:
            if h[:13].lower() == b"content-type:":
                return h[13:].split(b";")[0].strip().decode("ascii").lower()
        return "text/plain"


def _crlf(data: bytes) -> bytes:
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def _qp(data: bytes) -> bytes:
    """Quoted-printable with CRLF line ends (binascii's encoder: stable across versions)."""
    data = _crlf(data)
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    if b"\r\n" not in data:  # b2a_qp uses LF for soft breaks when the text has no CRLF
        encoded = _crlf(encoded)
    return encoded


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def text_entity(text: str, subtype: str = "plain") -> Entity:
    """A UTF-8 quoted-printable text part."""
    return Entity(
        [
            _content_field("Content-Type", f"text/{subtype}", ['charset="utf-8"']),
            b"Content-Transfer-Encoding: quoted-printable\r\n",
        ],
        _qp(text.encode("utf-8", "surrogatepass")),
    )


def _html_entity(html: bytes, charset: str | None) -> Entity:
    params = [f'charset="{charset}"'] if charset else []
    if charset and charset.lower().startswith(("utf-16", "utf-32")):
        return Entity(
            [_content_field("Content-Type", "text/html", params), b"Content-Transfer-Encoding: base64\r\n"],
            _b64(html),
        )
    return Entity(
        [_content_field("Content-Type", "text/html", params), b"Content-Transfer-Encoding: quoted-printable\r\n"],
        _qp(html),
    )


def multipart(subtype: str, parts: Sequence[Entity], params: Sequence[str] = ()) -> Entity:
    """A multipart entity whose boundary is derived from its content."""
    serialized = [p.serialize() for p in parts]
    digest = hashlib.sha256(subtype.encode("ascii"))
    for s in serialized:
        digest.update(len(s).to_bytes(8, "big"))
        digest.update(s)
    boundary = "=_mailark_" + digest.hexdigest()[:40]
    b = boundary.encode("ascii")
    body = b"".join(b"--" + b + CRLF + s + CRLF for s in serialized) + b"--" + b + b"--" + CRLF
    return Entity([_content_field("Content-Type", f"multipart/{subtype}", [*params, f'boundary="{boundary}"'])], body)


# --------------------------------------------------------------------------------------------
# bodies


def deencapsulate_rtf(rtf: bytes) -> tuple[str, bytes | str] | None:
    """("html", bytes in UTF-8) or ("text", str) encapsulated in an RTF body; None if native RTF."""
    if not rtf or len(rtf) > MAX_RTF_TO_DEENCAPSULATE:
        return None
    head = rtf[:2048]
    if b"\\fromhtml" not in head and b"\\fromtext" not in head:
        return None
    try:
        import RTFDE  # a dependency of extract_msg

        end = rtf.rfind(b"}")  # some writers put bytes after the closing brace
        d = RTFDE.DeEncapsulator(rtf[: end + 1] if end != -1 else rtf)
        d.deencapsulate()
    except Exception:  # noqa: BLE001 - malformed RTF: keep it as text/rtf instead
        return None
    if d.content_type == "html":
        html = d.html
        return ("html", html if isinstance(html, bytes) else html.encode("utf-8", "surrogatepass"))
    if d.content_type == "text":
        text = d.text
        return ("text", text if isinstance(text, str) else text.decode("utf-8", "replace"))
    return None


def _bodies(src: PropertySource, warnings: list[str]) -> tuple[Entity, bytes | None]:
    """The body entity (single or multipart/alternative) and the HTML bytes (to find cid: links)."""
    text = src.get(PR_BODY, Kind.STRING)
    text = text.rstrip("\x00") if isinstance(text, str) else None
    codepage = src.get(PR_INTERNET_CPID, Kind.INT)
    html = src.get(PR_HTML, Kind.BINARY)
    html_charset = codepage_charset(codepage)
    if not isinstance(html, bytes) or not html:
        html_text = src.get(PR_HTML, Kind.STRING)
        if isinstance(html_text, str) and html_text.strip("\x00"):
            html, html_charset = html_text.rstrip("\x00").encode("utf-8", "surrogatepass"), "utf-8"
        else:
            html = None
    if html is not None:
        html = html.rstrip(b"\x00") if not (html_charset or "").startswith("utf-16") else html
    native_rtf: bytes | None = None
    if html is None:
        try:
            rtf = src.rtf()
        except Exception as exc:  # noqa: BLE001 - library errors vary
            rtf = None
            warnings.append(f"the RTF body could not be read: {exc}")
        if rtf:
            found = deencapsulate_rtf(rtf)
            if found is None:  # native rich text (or undecodable): keep it, plain text loses formatting
                native_rtf = rtf
            elif found[0] == "html":
                html, html_charset = found[1], "utf-8"  # type: ignore[assignment]
            elif found[0] == "text" and not text:
                text = found[1]  # type: ignore[assignment]
    alternatives: list[Entity] = []
    if text or (text is not None and html is None and native_rtf is None):
        alternatives.append(text_entity(text or ""))
    if native_rtf is not None:
        alternatives.append(
            Entity(
                [_content_field("Content-Type", "text/rtf"), b"Content-Transfer-Encoding: base64\r\n"],
                _b64(native_rtf),
            )
        )
    if html is not None:
        alternatives.append(_html_entity(html, html_charset))
    if not alternatives:
        alternatives.append(text_entity(""))
    if len(alternatives) == 1:
        return alternatives[0], html
    return multipart("alternative", alternatives), html


# --------------------------------------------------------------------------------------------
# attachments

_MIME_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")


def _attachment_name(att: PropertySource) -> str | None:
    name = _first_text(att, PR_ATTACH_LONG_FILENAME, PR_ATTACH_FILENAME, PR_DISPLAY_NAME)
    if name:
        name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name or None


def _content_id(att: PropertySource) -> str | None:
    cid = _text(att, PR_ATTACH_CONTENT_ID)
    if not cid:
        return None
    cid = cid.strip().strip("<>").strip()
    return cid if cid and _PRINTABLE_ASCII.fullmatch(cid) and " " not in cid else None


def _attachment_entity(
    att: AttachmentSource, number: int, html: bytes | None, depth: int, warnings: list[str]
) -> tuple[Entity | None, bool]:
    """The entity of one attachment and whether it belongs inline next to the HTML."""
    name = _attachment_name(att)
    label = f"attachment {number}" + (f" ({name})" if name else "")
    method = att.get(PR_ATTACH_METHOD, Kind.INT)
    disposition_params = [_param("filename", name)] if name else []
    if method == ATTACH_EMBEDDED_MSG:
        inner = att.embedded()
        if inner is None:
            warnings.append(f"{label}: the embedded Outlook item could not be read")
            return None, False
        if depth >= MAX_EMBEDDING_DEPTH:
            warnings.append(f"{label}: embedded items nested too deeply")
            return None, False
        conv = _convert(inner, depth + 1)
        warnings.extend(f"{label}: {w}" for w in conv.warnings)
        cte = b"" if conv.raw.isascii() else b"Content-Transfer-Encoding: 8bit\r\n"
        headers = [_content_field("Content-Type", "message/rfc822")]
        if cte:
            headers.append(cte)
        headers.append(_content_field("Content-Disposition", "attachment", disposition_params))
        return Entity(headers, conv.raw), False
    if method in (ATTACH_BY_REFERENCE, ATTACH_BY_REF_RESOLVE, ATTACH_BY_REF_ONLY):
        path = _first_text(att, PR_ATTACH_LONG_PATHNAME, PR_ATTACH_PATHNAME)
        data = att.data()
        if not data:
            if not path:
                warnings.append(f"{label}: attached by reference without a path")
                return None, False
            params = ["access-type=local-file", _param("name", path)]
            inner = _content_field("Content-Type", "application/octet-stream") + CRLF
            return Entity([_content_field("Content-Type", "message/external-body", params)], inner), False
    data = att.data()
    if data is None:
        if method == ATTACH_OLE:
            warnings.append(f"{label}: an OLE object attachment could not be read")
        else:
            warnings.append(f"{label}: it has no data")
        return None, False
    mime = _text(att, PR_ATTACH_MIME_TAG)
    mime = mime.strip().lower() if mime and _MIME_TYPE.fullmatch(mime.strip()) else "application/octet-stream"
    cid = _content_id(att)
    inline = bool(html and cid and b"cid:" + cid.encode("ascii").lower() in html.lower())
    headers = [
        _content_field("Content-Type", mime, [_param("name", name)] if name else []),
        _content_field("Content-Disposition", "inline" if inline else "attachment", disposition_params),
        b"Content-Transfer-Encoding: base64\r\n",
    ]
    if cid:
        headers.append(f"Content-ID: <{cid}>\r\n".encode("ascii"))
    return Entity(headers, _b64(data)), inline


def _smime_entity(src: PropertySource, atts: Sequence[AttachmentSource]) -> Entity | None:
    """The original S/MIME entity of an ``IPM.Note.SMIME*`` item (kept as its only attachment)."""
    cls = (_text(src, PR_MESSAGE_CLASS) or "").upper()
    if not cls.startswith("IPM.NOTE.SMIME") or len(atts) != 1:
        return None
    data = atts[0].data()
    if not data:
        return None
    tag = (_text(atts[0], PR_ATTACH_MIME_TAG) or "").strip().lower()
    head = re.match(rb"((?:[!-9;-~]+[ \t]*:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*)+)\r?\n", data)
    if head and b"content-type:" in head.group(1).lower():
        return Entity(verbatim=data)  # clear-signed: the whole multipart/signed entity
    if tag == "multipart/signed":
        return None
    return Entity(
        [
            _content_field("Content-Type", "application/pkcs7-mime", ['name="smime.p7m"']),
            _content_field("Content-Disposition", "attachment", ['filename="smime.p7m"']),
            b"Content-Transfer-Encoding: base64\r\n",
        ],
        _b64(data),
    )


def _content(src: PropertySource, depth: int, warnings: list[str]) -> Entity:
    try:
        atts = list(src.attachments())
    except Exception as exc:  # noqa: BLE001
        warnings.append(f"the attachments could not be listed: {exc}")
        atts = []
    smime = _smime_entity(src, atts)
    if smime is not None:
        return smime
    body, html = _bodies(src, warnings)
    inline: list[Entity] = []
    regular: list[Entity] = []
    for number, att in enumerate(atts, 1):
        try:
            entity, is_inline = _attachment_entity(att, number, html, depth, warnings)
        except Exception as exc:  # noqa: BLE001 - library errors vary
            name = None
            try:
                name = _attachment_name(att)
            except Exception:  # noqa: BLE001
                pass
            warnings.append(f"attachment {number}" + (f" ({name})" if name else "") + f" could not be read: {exc}")
            continue
        if entity is not None:
            (inline if is_inline else regular).append(entity)
    if inline:
        body = multipart("related", [body, *inline], [f'type="{body.content_type}"'])
    if regular:
        body = multipart("mixed", [body, *regular])
    return body


# --------------------------------------------------------------------------------------------
# headers

# Fields that described the MIME entity Outlook did not keep (Content-Language, Content-Class stay).
_DROPPED_TRANSPORT_FIELDS = frozenset(
    {
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "content-id",
        "content-length",
        "content-md5",
        "content-location",
        "content-base",
    }
)


def transport_header_fields(text: str) -> list[tuple[str, bytes]]:
    """The fields of a transport-headers property: (lower-case name, bytes with CRLF line ends).

    Lines before the first field (e.g. "Microsoft Mail Internet Headers Version 2.0") are dropped;
    a stray line that is neither a field nor a continuation is kept as a continuation. The block
    ends at the first empty line. MIME-Version and the fields describing the entity (Content-Type,
    -Transfer-Encoding, -Disposition, ...) are dropped: Outlook did not keep that structure.
    """
    fields: list[list[str]] = []
    for line in re.split(r"\r\n|\n|\r", text.replace("\x00", "")):
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t":
            if fields:
                fields[-1].append(line)
        elif _FIELD_NAME.match(line):
            fields.append([line])
        elif fields:
            fields[-1].append(" " + line)
    out = []
    for lines in fields:
        name = lines[0].split(":", 1)[0].strip().lower()
        if name in _DROPPED_TRANSPORT_FIELDS:
            continue
        out.append((name, ("\r\n".join(lines) + "\r\n").encode("utf-8", "replace")))
    return out


def _smtp_address(src: PropertySource, smtp_tag: int, email_tag: int, type_tag: int) -> str | None:
    smtp = _text(src, smtp_tag)
    if smtp and "@" in smtp:
        return smtp
    email = _text(src, email_tag)
    kind = (_text(src, type_tag) or "").upper()
    if email and (kind == "SMTP" or ("@" in email and not email.startswith("/"))):
        return email
    return None


def _recipient_fields(src: PropertySource, warnings: list[str]) -> dict[str, list[str]]:
    kinds = {1: "to", 2: "cc", 3: "bcc"}
    result: dict[str, list[str]] = {"to": [], "cc": [], "bcc": []}
    try:
        rows = list(src.recipients())
    except Exception as exc:  # noqa: BLE001
        warnings.append(f"the recipients could not be read: {exc}")
        rows = []
    for row in rows:
        rtype = row.get(PR_RECIPIENT_TYPE, Kind.INT)
        key = kinds.get((rtype if isinstance(rtype, int) else 1) & 0x0FFFFFFF, "to")
        address = _smtp_address(row, PR_SMTP_ADDRESS, PR_EMAIL_ADDRESS, PR_ADDRTYPE)
        result[key].append(_mailbox(_text(row, PR_DISPLAY_NAME), address))
    if not rows:  # no recipient table: the display strings are all there is
        for key, tag in (("to", PR_DISPLAY_TO), ("cc", PR_DISPLAY_CC), ("bcc", PR_DISPLAY_BCC)):
            names = _text(src, tag)
            if names:
                result[key] = [_mailbox(n, None) for n in names.split(";") if n.strip()]
    return result


def _property_fields(src: PropertySource, warnings: list[str]) -> list[tuple[str, bytes]]:
    """Header fields built from properties, in a fixed order."""
    fields: list[tuple[str, bytes | None]] = []
    date = _sane_date(src.get(PR_CLIENT_SUBMIT_TIME, Kind.TIME)) or _sane_date(
        src.get(PR_MESSAGE_DELIVERY_TIME, Kind.TIME)
    )
    if date is not None:
        fields.append(("date", f"Date: {format_datetime(date.astimezone(timezone.utc))}\r\n".encode("ascii")))
    rep_name = _text(src, PR_SENT_REPRESENTING_NAME)
    rep_addr = _smtp_address(
        src, PR_SENT_REPRESENTING_SMTP_ADDRESS, PR_SENT_REPRESENTING_EMAIL_ADDRESS, PR_SENT_REPRESENTING_ADDRTYPE
    )
    snd_name = _text(src, PR_SENDER_NAME)
    snd_addr = _smtp_address(src, PR_SENDER_SMTP_ADDRESS, PR_SENDER_EMAIL_ADDRESS, PR_SENDER_ADDRTYPE)
    if rep_name or rep_addr:
        fields.append(("from", _address_field("From", [_mailbox(rep_name, rep_addr)])))
        if snd_addr and rep_addr and snd_addr.lower() != rep_addr.lower():
            fields.append(("sender", _address_field("Sender", [_mailbox(snd_name, snd_addr)])))
    elif snd_name or snd_addr:
        fields.append(("from", _address_field("From", [_mailbox(snd_name, snd_addr)])))
    subject = _text(src, PR_SUBJECT)
    if subject is not None:
        fields.append(("subject", _unstructured("Subject", _clean_subject(subject))))
    recipients = _recipient_fields(src, warnings)
    fields.append(("to", _address_field("To", recipients["to"])))
    fields.append(("cc", _address_field("Cc", recipients["cc"])))
    fields.append(("bcc", _address_field("Bcc", recipients["bcc"])))
    fields.append(("message-id", _id_field("Message-ID", _text(src, PR_INTERNET_MESSAGE_ID))))
    fields.append(("in-reply-to", _id_field("In-Reply-To", _text(src, PR_IN_REPLY_TO_ID))))
    fields.append(("references", _id_field("References", _text(src, PR_INTERNET_REFERENCES))))
    return [(n, v) for n, v in fields if v]


_COMPLETED_FROM_PROPERTIES = ("date", "from", "subject", "message-id")


def _header_block(src: PropertySource, warnings: list[str]) -> bytes:
    transport = _text(src, PR_TRANSPORT_MESSAGE_HEADERS)
    own = _property_fields(src, warnings)
    fields = transport_header_fields(transport) if transport else []
    if fields:
        present = {name for name, _ in fields}
        fields += [(n, v) for n, v in own if n in _COMPLETED_FROM_PROPERTIES and n not in present]
    else:
        fields = own
    return b"".join(v for _, v in fields)


# --------------------------------------------------------------------------------------------


def _convert(src: PropertySource, depth: int) -> Conversion:
    warnings: list[str] = []
    headers = _header_block(src, warnings)
    entity = _content(src, depth, warnings)
    raw = headers + b"MIME-Version: 1.0\r\n" + entity.serialize()
    return Conversion(raw, tuple(warnings))


def convert_item(src: PropertySource) -> Conversion:
    """MIME bytes for an Outlook item, plus what could not be carried over.

    Raises whatever the underlying library raises when the item itself cannot be read.
    """
    return _convert(src, 0)
