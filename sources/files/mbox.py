"""Split an mbox file into messages, streaming, with a bounded buffer.

A 2 GB mbox must not be read into memory: lines are read in pieces of at most ``MAX_PIECE`` bytes
and only the current message is held (once, in a growing buffer that is handed over without a
copy). Rules, and why:

* **Separators.** A line starting with ``From `` separates messages when it is the first line of
  the file or follows a blank line (the classic rule; mboxrd/mboxo writers escape body lines that
  start with ``From ``). To be tolerant of writers that forget the blank line, a ``From `` line
  *not* preceded by a blank line also separates when it looks like a real separator,
  ``From <addr> <asctime date>`` (e.g. ``From MAILER-DAEMON  Thu Jul  2 12:05:05 2020``, also with
  a zone before or after the year). A body line such as ``From here on ...`` stays in the message.
  The separator line is not part of the message.
* **Unescaping.** mboxrd: a line matching ``^>+From `` loses one ``>``; this also undoes mboxo
  escaping (where it cannot be told apart from a real ``>From `` line; that is mboxo's flaw).
* **The blank line before a separator** (and a final blank line at the end of the file) belongs to
  the mbox format, not to the message: exactly one such line is dropped, as Python's ``mailbox``
  does. Every other byte is kept as it is, CRLF or LF.
* **Line ends.** Lines end at LF (so CRLF lines keep their CR). A file whose first line ends with a
  lone CR (classic Mac OS files) is read with CR as the line end instead.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .model import SourceMessage, SourceProblem

MAX_PIECE = 1 << 20  # longest piece of a line held at once (longer lines are streamed in pieces)
READ_CHUNK = 1 << 16

_DAY = rb"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MONTH = rb"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_ZONE = rb"(?:[A-Za-z]{1,5}|[+-]\d{4})"
# From <addr> <asctime>, optionally with a zone before or after the year.
_SEPARATOR = re.compile(
    rb"From \S+ +" + _DAY + rb",? +" + _MONTH + rb" +\d{1,2} +\d{1,2}:\d{2}(?::\d{2})?"
    rb"(?: +" + _ZONE + rb")? +\d{4}(?: +" + _ZONE + rb")?[ \t]*$"
)
_ESCAPED_FROM = re.compile(rb">+From ")
_FIRST_LINE_END = re.compile(rb"[\r\n]")


def looks_like_separator(line: bytes) -> bool:
    """True for a proper ``From <addr> <asctime date>`` separator line (without its line end)."""
    return _SEPARATOR.match(line) is not None


def _line_terminator(f: BinaryIO) -> bytes:
    """LF normally; CR when the first line ends with a lone CR (classic Mac OS line ends)."""
    head = f.read(READ_CHUNK)
    f.seek(0)
    end = _FIRST_LINE_END.search(head)
    if end is not None and end.group() == b"\r" and head[end.end() : end.end() + 1] != b"\n":
        return b"\r"
    return b"\n"


def _pieces_lf(f: BinaryIO) -> Iterator[bytes]:
    """Lines ending in LF, each at most MAX_PIECE bytes (a longer line comes in several pieces)."""
    readline = f.readline
    while piece := readline(MAX_PIECE):
        yield piece


def _pieces_sep(f: BinaryIO, term: bytes) -> Iterator[bytes]:
    """Like ``_pieces_lf`` for another one-byte line terminator. What follows an over-long piece is
    split at its line ends like everything else (also at the end of the file)."""
    buf = b""
    pos = 0
    eof = False
    while True:
        i = buf.find(term, pos)
        if i != -1 and i + 1 - pos <= MAX_PIECE:
            yield buf[pos : i + 1]
            pos = i + 1
            continue
        if len(buf) - pos >= MAX_PIECE:
            yield buf[pos : pos + MAX_PIECE]
            pos += MAX_PIECE
            continue
        if eof:
            if pos < len(buf):
                yield buf[pos:]
            return
        chunk = f.read(READ_CHUNK)
        buf = buf[pos:] + chunk
        pos = 0
        eof = not chunk


def iter_mbox(
    path: Path, *, folder: str, position: str, origin: Path | None = None
) -> Iterator[SourceMessage | SourceProblem]:
    """Yield the messages of the mbox at ``path``.

    ``position`` is the file's path relative to the import source; each message's position is
    ``<position>#msg=<n>@offset=<byte offset of its From line>`` (n counts from 1).
    A read error in the middle of the file yields a problem with the bytes read so far and stops.
    """
    origin = Path(path) if origin is None else origin

    def item(buf: io.BytesIO, number: int, offset: int) -> SourceMessage:
        return SourceMessage(
            raw=buf.getvalue(),  # hands over the buffer without copying it
            folder=folder,
            source="mbox",
            position=f"{position}#msg={number}@offset={offset}",
            origin=origin,
        )

    number = 0
    offset = 0
    msg_offset = 0
    buf: io.BytesIO | None = None
    try:
        with open(path, "rb", buffering=1 << 20) as f:
            term = _line_terminator(f)
            blanks = (term, b"\r\n") if term == b"\n" else (term,)
            pieces = _pieces_lf(f) if term == b"\n" else _pieces_sep(f, term)
            at_line_start = True
            prev_blank = False
            pending_blank: bytes | None = None  # a blank line that may turn out to precede a separator
            skip_rest_of_line = False  # inside an (over-long) separator line
            for piece in pieces:
                starts_line = at_line_start
                at_line_start = piece.endswith(term)
                piece_offset = offset
                offset += len(piece)
                if not starts_line:
                    if skip_rest_of_line:
                        skip_rest_of_line = not at_line_start
                        continue
                    buf.write(piece)  # type: ignore[union-attr]  # buf exists after a line start
                    continue
                if piece.startswith(b"From ") and (
                    buf is None or prev_blank or looks_like_separator(piece.rstrip(b"\r\n"))
                ):
                    if buf is not None:
                        yield item(buf, number, msg_offset)
                    buf = io.BytesIO()
                    number += 1
                    msg_offset = piece_offset
                    pending_blank = None
                    prev_blank = False
                    skip_rest_of_line = not at_line_start
                    continue
                if buf is None:  # no separator at the very start: keep the leading text as a message
                    buf = io.BytesIO()
                    number += 1
                    msg_offset = 0
                if pending_blank is not None:
                    buf.write(pending_blank)
                    pending_blank = None
                if piece in blanks:
                    pending_blank = piece
                    prev_blank = True
                    continue
                prev_blank = False
                if piece[:1] == b">" and _ESCAPED_FROM.match(piece):
                    piece = piece[1:]
                buf.write(piece)
    except OSError as exc:
        partial = buf.getvalue() if buf is not None else b""
        yield SourceProblem(
            raw=partial,
            folder=folder,
            source="mbox",
            position=f"{position}#msg={max(number, 1)}@offset={msg_offset}",
            origin=origin,
            reason=f"mbox file could not be read to the end (stopped at byte {offset}): {exc}",
        )
        return
    if buf is not None:
        yield item(buf, number, msg_offset)
