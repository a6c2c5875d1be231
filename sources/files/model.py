"""What the file readers hand to the archive core: a message, or a problem with its raw bytes.

Both carry provenance (folder, source format, a stable position, the file) so that a re-import of
the same files produces the same positions and the core can recognise what it has already seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: The ``source`` values the readers produce.
SOURCE_KINDS = ("eml", "mbox", "pst", "msg", "maildir")


@dataclass(frozen=True)
class SourceMessage:
    """One message to archive: exactly the RFC 5322 / MIME bytes plus where they came from."""

    raw: bytes = field(repr=False)
    folder: str
    source: str
    position: str
    origin: Path
    #: Maildir flag letters from the file name (``"FRS"``); the catalogue has no column for them yet.
    flags: str = ""


@dataclass(frozen=True)
class SourceProblem:
    """An item that cannot be turned into a message; the core quarantines ``raw`` with ``reason``."""

    raw: bytes = field(repr=False)
    folder: str
    source: str
    position: str
    origin: Path
    reason: str
