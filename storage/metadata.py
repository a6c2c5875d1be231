"""What the catalogue records of a message: subject, addresses, date, attachment names.

Only the few header fields the catalogue needs are decoded (RFC 2047 words, RFC 2231
parameters, address lists, dates); the message itself is never fully parsed here, which keeps
ingest fast. Broken producers are the norm: every decoder falls back to something readable
and notes a defect instead of failing the message.
"""

from __future__ import annotations

import binascii
import email.charset
import email.errors
import email.header
import email.parser
import email.policy
import email.quoprimime
import email.utils
import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mailark.storage.mime import Leaf, field_name, field_value, header_fields, lenient_first_field

_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclass
class MessageMeta:
    message_id: str | None = None
    subject: str | None = None
    from_addr: str | None = None
    from_name: str | None = None
    to_addrs: list[str] = field(default_factory=list)
    cc_addrs: list[str] = field(default_factory=list)
    bcc_addrs: list[str] = field(default_factory=list)
    date: datetime | None = None
    attachment_names: list[str] = field(default_factory=list)
    attachment_count: int = 0
    defects: list[str] = field(default_factory=list)


def _text(value: bytes) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("latin-1")


_DECODE_ERRORS = (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError, email.errors.CharsetError)
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")


def decode_words(value: str, defects: list[str] | None = None) -> str:
    """RFC 2047 encoded words to text; a word that cannot be decoded (unknown or non-ASCII charset,
    bad base64) keeps its raw text while the words around it are still decoded."""
    if "=?" not in value:
        return value
    if (text := _one_charset_words(value)) is not None:
        return text
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except _DECODE_ERRORS as e:
        if defects is not None:
            defects.append(f"undecodable encoded word: {type(e).__name__}")
    return _decode_word_by_word(value)


# A value that is nothing but encoded words in one charset, apart by blanks (87 % of the corpus's
# encoded values): decoded here as `make_header(decode_header(value))` decodes it, at a fifth of
# its cost. Anything else (text between the words, several charsets, a charset Python does not
# know or cannot round-trip) goes the stdlib's way. tests/storage/test_metadata.py checks both
# agree on every encoded value of the corpus.
_PLAIN_WORD = r"=\?([A-Za-z0-9_.:-]+)\?(?:[bB]\?([A-Za-z0-9+/=]*)|[qQ]\?([!->@-~]*))\?="
_PLAIN_WORDS = re.compile(rf"{_PLAIN_WORD}(?:[ \t\r\n]+{_PLAIN_WORD})*")
_ONE_WORD = re.compile(_PLAIN_WORD)


def _one_charset_words(value: str) -> str | None:
    if not _PLAIN_WORDS.fullmatch(value):
        return None
    charset, data = None, bytearray()
    for m in _ONE_WORD.finditer(value):
        cs = m.group(1).lower()
        if charset is None:
            charset = cs
        elif cs != charset:
            return None
        if m.group(2) is not None:
            b64 = m.group(2)
            b64 += "==="[:(4 - len(b64) % 4) % 4]  # decode_header adds missing padding
            try:
                data += binascii.a2b_base64(b64)
            except binascii.Error:
                return None
        else:
            data += email.quoprimime.header_decode(m.group(3)).encode("latin-1")
    codecs = _charset_codecs(charset or "")
    if codecs is None:
        return None
    try:
        text = bytes(data).decode(codecs[0])
        if codecs[1] != "us-ascii":
            text.encode(codecs[1])
    except (UnicodeError, LookupError):
        return None
    return text


@functools.lru_cache(maxsize=64)
def _charset_codecs(name: str) -> tuple[str, str] | None:
    """(input codec, output codec) of a charset as `email.header.Header.append` uses them."""
    try:
        cs = email.charset.Charset(name)
    except (UnicodeError, LookupError, email.errors.CharsetError):
        return None
    if email.charset.UNKNOWN8BIT in (cs.input_codec, cs.output_codec):
        return None
    return cs.input_codec or "us-ascii", cs.output_codec or "us-ascii"


def _decode_word_by_word(value: str) -> str:
    out: list[str] = []
    last = 0
    prev_decoded = False
    for m in _ENCODED_WORD.finditer(value):
        between = value[last : m.start()]
        try:
            word, decoded = str(email.header.make_header(email.header.decode_header(m.group()))), True
        except _DECODE_ERRORS:
            word, decoded = m.group(), False
        if not (prev_decoded and decoded and between.strip() == ""):  # blanks between two encoded words are not text
            out.append(between)
        out.append(word)
        prev_decoded = decoded
        last = m.end()
    out.append(value[last:])
    return "".join(out)


# The common shapes of an address list entry, `addr` and `Name <addr>` (names of plain atoms,
# or one quoted string without escapes), are read with a regular expression; anything else
# (comments, groups, escapes, dots in names, routes) goes to `email.utils.getaddresses`.
# The results are identical (tests/storage/test_metadata.py checks it on the corpus);
# getaddresses was 60 % of the metadata CPU.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR = rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_WS = r"[ \t\r\n]*"
_SIMPLE_ENTRY = re.compile(rf"{_WS}(?:({_ATEXT}(?:[ \t\r\n]+{_ATEXT})*){_WS}<{_WS}({_ADDR}){_WS}>|<{_WS}({_ADDR}){_WS}>|({_ADDR})){_WS}")
_QUOTED_ENTRY = re.compile(rf'{_WS}"([^"\\\r\n]*)"{_WS}<{_WS}({_ADDR}){_WS}>{_WS}')
_RUNS = re.compile(r"[ \t\r\n]+")


def fast_getaddresses(values: list[str]) -> list[tuple[str, str]]:
    """`email.utils.getaddresses(values)`, with the common shapes read without its parser."""
    out: list[tuple[str, str]] = []
    for value in values:
        m = _QUOTED_ENTRY.fullmatch(value)
        if m:
            out.append((m.group(1), m.group(2)))
            continue
        for entry in value.split(","):
            m = _SIMPLE_ENTRY.fullmatch(entry)
            if m is None:
                return email.utils.getaddresses(values)
            if m.group(2):
                out.append((_RUNS.sub(" ", m.group(1)), m.group(2)))
            else:
                out.append(("", m.group(3) or m.group(4)))
    return out


def _addresses(values: list[str], defects: list[str]) -> list[tuple[str, str]]:
    try:
        pairs = fast_getaddresses(values)
    except Exception as e:  # noqa: BLE001 - stdlib raises assorted errors on hostile input
        defects.append(f"unparseable address list: {type(e).__name__}")
        return []
    return [(decode_words(n, defects), a.strip().lower()) for n, a in pairs if a and "@" in a]


_WANTED = frozenset((b"message-id", b"subject", b"from", b"to", b"cc", b"bcc", b"date"))


def extract(top_fields: list[bytes], leaves: list[Leaf], top_names: list[bytes] | None = None) -> MessageMeta:
    """The catalogue's fields of a split message; `top_names` are the field names the splitter
    already read (`Split.top_names`), else they are read here."""
    meta = MessageMeta()
    d = meta.defects
    by_name: dict[bytes, list[str]] = {}
    if top_names is None or len(top_names) != len(top_fields):
        top_names = [field_name(lenient_first_field(f) if i == 0 else f) for i, f in enumerate(top_fields)]
    for f, n in zip(top_fields, top_names):
        if n in _WANTED:
            by_name.setdefault(n, []).append(_text(field_value(f)))
    if mid := by_name.get(b"message-id"):
        meta.message_id = mid[0].strip() or None
    if subj := by_name.get(b"subject"):
        meta.subject = decode_words(subj[0], d)
    if frm := by_name.get(b"from"):
        addrs = _addresses(frm[:1], d)
        if addrs:
            meta.from_name, meta.from_addr = addrs[0][0] or None, addrs[0][1]
    meta.to_addrs = [a for _, a in _addresses(by_name.get(b"to", []), d)]
    meta.cc_addrs = [a for _, a in _addresses(by_name.get(b"cc", []), d)]
    meta.bcc_addrs = [a for _, a in _addresses(by_name.get(b"bcc", []), d)]
    if date := by_name.get(b"date"):
        meta.date = parse_date(date[0], d)
    for leaf in leaves:
        name = leaf.part.filename if leaf.part else (part_filename(leaf.header) if leaf.header else None)
        if name:
            meta.attachment_names.append(name)
        if name or (leaf.part is not None and leaf.part.is_attachment):
            meta.attachment_count += 1
    return meta


# The year after the month ("4 Dec 2026", "Dec 4, 2026") when written with three or four digits.
_LONG_YEAR = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+(?:\d{1,2},?\s+)?(\d{3,4})(?![\d:])",
                        re.I)


def parse_date(value: str, defects: list[str]) -> datetime | None:
    """The Date header as a UTC time, or None (with a defect) when it cannot be one. A year below
    1000 written in full (``0000``) is stored as no date: the parser would read it as a two-digit
    year (``2000``), a date the message never carried. The header itself stays in the message."""
    if any(int(y) < 1000 for y in _LONG_YEAR.findall(value)):
        defects.append(f"Date header with year {min(_LONG_YEAR.findall(value), key=int)}: no date stored")
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("unparseable Date header")
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        defects.append("Date header out of range")
        return None


def part_filename(header: bytes) -> str | None:
    """The file name a part declares (Content-Disposition or Content-Type name), decoded."""
    low = header.lower()
    if b"name" not in low:
        return None
    if (simple := _simple_filename(header)) is not None:
        return simple or None
    return _stdlib_filename(header)


def _stdlib_filename(header: bytes) -> str | None:
    try:
        msg = _HEADER_PARSER.parsebytes(header + b"\n")
        name = msg.get_filename() or msg.get_param("name")
    except Exception:  # noqa: BLE001 - hostile parameters must not fail the message
        return None
    if isinstance(name, tuple):  # RFC 2231 value that the stdlib could not decode
        name = email.utils.collapse_rfc2231_value(name)
    if not name:
        return None
    return decode_words(str(name)).strip() or None


# A part header whose Content-Type and Content-Disposition carry only plain parameters (no RFC 2231
# `*`, no quote or backslash inside a quoted value, no `<>`, every line a well-formed field) is read
# here, as `get_filename() or get_param("name")` of a compat32 parse reads it, at a fifth of its
# cost; anything else goes to the stdlib. tests/storage/test_metadata.py compares both on every
# part header of the corpus.
_BLANKS = r"[ \t\r\n]*"
_PLAIN_VALUE = r'(?:"[^"\\\r\n<>]*"|[^;"\\ \t\r\n<>=]*)'
_PLAIN_PARAMS = re.compile(
    rf'{_BLANKS}[^;="\\ \t\r\n]+{_BLANKS}((?:;{_BLANKS}[A-Za-z0-9_.-]+{_BLANKS}={_BLANKS}{_PLAIN_VALUE}{_BLANKS})*);?{_BLANKS}')
_ONE_PARAM = re.compile(rf";{_BLANKS}([A-Za-z0-9_.-]+){_BLANKS}={_BLANKS}({_PLAIN_VALUE})")
_WELL_FORMED_FIELD = re.compile(rb"[!-9;-~]+:")


def _simple_filename(header: bytes) -> str | None:
    """The decoded file name ("" for none) of a plain part header; None: ask the stdlib."""
    if not header.isascii():
        return None
    params: dict[bytes, dict[str, str]] = {}
    for f in header_fields(header):
        if not _WELL_FORMED_FIELD.match(f):
            return None
        name = field_name(f)
        if name not in (b"content-type", b"content-disposition"):
            continue
        value = f.split(b":", 1)[1].decode("ascii").lstrip(" \t").rstrip("\r\n")
        m = _PLAIN_PARAMS.fullmatch(value)
        if m is None or name in params:
            return None
        found: dict[str, str] = {}
        for key, raw in _ONE_PARAM.findall(m.group(1)):
            key = key.lower()
            if key in found:
                return None
            found[key] = raw[1:-1] if raw.startswith('"') else raw
        params[name] = found
    # get_filename(): the disposition's filename, else the type's name, stripped; when that is
    # empty, get_param("name"): the type's name as it is.
    type_name = params.get(b"content-type", {}).get("name")
    filename = params.get(b"content-disposition", {}).get("filename", type_name)
    chosen = (filename or "").strip() or type_name or ""
    return decode_words(chosen).strip()


def utc_now() -> datetime:
    return datetime.now(UTC)
