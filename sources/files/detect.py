"""Tell mail file formats apart by their first bytes, never by their names.

Users export mail with arbitrary names (``Inbox``, ``backup.txt``, ``mail.dat``); the content is the
only thing that does not lie.
"""

from __future__ import annotations

import re
from pathlib import Path

PST_MAGIC = b"!BDN"  # PST and OST (ANSI and Unicode) share it
OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")  # compound file: Outlook .msg (or any other OLE document)

# "From  : John Doe <jdoe@example>" is an (obsolete-syntax) header field, not an mbox separator.
_FROM_HEADER_FIELD = re.compile(rb"From[ \t]*:")

HEAD_SIZE = 512


def classify_head(head: bytes) -> str:
    """Classify a file from its first bytes: "mbox", "pst", "msg" or "eml"."""
    if head.startswith(PST_MAGIC):
        return "pst"
    if head.startswith(OLE_MAGIC):
        return "msg"
    if head.startswith(b"From ") and not _FROM_HEADER_FIELD.match(head):
        return "mbox"
    return "eml"


def detect_format(path: Path) -> str:
    """Return "directory", "mbox", "pst", "msg" or "eml" (anything else) for ``path``.

    Raises ``OSError`` when the file cannot be read (callers turn that into a problem).
    """
    path = Path(path)
    if path.is_dir():
        return "directory"
    with open(path, "rb") as f:
        head = f.read(HEAD_SIZE)
    return classify_head(head)
