"""Check a backup without restoring it (`mailark backup verify`, and every `mailark backup` at its end).

What is checked, with no sampling:

1. The key room opens with the passphrase (AES-256-GCM authenticates every block).
2. Every object and catalogue file the key room lists is in the backup with its size and SHA-256.
3. When the organizations' keys can be opened (the master key is in the backup, or this deployment
   has the same one): every object is opened with its organization's key and checked against the
   backup's catalogue rows (catalog/integrity.py: name HMAC, pack blocks, sizes), and every archived
   copy is rebuilt from the backup's objects and checked against its SHA-256 as received.

Anything the backup itself says it could not copy is reported too: such a backup is not whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from mailark.catalog.archive import OrgArchive
from mailark.catalog.integrity import CHECK_ERRORS, Damage, check_object, damaged_copies, org_objects
from mailark.catalog.lake import ALIAS
from mailark.catalog.schema import TABLES
from mailark.operations.backup import LAKE_DIR, KeyRoom
from mailark.runtime import Runtime
from mailark.storage.keys import MasterKey, WrappedKey, unwrap_org_keys
from mailark.storage.local import LocalObjectStore


@dataclass
class VerifyReport:
    path: str
    objects_checked: int = 0
    bytes_checked: int = 0
    catalogue_files_checked: int = 0
    copies_checked: int = 0
    # False when the organizations' keys could not be opened here (then only sizes and SHA-256 were checked).
    opened_with_keys: bool = False
    not_opened_because: str | None = None
    not_copied: list[dict[str, str]] = field(default_factory=list)
    damaged: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged and not self.not_copied

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "damaged"}
        return {**d, "damaged": [x.__dict__ for x in self.damaged], "ok": self.ok}


def verify_backup(rt: Runtime, src: Path, passphrase: bytes) -> VerifyReport:
    """Check the backup in `src` (see the module docstring); raises BackupError when it cannot be opened."""
    room = KeyRoom(src, passphrase)
    report = VerifyReport(str(src), not_copied=list(room.not_copied))
    bad: set[str] = set()
    for what, entries, base in (("object", room.objects, src / "objects"), ("catalogue file", room.lake_files, src / LAKE_DIR)):
        for e in entries:
            reason = _file_damage(base / e["name"], int(e["size"]), e["sha256"])
            if reason:
                report.damaged.append(Damage(e["name"], what, reason))
                bad.add(e["name"])
            elif what == "object":
                report.objects_checked += 1
                report.bytes_checked += int(e["size"])
            else:
                report.catalogue_files_checked += 1
    master = room.master_key
    if master is None and rt.master_key.key_id != room.manifest.get("master_key_id"):
        report.not_opened_because = (f"the organizations' keys are wrapped by master key {room.manifest.get('master_key_id')}, "
                                     f"not this deployment's ({rt.master_key.key_id})")
        return report
    _open_and_rebuild(room, master or rt.master_key, src, report, bad | {g["name"] for g in room.not_copied})
    report.opened_with_keys = True
    return report


def _file_damage(path: Path, size: int, sha256: str) -> str | None:
    if not path.is_file():
        return "missing from the backup"
    if path.stat().st_size != size:
        return f"has {path.stat().st_size} bytes, the backup recorded {size}"
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    if h.hexdigest() != sha256:
        return "SHA-256 differs from the one recorded when the backup was made"
    return None


def _open_and_rebuild(room: KeyRoom, master: MasterKey, src: Path, report: VerifyReport, skip: set[str]) -> None:
    """Load the backup's catalogue rows into a scratch DuckDB and check each organization's objects and copies."""
    keys_of: dict[str, list[WrappedKey]] = {}
    for r in sorted(room.rows("org_keys"), key=lambda r: r["id"]):
        keys_of.setdefault(r["org_id"], []).append(WrappedKey(r["purpose"], r["key_id"], r["wrapped"], r["master_key_id"]))
    store = LocalObjectStore(src / "objects")
    with tempfile.TemporaryDirectory(prefix="mailark-verify-") as tmp:
        con = duckdb.connect(str(Path(tmp) / f"{ALIAS}.duckdb"))
        try:
            for table, columns in TABLES.items():
                con.execute(f"CREATE TABLE {ALIAS}.main.{table} ({columns})")
            for table, piece in room.catalogue():
                if piece.num_rows and table in TABLES:
                    con.register("_rows", piece)
                    con.execute(f"INSERT INTO {ALIAS}.main.{table} BY NAME SELECT * FROM _rows")
                    con.unregister("_rows")
            for org in room.rows("organizations"):
                keys = unwrap_org_keys(org["id"], master, keys_of.get(org["id"], []), org["active_data_key_id"])
                archive = OrgArchive(org_id=org["id"], keys=keys, store=store, connection=lambda: con,
                                     lane=contextlib.nullcontext)
                for key, kind, size in org_objects(con, org["id"]):
                    if key in skip:
                        continue
                    try:
                        check_object(archive, key, kind, size)
                    except CHECK_ERRORS as e:
                        report.damaged.append(Damage(key, kind, str(e) or type(e).__name__))
                checked, failures = damaged_copies(archive)
                report.copies_checked += checked
                report.damaged += failures
        finally:
            con.close()

