"""What the generator hands out: one copy of a message as one archive mailbox holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

CRLF = b"\r\n"
Bytes = bytes | bytearray


@dataclass(frozen=True, slots=True)
class GeneratedCopy:
    """One copy of a message as one archive mailbox holds it."""

    mailbox: str  # the archive mailbox address this copy belongs to
    folder: str  # "Sent" or "Inbox"
    raw: bytes  # the copy as that mailbox's server would hold it
    message_no: int  # which logical message it is a copy of (0-based)
