"""`mailark repair`: put back exactly what is damaged or missing of one organization, from a backup.

Inside the organization's commit lane (no batch commits, no compaction meanwhile):

1. **Catalogue files.** Each live Parquet file of the organization's partition is checked
   (present, recorded size, readable to the last row: catalog/integrity.py). A damaged one is
   replaced by the backup's copy of the same file when the backup has it, the copy's SHA-256 is
   the one recorded when the backup was made and its size is the one the catalog records; a
   file written after the backup (a later batch, a compaction) cannot be repaired from it.
2. **Objects.** Each object the catalogue lists is opened with the organization's key and checked
   (name HMAC, pack blocks, size). A damaged or missing one is replaced by the backup's copy
   after that copy passed the same check against the live catalogue, and its SHA-256 the one
   recorded in the backup.
3. **Every copy** is then rebuilt and checked against its SHA-256 as received.

Whatever is still wrong is reported (`not_repaired`), and the command exits 1.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from mailark.catalog.archive import OrgArchive
from mailark.catalog.integrity import (
    CHECK_ERRORS,
    Damage,
    LakeFile,
    check_lake_file,
    check_object,
    damaged_copies,
    org_lake_files,
    org_objects,
)
from mailark.control import audit
from mailark.control.principals import Principal
from mailark.operations.backup import LAKE_DIR, BackupError, KeyRoom
from mailark.runtime import Runtime
from mailark.storage.crypto import IntegrityError
from mailark.storage.local import LocalObjectStore


@dataclass
class RepairReport:
    org: str
    backup: str
    catalogue_files_checked: int = 0
    objects_checked: int = 0
    copies_checked: int = 0
    found: list[Damage] = field(default_factory=list)  # damaged or missing before the repair
    repaired: list[str] = field(default_factory=list)
    not_repaired: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.not_repaired

    def as_dict(self) -> dict[str, Any]:
        return {"org": self.org, "backup": self.backup, "catalogue_files_checked": self.catalogue_files_checked,
                "objects_checked": self.objects_checked, "copies_checked": self.copies_checked,
                "found": [d.__dict__ for d in self.found], "repaired": self.repaired,
                "not_repaired": [d.__dict__ for d in self.not_repaired], "ok": self.ok}


def repair(rt: Runtime, org_name: str, src: Path, passphrase: bytes) -> RepairReport:
    """Check the organization's catalogue files and objects; restore the damaged ones from the backup in `src`."""
    org = rt.org(org_name)
    room = KeyRoom(src, passphrase)
    if org.id not in {o["id"] for o in room.rows("organizations")}:
        raise BackupError(f"the backup in {src} does not hold organization {org_name!r}: use a backup of it, or of the "
                          f"whole deployment, made by this deployment")
    report = RepairReport(org_name, str(src))
    archive = rt.archive_for(org)
    with archive.lane():
        _repair_lake_files(rt, org.id, room, src, report)
        if report.not_repaired:  # the object checks read the catalogue: they would only fail again
            report.not_repaired.append(Damage(f"orgs/{org.id}/", "objects", "not checked: the catalogue is still damaged"))
        else:
            try:
                _repair_objects(rt, archive, room, src, report)
                report.copies_checked, failures = damaged_copies(archive)
            except duckdb.Error as e:
                failures = [Damage(f"orgs/{org.id}/", "catalogue", f"cannot be read: {str(e).splitlines()[0]}")]
            named = {d.name for d in report.not_repaired}
            report.not_repaired += [d for d in failures if d.name not in named]
    with rt.session(write=True) as s:
        audit.record(s, Principal.deployment_operator(), "backup.repair", org_id=org.id, target=str(src),
                     details={"found": len(report.found), "repaired": report.repaired,
                              "not_repaired": [d.name for d in report.not_repaired]})
    return report


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _live_sha256(rt: Runtime, name: str) -> str | None:
    h = hashlib.sha256()
    try:
        for chunk in rt.store.iter_chunks(name):
            h.update(chunk)
    except CHECK_ERRORS:
        return None
    return h.hexdigest()


def _repair_lake_files(rt: Runtime, org_id: str, room: KeyRoom, src: Path, report: RepairReport) -> None:
    saved = {f["name"]: f for f in room.lake_files}
    damaged: list[tuple[LakeFile, str]] = []
    for f in org_lake_files(rt.lake, rt.store, org_id):
        report.catalogue_files_checked += 1
        try:
            check_lake_file(rt.lake, rt.store, f)
        except IntegrityError as e:
            damaged.append((f, str(e)))
            report.found.append(Damage(f.name, f"catalogue {f.kind} file", str(e)))
    # A data file that fails to read may be whole while its delete file is not (a scan reads both):
    # only a file whose bytes differ from the backup's copy is replaced.
    for f, reason in damaged:
        kind = f"catalogue {f.kind} file"
        entry = saved.get(f.name)
        copy = src / LAKE_DIR / f.name
        if entry is None or not copy.is_file():
            report.not_repaired.append(Damage(f.name, kind, f"{reason}; the backup has no copy of it (written after the backup)"))
            continue
        if _live_sha256(rt, f.name) == entry["sha256"]:
            continue  # whole: the damage is in the other file of the pair
        if int(entry["size"]) != f.size or _sha256(copy) != entry["sha256"]:
            report.not_repaired.append(Damage(f.name, kind, f"{reason}; the backup's copy is damaged too"))
            continue
        rt.store.put_file(f.name, copy, durable=True)
        report.repaired.append(f.name)
    rt.store.flush()
    for f, _ in damaged:  # every pair reads whole now, or it is not repaired
        try:
            check_lake_file(rt.lake, rt.store, f)
        except IntegrityError as e:
            if f.name not in {d.name for d in report.not_repaired}:
                report.not_repaired.append(Damage(f.name, f"catalogue {f.kind} file", f"still damaged after the repair: {e}"))


def _repair_objects(rt: Runtime, archive: OrgArchive, room: KeyRoom, src: Path, report: RepairReport) -> None:
    saved = {o["name"]: o for o in room.objects}
    from_backup = OrgArchive(org_id=archive.org_id, keys=archive.keys, store=LocalObjectStore(src / "objects"),
                             connection=archive.connection, lane=archive.lane)
    for key, kind, size in org_objects(archive.lake, archive.org_id):
        report.objects_checked += 1
        try:
            check_object(archive, key, kind, size)
            continue
        except CHECK_ERRORS as e:
            reason = str(e) or type(e).__name__
        report.found.append(Damage(key, kind, reason))
        entry = saved.get(key)
        copy = src / "objects" / key
        if entry is None or not copy.is_file():
            report.not_repaired.append(Damage(key, kind, f"{reason}; the backup has no copy of it (stored after the backup)"))
            continue
        try:
            if _sha256(copy) != entry["sha256"]:
                raise IntegrityError("its SHA-256 differs from the one recorded when the backup was made")
            check_object(from_backup, key, kind, size)  # the backup's copy, against the live catalogue
        except CHECK_ERRORS as e:
            report.not_repaired.append(Damage(key, kind, f"{reason}; the backup's copy is damaged too: {e}"))
            continue
        rt.store.put_file(key, copy, durable=True)
        try:
            check_object(archive, key, kind, size)
        except CHECK_ERRORS as e:
            report.not_repaired.append(Damage(key, kind, f"still damaged after the repair: {e}"))
            continue
        report.repaired.append(key)
    rt.store.flush()
