"""Recognise Maildir and Maildir++ directories and name their folders (Dovecot, Courier, Postfix).

A Maildir keeps one message per file in ``cur/`` (seen by a client) and ``new/`` (not yet);
``tmp/`` holds deliveries in progress and is never read. Maildir++ (Courier, Dovecot's default
layout) keeps each folder as a hidden sibling ``.Folder.Sub`` of the root's ``cur/``; its names are
IMAP modified UTF-7 (``.Entw&APw-rfe`` is "Entwürfe"). Dovecot's ``LAYOUT=fs`` keeps folders as
plain subdirectories instead. A file's name ends in ``:2,<flags>`` once a client has seen it; the
flags (D draft, F flagged, P passed, R replied, S seen, T trashed) change while the message does
not, so they are read apart from the name that identifies the file.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

#: Subdirectories holding messages (tmp/ holds deliveries in progress: never read).
MESSAGE_DIRS = ("cur", "new")
_MARKERS = ("cur", "new", "tmp")
_INFO_SEPARATORS = (":2,", ";2,", "!2,")  # ":" is not allowed in names on Windows; Dovecot may use another


def is_maildir(directory: Path) -> bool:
    """True when ``directory`` has at least two of ``cur/``, ``new/``, ``tmp/`` and one of the first two."""
    present = {m for m in _MARKERS if os.path.isdir(os.path.join(directory, m))}
    return len(present) >= 2 and bool(present & set(MESSAGE_DIRS))


def split_info(name: str) -> tuple[str, str]:
    """(the file's unique name, its flags) from a Maildir file name: ``"123.M1.host:2,RS"`` -> ``("123.M1.host", "RS")``."""
    for sep in _INFO_SEPARATORS:
        head, found, flags = name.rpartition(sep)
        if found and head:
            return head, "".join(sorted(set(c for c in flags if c.isascii() and c.isupper())))
    return name, ""


def decode_mutf7(name: str) -> str:
    """IMAP modified UTF-7 (RFC 3501 5.1.3) to text; a name that is not valid stays as it is."""
    if "&" not in name:
        return name
    out: list[str] = []
    i = 0
    while i < len(name):
        c = name[i]
        if c != "&":
            out.append(c)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end == -1:
            return name
        chunk = name[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            try:
                out.append(base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True).decode("utf-16-be"))
            except (ValueError, UnicodeDecodeError):
                return name
        i = end + 1
    return "".join(out)


def maildirpp_folder(dir_name: str) -> str | None:
    """The folder path of a Maildir++ subfolder directory (``.Archive.2020`` -> ``Archive/2020``),
    or None when the name is not one (not hidden, or nothing after the dot)."""
    if not dir_name.startswith(".") or dir_name in (".", ".."):
        return None
    levels = [decode_mutf7(p).replace("/", "_") for p in dir_name[1:].split(".")]
    if not any(levels):
        return None
    return "/".join(p if p else "_" for p in levels)


def fs_layout_folder(dir_name: str) -> str:
    """The folder name of a plain (``LAYOUT=fs``) subfolder directory."""
    return decode_mutf7(dir_name)
