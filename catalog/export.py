"""Export: archived copies as a zip of .eml files, each byte-identical to what the source delivered.

This is the core the export flow builds on. The zip is written to a temporary file beside the
target and renamed at the end, so an interrupted export leaves nothing half-written.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from catalog.archive import OrgArchive
from catalog.lake import ALIAS

_UNSAFE = re.compile(r"[\x00-\x1f\\:*?\"<>|]")

MANIFEST_FIELDS = [
    "path", "kind", "mailbox", "folder", "message_id", "date", "size", "sha256", "source", "source_position", "reason",
]


@dataclass
class ExportResult:
    path: Path
    messages: int
    quarantined: int
    bytes: int

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "messages": self.messages, "quarantined": self.quarantined, "bytes": self.bytes}


def zip_folder(mailbox: str, folder: str) -> str:
    """A safe path inside the zip for a mailbox folder (no absolute paths, no '..')."""
    segs = [_UNSAFE.sub("_", s) for s in [mailbox, *folder.split("/")] if s and s not in (".", "..")]
    return "/".join(segs)


def export_zip(archive: OrgArchive, out: Path, mailbox_id: str | None = None, folder: str | None = None) -> ExportResult:
    where = ["i.org_id = ?"]
    params: list[object] = [archive.org_id]
    if mailbox_id:
        where.append("i.mailbox_id = ?")
        params.append(mailbox_id)
    if folder is not None:
        where.append("(i.folder = ? OR starts_with(i.folder, ? || '/'))")
        params += [folder, folder]
    cond = " AND ".join(where)
    con = archive.lake
    items = con.execute(
        f"""SELECT i.mailbox, i.folder, m.message_id, m.date, i.size, i.copy_sha256, i.source, i.source_position,
                   m.skeleton_ref, i.delta_ref
            FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m
              ON m.org_id = i.org_id AND m.message_key = i.message_key
            WHERE {cond} ORDER BY i.mailbox, i.folder, i.archived_at, i.item_id""",
        params,
    )
    reader = archive.reader()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    manifest = io.StringIO()
    w = csv.DictWriter(manifest, MANIFEST_FIELDS)
    w.writeheader()
    n_msg = n_q = total = 0
    counters: dict[str, int] = {}
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True) as zf:
            while rows := items.fetchmany(500):
                for mbox, fld, mid, date, size, sha, src, pos, sk_ref, d_ref in rows:
                    data = reader.rebuild(sk_ref, d_ref, sha)
                    base = zip_folder(mbox, fld)
                    counters[base] = counters.get(base, 0) + 1
                    path = f"{base}/{counters[base]:06d}.eml"
                    zf.writestr(path, data)
                    w.writerow(dict(path=path, kind="message", mailbox=mbox, folder=fld, message_id=mid or "",
                                    date=date.isoformat() if date else "", size=size, sha256=sha, source=src,
                                    source_position=pos, reason=""))
                    n_msg += 1
                    total += len(data)
            qwhere = cond.replace("i.", "q.")
            quar = con.execute(
                f"""SELECT q.mailbox, q.folder, q.object_key, q.copy_sha256, q.size, q.reason, q.source, q.source_position
                    FROM {ALIAS}.quarantine q WHERE {qwhere} ORDER BY q.mailbox, q.folder, q.quarantined_at, q.item_id""",
                params,
            ).fetchall()
            for mbox, fld, okey, sha, size, reason, src, pos in quar:
                data = reader.quarantined(okey, sha)
                base = "quarantine/" + zip_folder(mbox, fld)
                counters[base] = counters.get(base, 0) + 1
                path = f"{base}/{counters[base]:06d}.raw"
                zf.writestr(path, data)
                w.writerow(dict(path=path, kind="quarantined", mailbox=mbox, folder=fld, message_id="", date="",
                                size=size, sha256=sha, source=src, source_position=pos, reason=reason))
                n_q += 1
                total += len(data)
            zf.writestr("manifest.csv", manifest.getvalue())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(out, n_msg, n_q, total)
