"""Small encoders: base64 and quoted-printable bodies, RFC 2047 encoded words, address
lists, dates, folding: the header and body shapes real mail clients write.
"""

from __future__ import annotations

import base64
import binascii
import random
import unicodedata
from collections.abc import Sequence
from datetime import timedelta

from bench.generate.model import CRLF
from bench.generate.vocabulary import (
    _EPOCH,
    _MONTHS,
    _Q_SAFE,
    _QUEUE_ALPHABET,
    _WEEKDAYS,
)


def _b64_wrap(raw: bytes, line: int = 76, eol: bytes = CRLF) -> bytearray:
    """Base64 of ``raw`` in lines of ``line`` characters ending in ``eol``.

    Strided slice assignment in blocks keeps this in C: several times faster than joining one
    small bytes object per line, which matters when attachments run to gigabytes.
    """
    enc = binascii.b2a_base64(raw, newline=False)
    rows, rest = divmod(len(enc), line)
    width = line + len(eol)
    out = bytearray(rows * width)
    for j, c in enumerate(eol):
        out[line + j :: width] = bytes((c,)) * rows
    block = 16384
    for r0 in range(0, rows, block):
        r1 = min(rows, r0 + block)
        s0, s1, d0, d1 = r0 * line, r1 * line, r0 * width, r1 * width
        for i in range(line):
            out[d0 + i : d1 : width] = enc[s0 + i : s1 : line]
    if rest:
        out += enc[len(enc) - rest :]
        out += eol
    return out


def _qp(text: str) -> bytes:
    """Quoted-printable UTF-8 with CRLF line ends (soft breaks at 76 as clients write them)."""
    return binascii.b2a_qp(text.encode("utf-8")).replace(b"\n", CRLF)


def _crlf(text: str) -> bytes:
    return text.encode("utf-8").replace(b"\n", CRLF)


def _encoded_words(text: str, mode: str) -> list[str]:
    """RFC 2047 UTF-8 encoded-words ("B" or "Q") short enough to fold, never splitting a character."""
    words: list[str] = []
    size = 0
    if mode == "B":
        bcur: list[bytes] = []
        for ch in text:
            b = ch.encode("utf-8")
            if size + len(b) > 42 and bcur:
                words.append("=?UTF-8?B?" + base64.b64encode(b"".join(bcur)).decode("ascii") + "?=")
                bcur, size = [], 0
            bcur.append(b)
            size += len(b)
        if bcur:
            words.append("=?UTF-8?B?" + base64.b64encode(b"".join(bcur)).decode("ascii") + "?=")
        return words
    qcur: list[str] = []
    for ch in text:
        if ch == " ":
            e = "_"
        elif ch in _Q_SAFE:
            e = ch
        else:
            e = "".join(f"={x:02X}" for x in ch.encode("utf-8"))
        if size + len(e) > 58 and qcur:
            words.append("=?UTF-8?Q?" + "".join(qcur) + "?=")
            qcur, size = [], 0
        qcur.append(e)
        size += len(e)
    if qcur:
        words.append("=?UTF-8?Q?" + "".join(qcur) + "?=")
    return words


def _unstructured(name: str, value: str, mode: str) -> str:
    """A header line, RFC 2047-encoded and folded when it is not plain ASCII."""
    if value.isascii():
        return f"{name}: {value}"
    return f"{name}: " + "\r\n ".join(_encoded_words(value, mode))


def _mailbox(display: str, addr: str, mode: str) -> str:
    """``Name <addr>`` with the display name quoted or encoded as RFC 5322 requires."""
    if not display.isascii():
        return " ".join(_encoded_words(display, mode)) + f" <{addr}>"
    if any(c in display for c in ',."()<>@:;[]\\'):
        return '"' + display.replace("\\", "\\\\").replace('"', '\\"') + f'" <{addr}>'
    return f"{display} <{addr}>"


def _address_list(name: str, items: Sequence[str]) -> str:
    """An address header folded between addresses at about 76 characters."""
    lines: list[str] = []
    cur = f"{name}:"
    for i, item in enumerate(items):
        tok = item + ("," if i + 1 < len(items) else "")
        if len(cur) + 1 + len(tok) > 76 and cur != f"{name}:":
            lines.append(cur)
            cur = " " + tok
        else:
            cur += " " + tok
    lines.append(cur)
    return "\r\n".join(lines)


def _fold_b64(prefix: str, value: str) -> str:
    """Fold a long base64 tag value (DKIM/ARC ``b=``) over continuation lines."""
    parts = [value[i : i + 70] for i in range(0, len(value), 70)]
    return prefix + "\r\n\t ".join(parts)


def _ascii_fold(text: str) -> str:
    """Lower-case ASCII form of a name for a local part (``Jürgen`` -> ``jurgen``)."""
    s = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(c for c in s.lower() if c.isalnum())


def _rfc2231(value: str) -> str:
    return "UTF-8''" + "".join(
        chr(b) if (chr(b).isalnum() and b < 128) or chr(b) in "-._~" else f"%{b:02X}"
        for b in value.encode("utf-8")
    )


def _queue_id(random_bytes: bytes) -> str:
    """A Postfix-style queue id from random bytes."""
    return "".join([_QUEUE_ALPHABET[b % 51] for b in random_bytes])


def _date(t: int, tz_minutes: int, pad: bool = False) -> str:
    """RFC 5322 date of the UTC second ``t`` shown in a fixed zone offset."""
    d = _EPOCH + timedelta(seconds=t + tz_minutes * 60)
    sign = "+" if tz_minutes >= 0 else "-"
    hh, mm = divmod(abs(tz_minutes), 60)
    day = f"{d.day:02d}" if pad else str(d.day)
    return (f"{_WEEKDAYS[d.weekday()]}, {day} {_MONTHS[d.month - 1]} {d.year} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} {sign}{hh:02d}{mm:02d}")


def _topic(subject: str) -> str:
    """The subject without reply/forward prefixes (Outlook's Thread-Topic)."""
    while True:
        for prefix in ("RE: ", "Re: ", "AW: ", "FW: ", "Fwd: ", "WG: "):
            if subject.startswith(prefix):
                subject = subject[len(prefix) :]
                break
        else:
            return subject


def _lognormal_size(rng: random.Random, median: float, sigma: float, low: int, high: int) -> int:
    return int(min(high, max(low, rng.lognormvariate(0.0, sigma) * median)))
