"""Names inside an export zip and cells of its manifest: safe wherever the zip is opened.

Mailbox and folder names come from mail servers, files and users. An entry name must never leave
the zip's root (`..`, absolute paths, backslashes, drive letters), must be portable (no control
characters or characters Windows refuses, no trailing dots or spaces), and must be unique even on a
case-insensitive file system or where a folder is named like a message file (`000001.eml`).
A manifest cell must not run as a spreadsheet formula and must stay one bounded line.
"""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\/:*?\"<>|]")
_MESSAGE_FILE = re.compile(r"^\d{6}\.(eml|raw)$", re.I)
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)
MAX_SEGMENT = 120
MAX_CELL = 2000


def neutralize_bidi(text: str) -> str:
    """Bidirectional controls (e.g. U+202E RIGHT-TO-LEFT OVERRIDE) shown as visible escapes, so
    `invoice\u202efdp.exe` cannot pass for `invoiceexe.pdf`."""
    return "".join(f"[U+{ord(c):04X}]" if unicodedata.bidirectional(c) in ("LRE", "RLE", "LRO", "RLO", "PDF", "LRI",
                                                                            "RLI", "FSI", "PDI")
                   or c in "\u200e\u200f\u061c" else c for c in text)


def safe_segment(segment: str) -> str:
    s = neutralize_bidi(_UNSAFE.sub("_", segment)).strip().rstrip(". ")
    if s in ("", ".", ".."):
        s = "_"
    if _MESSAGE_FILE.match(s) or _WINDOWS_RESERVED.match(s):
        s += "_"
    return s[:MAX_SEGMENT]


def zip_folder(mailbox: str, folder: str) -> str:
    """A safe relative path inside the zip for a mailbox folder."""
    return "/".join(safe_segment(s) for s in [mailbox, *folder.split("/")] if s.strip() not in ("", ".", ".."))


def _fold(path: str) -> str:
    """What a case-insensitive, normalizing file system (Windows, macOS) sees: "Café" in NFC and NFD,
    "Straße" and "STRASSE" are one name there."""
    return unicodedata.normalize("NFC", path).casefold()


class FolderNames:
    """Gives every (mailbox, folder) its own directory, unique without regard to case or Unicode normalization."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self._given: dict[tuple[str, str], str] = {}
        self._taken: set[str] = set()

    def __call__(self, mailbox: str, folder: str) -> str:
        key = (mailbox, folder)
        if key not in self._given:
            base = self.prefix + zip_folder(mailbox, folder)
            name, n = base, 1
            while _fold(name) in self._taken:
                n += 1
                name = f"{base}~{n}"
            self._taken.add(_fold(name))
            self._given[key] = name
        return self._given[key]


def safe_cell(value: object, limit: int | None = MAX_CELL) -> str:
    """A manifest (or audit CSV) cell: one line, bounded (unless `limit` is None), never a formula."""
    text = re.sub(r"[\x00-\x1f\x7f]", " ", "" if value is None else str(value))[:limit]
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
