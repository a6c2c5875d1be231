"""Drops: accepted SMTP messages waiting for the drain, one sealed object each.

A drop is ``b"MJD1\\n" + JSON envelope + b"\\n" + the message bytes exactly as received`` (after
SMTP dot-unstuffing; nothing added), sealed with the organization's data key under its own name,
so it is encrypted at rest like everything else in the object store. Names sort by arrival
(ULIDs): ``orgs/<org_id>/drops/journal/<ulid>`` and ``orgs/<org_id>/drops/import/<ulid>``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from ulid import ULID

from mailark.storage.crypto import Sealer
from mailark.storage.objects import ObjectInfo, ObjectStore

MAGIC = b"MJD1\n"
AREAS = {"journal": "journal", "smtp-import": "import"}


class BadDrop(ValueError):
    """A stored drop that is not in our format (its bytes are quarantined by the drain)."""


@dataclass
class DropMeta:
    """The SMTP envelope and where the message goes; what the drain needs besides the bytes."""

    kind: str  # journal | smtp-import
    profile_id: str
    profile_name: str
    mailbox: str  # journal mailbox, or the import's target mailbox
    folder: str
    mail_from: str
    rcpt_tos: list[str] = field(default_factory=list)
    received_at: str = ""
    peer: str = ""
    tls: bool = False
    auth_user: str | None = None


def prefix(org_id: str, kind: str | None = None) -> str:
    base = f"orgs/{org_id}/drops/"
    return base if kind is None else f"{base}{AREAS[kind]}/"


def encode(meta: DropMeta, raw: bytes) -> bytes:
    if not meta.received_at:
        meta.received_at = datetime.now(UTC).isoformat()
    return MAGIC + json.dumps(asdict(meta), separators=(",", ":")).encode() + b"\n" + raw


def decode(data: bytes) -> tuple[DropMeta, bytes]:
    if not data.startswith(MAGIC):
        raise BadDrop("not a journal drop (no MJD1 header)")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise BadDrop("journal drop without the end of its envelope line")
    try:
        meta = DropMeta(**json.loads(data[len(MAGIC):end]))
    except (ValueError, TypeError) as e:
        raise BadDrop(f"journal drop with an unreadable envelope: {e}") from None
    return meta, data[end + 1:]


def write(store: ObjectStore, sealer: Sealer, org_id: str, meta: DropMeta, raw: bytes) -> str:
    """Seal and store one drop durably (file and directory synced): only then may SMTP say 250.

    Encrypted but not compressed: a drop lives for a minute or so, and zstd here would cost every
    250 its time (the archive compresses what it keeps)."""
    data = encode(meta, raw)
    while True:  # a ULID collision is all but impossible; never let one pass as stored
        name = prefix(org_id, meta.kind) + str(ULID()).lower()
        if store.put_if_absent(name, sealer.seal(data, name, compress=False), durable=True):
            return name


def read(store: ObjectStore, sealer: Sealer, name: str) -> tuple[DropMeta, bytes]:
    return decode(sealer.open(store.get(name), name))


def pending(store: ObjectStore, org_id: str, kinds: tuple[str, ...] | None = None) -> list[ObjectInfo]:
    """The organization's drops (of `kinds`, default all), oldest first within each area (journal, then import)."""
    return [o for kind in AREAS if kinds is None or kind in kinds for o in store.list(prefix(org_id, kind))]
