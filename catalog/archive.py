"""One organization's archive as the code works on it: its keys, object store and catalogue."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from mailark.storage.crypto import IntegrityError, Sealer
from mailark.storage.keys import OrgKeys
from mailark.storage.mime import Splitter, rebuild
from mailark.storage.objects import ObjectStore
from mailark.storage.packs import PackReader


def object_name(org_id: str, digest: bytes) -> str:
    h = digest.hex()
    return f"orgs/{org_id}/objects/{h[:2]}/{h}"


@dataclass
class OrgArchive:
    org_id: str
    keys: OrgKeys
    store: ObjectStore
    # The catalogue connection, asked for at each use: the runtime renews it during a long ingest.
    connection: Callable[[], duckdb.DuckDBPyConnection]
    # The organization's commit lane: check-then-append of a batch runs inside it alone.
    lane: Callable[[], AbstractContextManager[None]]
    zstd_level: int = 3
    storage_quota_bytes: int | None = None
    # Set while metering has paused archiving for the organization (an ended trial, a full quota):
    # writers defer everything with this reason until a later run finds it cleared.
    paused_reason: str | None = None
    # Where the organization's search index lives ($MAILARK_HOME/db/search/<org_id>), for its size
    # in the statistics; None where no index is kept.
    index_path: Path | None = None
    # Raises the licence's storage tier when it auto-expands and `needed` bytes would not fit: the new
    # quota, or None (no auto-expansion, or the largest tier). Writers call it before deferring.
    expand_quota: Callable[[int], int | None] | None = None
    # WORM on: called once per ingest batch, returns f(mailbox_id, folder, message date, archived at)
    # -> the date to lock a copy's objects until (None: no lock). Set by the runtime.
    lock_plan: Callable[[], Callable[[str, str, datetime | None, datetime], datetime | None]] | None = None
    # Retired archive mailboxes (control.retirement): writers defer copies for them, reason "mailbox retired".
    retired_mailboxes: frozenset[str] = frozenset()
    _sealer: Sealer | None = field(default=None, repr=False)

    @property
    def lake(self) -> duckdb.DuckDBPyConnection:
        return self.connection()

    @property
    def sealer(self) -> Sealer:
        if self._sealer is None:
            self._sealer = Sealer(self.org_id, self.keys.data_key, self.keys.all_data_keys(), self.zstd_level)
        return self._sealer

    def splitter(self) -> Splitter:
        return Splitter(self.keys.name_digest)

    def object_name(self, digest: bytes) -> str:
        return object_name(self.org_id, digest)

    def read_object(self, name: str) -> bytes:
        return self.sealer.open(self.store.get(name), name)

    def reader(self) -> CopyReader:
        return CopyReader(self)


class CopyReader:
    """Rebuilds archived copies byte for byte and checks each against its SHA-256 as received."""

    def __init__(self, archive: OrgArchive) -> None:
        self.archive = archive
        self.packs = PackReader(archive.org_id, archive.store, archive.sealer)

    def part(self, digest: bytes) -> bytes:
        return self.archive.read_object(self.archive.object_name(digest))

    def rebuild(self, skeleton_ref: str, delta_ref: str | None, copy_sha256: str) -> bytes:
        skeleton = self.packs.read(skeleton_ref)
        delta = self.packs.read(delta_ref) if delta_ref else b""
        data = rebuild(skeleton, delta, self.part)
        if hashlib.sha256(data).hexdigest() != copy_sha256:
            raise IntegrityError(
                f"the rebuilt copy does not match its SHA-256 as received ({copy_sha256[:16]}...): "
                f"the archive is damaged; run an integrity scrub and restore from backup"
            )
        return data

    def quarantined(self, object_key: str, copy_sha256: str) -> bytes:
        data = self.archive.read_object(object_key)
        if hashlib.sha256(data).hexdigest() != copy_sha256:
            raise IntegrityError(f"quarantined item {object_key} does not match its SHA-256")
        return data
