"""Split a message into a shared skeleton, a per-copy delta and content-addressed parts; rebuild it.

The split works on bytes with exact offsets, never on a parsed-and-reserialized message, so the
rebuild is byte-exact by construction: every byte of the input is either a literal of the
skeleton or delta, or comes from a part that was re-encoded and compared at ingest.

- *Transport fields* of the top-level header (Received, Return-Path, authentication results,
  Bcc, ...) differ between the copies of one message; they go into the per-copy **delta** with
  their positions. Everything else is the **skeleton**, identical for every copy, so it is
  stored once per distinct message. Its HMAC is the message key.
- Large leaf bodies become **parts**, stored once per organization under the HMAC of their
  content. A base64 body is keyed by its *decoded* bytes plus a recipe (line length, line
  ending, final newline) that re-encodes it exactly, so an attachment that another client
  wrapped differently is still stored once. A body the recipe cannot reproduce is kept as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

SKELETON_MAGIC = b"SK1"
DELTA_MAGIC = b"DL1"
MAX_DEPTH = 12
# A leaf body of at least this size becomes an object of its own; smaller ones stay in the
# skeleton (packed per batch). Base64 bodies are nearly always attachments worth sharing.
PART_MIN_PLAIN = 16 * 1024
PART_MIN_BASE64 = 2 * 1024

TRANSPORT_FIELDS = frozenset(
    {
        b"received",
        b"x-received",
        b"return-path",
        b"delivered-to",
        b"x-original-to",
        b"envelope-to",
        b"x-envelope-to",
        b"x-envelope-from",
        b"authentication-results",
        b"arc-seal",
        b"arc-message-signature",
        b"arc-authentication-results",
        b"received-spf",
        b"dkim-signature",
        b"x-google-dkim-signature",
        b"domainkey-signature",
        b"dkim-filter",
        b"bcc",
        b"resent-bcc",
        b"status",
        b"x-status",
        b"x-keywords",
        b"x-uid",
        b"lines",
        b"content-length",
        b"x-spam-status",
        b"x-spam-score",
        b"x-spam-level",
        b"x-spam-flag",
        b"x-spam-checker-version",
        b"x-virus-scanned",
        b"x-gm-message-state",
        b"x-original-arrival-time",
        b"x-ms-exchange-crosstenant-originalarrivaltime",
    }
)
TRANSPORT_PREFIXES = (
    b"x-ms-exchange-",
    b"x-microsoft-antispam",
    b"x-forefront-",
    b"x-mozilla-",
    b"x-ms-office365-",
    b"x-ms-traffictypediagnostic",
    b"x-ms-publictraffictype",
    b"x-eopattributedmessage",
    b"x-eoptenantattributedmessage",
    b"x-ms-oob-tlc",
    b"x-exchange-antispam",
    b"x-mimecast-",
    b"x-proofpoint-",
    b"x-barracuda-",
    b"x-ironport-",
    b"x-spam-",
    b"x-virus-",
)
# Header names a message has; a file whose header has none of them is not a message.
MESSAGE_FIELDS = frozenset(
    {
        b"from",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"received",
        b"mime-version",
        b"content-type",
        b"return-path",
        b"sender",
        b"delivered-to",
        b"reply-to",
        b"in-reply-to",
        b"references",
        b"x-mailer",
    }
)

_HEADER_END = re.compile(rb"\n(\r?\n)")
_FIELD_NAME = re.compile(rb"([!-9;-~]+)[ \t]*:")
_BOUNDARY = re.compile(rb'boundary[ \t]*=[ \t]*(?:"([^"\r\n]*)"|([^\s;"]+))', re.IGNORECASE)
_CTYPE = re.compile(rb"[ \t]*([!-~]+?)/([!-~]+?)[ \t]*(?:;|\r|\n|$)")
_CTE = re.compile(rb"[ \t\r\n]*([A-Za-z0-9_-]+)")
_FOLD = re.compile(rb"\r?\n[ \t]")


class NotAMessage(ValueError):
    """The bytes are not an RFC 5322 message; the text says why (it becomes the quarantine reason)."""


# ---- header fields ----------------------------------------------------------------------------


def split_header(data: bytes) -> tuple[bytes, bytes, bytes]:
    """(header block incl. its last line ending, the blank line, body)."""
    block, sep, at = header_at(data, 0, len(data))
    return block, sep, data[at:]


def header_at(buf: bytes, start: int, end: int) -> tuple[bytes, bytes, int]:
    """`split_header` of ``buf[start:end]`` without copying the body: (block, blank line, where the
    body starts in `buf`). A huge attachment is then sliced once, not once per MIME level."""
    if buf.startswith(b"\n", start, end):
        return b"", b"\n", start + 1
    if buf.startswith(b"\r\n", start, end):
        return b"", b"\r\n", start + 2
    m = _HEADER_END.search(buf, start, end)
    if m is None:
        return buf[start:end], b"", end
    return buf[start : m.start() + 1], m.group(1), m.end()


def header_fields(block: bytes) -> list[bytes]:
    """Each field with its continuation lines and line endings, exactly as in the block."""
    fields: list[bytes] = []
    for line in block.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def field_name(f: bytes) -> bytes:
    """The lower-cased name of a header field, b"" if the line is not a field."""
    m = _FIELD_NAME.match(f)
    return m.group(1).lower() if m else b""


def field_value(f: bytes) -> bytes:
    """The unfolded value without the name and line ending."""
    i = f.find(b":")
    return _FOLD.sub(b" ", f[i + 1 :]).strip() if i >= 0 else b""


def is_transport(name: bytes) -> bool:
    return name in TRANSPORT_FIELDS or name.startswith(TRANSPORT_PREFIXES)


def _first(fields: list[bytes], names: list[bytes], name: bytes) -> bytes | None:
    for f, n in zip(fields, names):
        if n == name:
            return field_value(f)
    return None


def _delimiters(body: bytes, boundary: bytes, start: int = 0, stop: int | None = None) -> list[tuple[int, int, bool]]:
    """(start, end incl. line ending, is closing) of each delimiter line, up to the closing one,
    within ``body[start:stop]`` (positions are in `body`).

    A delimiter is `--boundary` at the start of a line, optionally `--`, optional blanks, then a
    line ending or the end of the body (RFC 2046). Scanned with find(), not a regular expression:
    every message has its own boundary, and compiling a pattern each time costs more than the scan.
    """
    marker = b"--" + boundary
    out: list[tuple[int, int, bool]] = []
    n = len(body) if stop is None else stop
    i = body.find(marker, start, n)
    while i >= 0:
        if i == start or body[i - 1] == 0x0A:
            k = i + len(marker)
            closing = body.startswith(b"--", k, n)
            if closing:
                k += 2
            while k < n and body[k] in (0x20, 0x09):
                k += 1
            end = -1
            if k == n:
                end = k
            elif body[k] == 0x0A:
                end = k + 1
            elif body[k] == 0x0D:
                end = k + 2 if body.startswith(b"\n", k + 1, n) else k + 1
            if end >= 0:
                out.append((i, end, closing))
                if closing:
                    break
                i = body.find(marker, end, n)
                continue
        i = body.find(marker, i + 1, n)
    return out


# ---- encoded skeleton and delta ---------------------------------------------------------------


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _read_bytes(buf: bytes, pos: int) -> tuple[bytes, int]:
    """A length-prefixed byte string at `pos`, and the position after it."""
    ln, pos = _read_uvarint(buf, pos)
    return buf[pos : pos + ln], pos + ln


def _read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7


@dataclass(frozen=True)
class Recipe:
    """How a part's stored content becomes the exact bytes in the message."""

    kind: int  # 0: stored as it is; 1: base64 of the stored content
    line_len: int = 0
    crlf: bool = False
    final_eol: bool = False

    def encode(self, content: bytes) -> bytes:
        if self.kind == 0:
            return content
        return encode_base64(content, self.line_len, b"\r\n" if self.crlf else b"\n", self.final_eol)

    def pack(self) -> bytes:
        if self.kind == 0:
            return b"\x00"
        return b"\x01" + _uvarint(self.line_len) + bytes([self.crlf | (self.final_eol << 1)])


_LINES_PER_PIECE = 4096


def iter_base64(content: bytes, line_len: int, eol: bytes, final_eol: bool) -> Iterator[bytes]:
    """`encode_base64` in pieces of a few thousand lines: joined, exactly its bytes. A large attachment
    is checked against its recipe without a second encoded copy (plus one object per line) in memory."""
    if line_len <= 0 or line_len % 4:
        yield encode_base64(content, line_len, eol, final_eol)
        return
    step = line_len // 4 * 3 * _LINES_PER_PIECE
    view = memoryview(content)
    for start in range(0, len(content), step):
        enc = base64.b64encode(view[start : start + step])
        piece = eol.join([enc[i : i + line_len] for i in range(0, len(enc), line_len)])
        last = start + step >= len(content)
        yield piece + eol if (not last or final_eol) and piece else piece


def matches_base64(content: bytes, recipe: Recipe, body: bytes | memoryview) -> bool:
    """Whether `recipe` re-encodes `content` to exactly `body`, compared piece by piece."""
    eol = b"\r\n" if recipe.crlf else b"\n"
    with memoryview(body) as view:
        pos = 0
        for piece in iter_base64(content, recipe.line_len, eol, recipe.final_eol):
            if view[pos : pos + len(piece)] != piece:
                return False
            pos += len(piece)
        return pos == len(view)


def encode_base64(content: bytes, line_len: int, eol: bytes, final_eol: bool) -> bytes:
    enc = base64.b64encode(content)
    if line_len <= 0 or len(enc) <= line_len:
        body = enc
    else:
        body = eol.join([enc[i : i + line_len] for i in range(0, len(enc), line_len)])
    return body + eol if final_eol and body else body


@dataclass
class Part:
    """A leaf body stored as an object of its own."""

    digest: bytes  # HMAC of `content`: the object's name
    content: bytes  # what is stored (decoded bytes for base64 recipes); a writer may drop it once stored
    plain_size: int
    recipe: Recipe
    encoded_size: int  # bytes it takes in the message
    content_type: str
    filename: str | None
    is_attachment: bool


@dataclass
class Leaf:
    """What metadata wants of every leaf (stored or inline)."""

    content_type: str
    header: bytes  # the part's raw header block
    size: int
    part: Part | None


@dataclass
class Split:
    skeleton: bytes
    delta: bytes  # b"" when the copy has no transport fields
    parts: list[Part]
    leaves: list[Leaf]
    top_fields: list[bytes]  # all top-level fields, as received
    message_digest: bytes  # HMAC of the skeleton: the message key
    defects: list[str] = field(default_factory=list)
    # The lower-cased name of each top-level field (b"" for a line that is not one), named once
    # here so that metadata does not scan the fields again.
    top_names: list[bytes] = field(default_factory=list)


class _SkeletonBuilder:
    def __init__(self) -> None:
        self.out = bytearray()
        self.literal = bytearray()

    def lit(self, b: bytes) -> None:
        self.literal += b

    def ref(self, part: Part) -> None:
        self._flush()
        self.out += b"R" + part.digest + _uvarint(part.plain_size) + part.recipe.pack()

    def _flush(self) -> None:
        if self.literal:
            self.out += b"L" + _uvarint(len(self.literal)) + self.literal
            self.literal = bytearray()

    def done(self) -> bytes:
        self._flush()
        return bytes(self.out)


# ---- split ------------------------------------------------------------------------------------


UTF8_BOM = b"\xef\xbb\xbf"


def lenient_first_field(first: bytes) -> bytes:
    """The first header field without what broken producers put before it (a BOM, blanks)."""
    return first.removeprefix(UTF8_BOM).lstrip()


class Splitter:
    """Splits messages for one organization; `digest` is its naming HMAC."""

    def __init__(self, digest: Callable[[bytes], bytes]) -> None:
        self.digest = digest

    def split(self, raw: bytes) -> Split:
        if not raw.strip():
            raise NotAMessage("empty file: no header and no body")
        block, sep, at = header_at(raw, 0, len(raw))
        fields = header_fields(block)
        strict = [field_name(f) for f in fields]  # what the entity reads (as it always has)
        names = list(strict)
        defects: list[str] = []
        if names and not names[0] and (lenient := field_name(lenient_first_field(fields[0]))):
            # Broken producers put blanks or a UTF-8 byte order mark (Windows editors) before the
            # first field; the bytes stay as they are.
            names[0] = lenient
            defects.append("UTF-8 byte order mark before the first header field" if fields[0].startswith(UTF8_BOM)
                           else "white space before the first header field")
        if not names or not names[0]:
            raise NotAMessage("not an RFC 5322 message: the first line is not a header field")
        if not any(n in MESSAGE_FIELDS for n in names):
            raise NotAMessage("not an RFC 5322 message: no From, To, Subject, Date or MIME header")

        kept: list[bytes] = []
        delta = bytearray()
        n_delta = 0
        for i, (f, n) in enumerate(zip(fields, names)):
            if n and is_transport(n):
                delta += _uvarint(i) + _uvarint(len(f)) + f
                n_delta += 1
            else:
                kept.append(f)

        sk = _SkeletonBuilder()
        sk.out += SKELETON_MAGIC + _uvarint(len(kept))
        for f in kept:
            sk.out += _uvarint(len(f)) + f
        parts: list[Part] = []
        leaves: list[Leaf] = []
        sk.lit(sep)
        self._entity(fields, raw, at, len(raw), sk, parts, leaves, defects, 0, strict)
        skeleton = sk.done()
        return Split(
            skeleton=skeleton,
            delta=(DELTA_MAGIC + _uvarint(n_delta) + bytes(delta)) if n_delta else b"",
            parts=parts,
            leaves=leaves,
            top_fields=fields,
            message_digest=self.digest(skeleton),
            defects=defects,
            top_names=names,
        )

    def _entity(
        self,
        fields: list[bytes],
        buf: bytes,
        start: int,
        end: int,
        sk: _SkeletonBuilder,
        parts: list[Part],
        leaves: list[Leaf],
        defects: list[str],
        depth: int,
        names: list[bytes] | None = None,
    ) -> None:
        """Emit the body ``buf[start:end]`` into the skeleton, recursing into multiparts and attached
        messages. Bodies are positions in the one message buffer, never copies."""
        if names is None:
            names = [field_name(f) for f in fields]
        ctype_raw = _first(fields, names, b"content-type")
        maintype, subtype = b"text", b"plain"
        if ctype_raw is not None:
            m = _CTYPE.match(ctype_raw)
            if m:
                maintype, subtype = m.group(1).lower(), m.group(2).lower()
        cte_raw = _first(fields, names, b"content-transfer-encoding")
        cte = b""
        if cte_raw:
            m = _CTE.match(cte_raw)
            cte = m.group(1).lower() if m else b""

        if maintype == b"multipart" and depth < MAX_DEPTH and ctype_raw is not None:
            bm = _BOUNDARY.search(ctype_raw)
            if bm:
                boundary = (bm.group(1) if bm.group(1) is not None else bm.group(2)).rstrip()
                if boundary and self._multipart(boundary, buf, start, end, sk, parts, leaves, defects, depth):
                    return
                defects.append("multipart without its boundary lines")
            else:
                defects.append("multipart without a boundary parameter")
        elif (
            maintype == b"message"
            and subtype == b"rfc822"
            and cte in (b"", b"7bit", b"8bit", b"binary")
            and depth < MAX_DEPTH
            and end > start
        ):
            block, sep, inner = header_at(buf, start, end)
            inner_fields = header_fields(block)
            if inner_fields and field_name(inner_fields[0]):
                sk.lit(block)
                sk.lit(sep)
                self._entity(inner_fields, buf, inner, end, sk, parts, leaves, defects, depth + 1)
                return
        self._leaf(fields, maintype + b"/" + subtype, cte, buf, start, end, sk, parts, leaves)

    def _multipart(
        self,
        boundary: bytes,
        buf: bytes,
        first: int,
        last: int,
        sk: _SkeletonBuilder,
        parts: list[Part],
        leaves: list[Leaf],
        defects: list[str],
        depth: int,
    ) -> bool:
        delims = _delimiters(buf, boundary, first, last)
        if not delims:
            return False
        pos = first
        for i, (start, d_end, _) in enumerate(delims):
            if i > 0:
                # The line ending before a delimiter belongs to the delimiter.
                end = start
                if buf[end - 2 : end] == b"\r\n":
                    end -= 2
                elif buf[end - 1 : end] in (b"\n", b"\r"):
                    end -= 1
                end = max(end, pos)
                self._part(buf, pos, end, sk, parts, leaves, defects, depth)
                pos = end
            sk.lit(buf[pos:d_end])
            pos = d_end
        if not delims[-1][2]:
            defects.append("multipart without its closing boundary")
            if pos < last:
                self._part(buf, pos, last, sk, parts, leaves, defects, depth)
                return True
        sk.lit(buf[pos:last])
        return True

    def _part(
        self,
        buf: bytes,
        start: int,
        end: int,
        sk: _SkeletonBuilder,
        parts: list[Part],
        leaves: list[Leaf],
        defects: list[str],
        depth: int,
    ) -> None:
        block, sep, at = header_at(buf, start, end)
        fields = header_fields(block)
        if fields and not field_name(fields[0]):
            # Not a header: the whole part is body text with default type.
            block, sep, at, fields = b"", b"", start, []
        sk.lit(block)
        sk.lit(sep)
        self._entity(fields, buf, at, end, sk, parts, leaves, defects, depth + 1)

    def _leaf(
        self,
        fields: list[bytes],
        ctype: bytes,
        cte: bytes,
        buf: bytes,
        start: int,
        end: int,
        sk: _SkeletonBuilder,
        parts: list[Part],
        leaves: list[Leaf],
    ) -> None:
        header = b"".join(fields)
        part: Part | None = None
        size = end - start
        if cte == b"base64" and size >= PART_MIN_BASE64:
            part = self._base64_part(buf, start, end, ctype, header)
        if part is None and size >= PART_MIN_PLAIN:
            part = self._make_part(buf[start:end], Recipe(0), size, ctype, header)
        leaves.append(Leaf(ctype.decode("ascii", "replace"), header, size, part))
        if part is None:
            sk.lit(buf[start:end])
        else:
            parts.append(part)
            sk.ref(part)

    def _base64_part(self, buf: bytes, start: int, end: int, ctype: bytes, header: bytes) -> Part | None:
        """Decoded straight from the message buffer: the only new copy is the decoded content."""
        nl = buf.find(b"\n", start, end)
        if nl < 0:
            stop = end
            while stop > start and buf[stop - 1] == 0x0D:
                stop -= 1
            line_len, crlf = stop - start, False
        else:
            crlf = nl > start and buf[nl - 1] == 0x0D
            line_len = nl - start - (1 if crlf else 0)
        eol = b"\r\n" if crlf else b"\n"
        final_eol = buf.endswith(eol, start, end)
        with memoryview(buf) as whole, whole[start:end] as body:
            try:
                decoded = binascii.a2b_base64(body, strict_mode=False)
            except binascii.Error:
                return None
            recipe = Recipe(1, line_len, crlf, final_eol)
            if not matches_base64(decoded, recipe, body):
                return None
        return self._make_part(decoded, recipe, end - start, ctype, header)

    def _make_part(self, content: bytes, recipe: Recipe, encoded_size: int, ctype: bytes, header: bytes) -> Part:
        from mailark.storage.metadata import part_filename  # local: keeps this module free of email.* cost

        filename = part_filename(header) if header else None
        lower = header.lower()
        is_att = bool(filename) or b"attachment" in lower or not ctype.startswith((b"text/", b"multipart/"))
        return Part(
            self.digest(content), content, len(content), recipe, encoded_size, ctype.decode("ascii", "replace"), filename, is_att
        )


# ---- rebuild ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartRef:
    digest: bytes
    size: int  # stored content size
    recipe: Recipe


def skeleton_refs(skeleton: bytes) -> list[PartRef]:
    """The parts a skeleton needs, in order."""
    return [s for s in _skeleton_segments(skeleton)[1] if isinstance(s, PartRef)]


def _skeleton_segments(skeleton: bytes) -> tuple[list[bytes], list[bytes | PartRef]]:
    if not skeleton.startswith(SKELETON_MAGIC):
        raise ValueError("not a mailark skeleton")
    pos = len(SKELETON_MAGIC)
    n, pos = _read_uvarint(skeleton, pos)
    fields = []
    for _ in range(n):
        f, pos = _read_bytes(skeleton, pos)
        fields.append(f)
    segs: list[bytes | PartRef] = []
    end = len(skeleton)
    while pos < end:
        tag = skeleton[pos]
        pos += 1
        if tag == 0x4C:  # "L"
            lit, pos = _read_bytes(skeleton, pos)
            segs.append(lit)
        elif tag == 0x52:  # "R"
            digest = skeleton[pos : pos + 32]
            pos += 32
            size, pos = _read_uvarint(skeleton, pos)
            kind = skeleton[pos]
            pos += 1
            if kind == 0:
                recipe = Recipe(0)
            else:
                line_len, pos = _read_uvarint(skeleton, pos)
                flags = skeleton[pos]
                pos += 1
                recipe = Recipe(1, line_len, bool(flags & 1), bool(flags & 2))
            segs.append(PartRef(digest, size, recipe))
        else:
            raise ValueError(f"corrupt skeleton: unknown segment tag {tag}")
    return fields, segs


def delta_fields(delta: bytes) -> list[tuple[int, bytes]]:
    if not delta:
        return []
    if not delta.startswith(DELTA_MAGIC):
        raise ValueError("not a mailark delta")
    pos = len(DELTA_MAGIC)
    n, pos = _read_uvarint(delta, pos)
    out = []
    for _ in range(n):
        idx, pos = _read_uvarint(delta, pos)
        f, pos = _read_bytes(delta, pos)
        out.append((idx, f))
    return out


def rebuild(skeleton: bytes, delta: bytes, fetch: Callable[[bytes], bytes]) -> bytes:
    """The copy's exact bytes; `fetch(digest)` returns a part's stored content."""
    kept, segs = _skeleton_segments(skeleton)
    fields = list(kept)
    for idx, f in delta_fields(delta):
        fields.insert(idx, f)
    out = [b"".join(fields)]
    for s in segs:
        if not isinstance(s, PartRef):
            out.append(s)
        elif s.recipe.kind == 1:
            # Encoded in pieces: a huge attachment is not held encoded twice (whole, then as lines)
            # next to the message being joined.
            r = s.recipe
            out.extend(iter_base64(fetch(s.digest), r.line_len, b"\r\n" if r.crlf else b"\n", r.final_eol))
        else:
            out.append(s.recipe.encode(fetch(s.digest)))
    return b"".join(out)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
