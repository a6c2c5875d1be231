"""Export: archived copies as a zip of .eml files, each byte-identical to what the source delivered.

This is the core the CLI and the export flow build on. `write_zip` writes to any file object
(also a non-seekable one, such as the sealed stream an export job stores), reading copies one
at a time; `export_zip` writes a local file via a temporary file renamed at the end, so an
interrupted export leaves nothing half-written.

What is exported is a `Selection`: archive mailboxes, a folder (and its subfolders), a range of
message dates, and for incremental exports a range of archive times. The archive-time upper
bound (`archived_until`) pins what a job exports, so a job that is resumed exports exactly what
it would have the first time.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from mailark.catalog.archive import OrgArchive
from mailark.catalog.export_names import FolderNames, safe_cell
from mailark.catalog.lake import ALIAS


MANIFEST_FIELDS = [
    "path", "kind", "mailbox", "folder", "message_id", "date", "size", "sha256", "source", "source_position", "reason",
]


class SelectionError(ValueError):
    """The selection cannot be exported as asked (the message says why)."""


@dataclass(frozen=True)
class Selection:
    """Which archived copies an export holds. None means "no limit" for every field."""

    mailbox_ids: tuple[str, ...] | None = None
    folder: str | None = None
    date_from: datetime | None = None  # message Date >= this
    date_to: datetime | None = None  # message Date < this
    archived_after: datetime | None = None  # incremental: archived strictly after this
    archived_until: datetime | None = None  # the job's cut-off: archived at or before this
    item_ids: tuple[str, ...] | None = None  # a search export: exactly these copies (what the query matched)

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_from >= self.date_to:
            raise SelectionError("the date range is empty: date_from must be before date_to")

    @property
    def whole_archive(self) -> bool:
        """Every mailbox, folder and date (an incremental range does not change what is *selected*)."""
        return (self.mailbox_ids is None and self.folder is None and self.date_from is None and self.date_to is None
                and self.item_ids is None)

    def _where(self, alias: str, archived_col: str, *, dated: bool) -> tuple[str, list[object]]:
        where, params = [f"{alias}.org_id = ?"], []  # org id bound by the caller first
        if self.mailbox_ids is not None:
            if not self.mailbox_ids:
                where.append("false")
            else:
                where.append(f"{alias}.mailbox_id IN ({', '.join('?' for _ in self.mailbox_ids)})")
                params += list(self.mailbox_ids)
        if self.item_ids is not None:
            where.append(f"list_contains(?::VARCHAR[], {alias}.item_id)")
            params.append(list(self.item_ids))
        if self.folder is not None:
            where.append(f"({alias}.folder = ? OR starts_with({alias}.folder, ? || '/'))")
            params += [self.folder, self.folder]
        if self.archived_after is not None:
            where.append(f"{alias}.{archived_col} > ?")
            params.append(self.archived_after)
        if self.archived_until is not None:
            where.append(f"{alias}.{archived_col} <= ?")
            params.append(self.archived_until)
        if dated:
            if self.date_from is not None:
                where.append("m.date >= ?")
                params.append(self.date_from)
            if self.date_to is not None:
                where.append("m.date < ?")
                params.append(self.date_to)
        return " AND ".join(where), params

    @property
    def includes_quarantine(self) -> bool:
        # Quarantined items have no message date (a date-limited export cannot place them) and no text
        # (a search cannot match them).
        return self.date_from is None and self.date_to is None and self.item_ids is None


@dataclass
class ExportResult:
    path: Path | None
    messages: int
    quarantined: int
    bytes: int

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "messages": self.messages, "quarantined": self.quarantined, "bytes": self.bytes}


def count_selected(archive: OrgArchive, sel: Selection) -> tuple[int, int]:
    """(copies, quarantined items) the selection holds: the denominator of progress."""
    con, org = archive.lake, archive.org_id
    cond, params = sel._where("i", "archived_at", dated=True)
    n = con.execute(
        f"""SELECT count(*) FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m
              ON m.org_id = i.org_id AND m.message_key = i.message_key WHERE {cond}""", [org, *params],
    ).fetchone()
    q = (0,)
    if sel.includes_quarantine:
        qcond, qparams = sel._where("q", "quarantined_at", dated=False)
        q = con.execute(f"SELECT count(*) FROM {ALIAS}.quarantine q WHERE {qcond}", [org, *qparams]).fetchone() or (0,)
    return int(n[0] if n else 0), int(q[0])


Progress = Callable[[int, int], None]  # (items written, bytes of mail written)


def write_zip(archive: OrgArchive, sel: Selection, sink: BinaryIO, on_progress: Progress | None = None,
              progress_every: int = 200) -> ExportResult:
    """Write the selection as a zip into `sink` (seekable or not); each copy is checked against its SHA-256."""
    con, org = archive.lake, archive.org_id
    cond, params = sel._where("i", "archived_at", dated=True)
    items = con.execute(
        f"""SELECT i.mailbox, i.folder, m.message_id, m.date, i.size, i.copy_sha256, i.source, i.source_position,
                   m.skeleton_ref, i.delta_ref
            FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m
              ON m.org_id = i.org_id AND m.message_key = i.message_key
            WHERE {cond} ORDER BY i.mailbox, i.folder, i.archived_at, i.item_id""",
        [org, *params],
    )
    reader = archive.reader()
    manifest = io.StringIO()
    w = csv.DictWriter(manifest, MANIFEST_FIELDS, lineterminator="\r\n")
    w.writeheader()
    n_msg = n_q = total = 0
    counters: dict[str, int] = {}
    folder_dir, quarantine_dir = FolderNames(), FolderNames("quarantine/")

    def row(**cells: object) -> None:
        w.writerow({k: safe_cell(v) for k, v in cells.items()})

    def tick() -> None:
        if on_progress and (n_msg + n_q) % progress_every == 0:
            on_progress(n_msg + n_q, total)

    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True) as zf:
        while rows := items.fetchmany(500):
            for mbox, fld, mid, date, size, sha, src, pos, sk_ref, d_ref in rows:
                data = reader.rebuild(sk_ref, d_ref, sha)
                base = folder_dir(mbox, fld)
                counters[base] = counters.get(base, 0) + 1
                path = f"{base}/{counters[base]:06d}.eml"
                zf.writestr(path, data)
                row(path=path, kind="message", mailbox=mbox, folder=fld, message_id=mid or "",
                                date=date.isoformat() if date else "", size=size, sha256=sha, source=src,
                                source_position=pos, reason="")
                n_msg += 1
                total += len(data)
                tick()
        if sel.includes_quarantine:
            qcond, qparams = sel._where("q", "quarantined_at", dated=False)
            quar = con.execute(
                f"""SELECT q.mailbox, q.folder, q.object_key, q.copy_sha256, q.size, q.reason, q.source, q.source_position
                    FROM {ALIAS}.quarantine q WHERE {qcond} ORDER BY q.mailbox, q.folder, q.quarantined_at, q.item_id""",
                [org, *qparams],
            ).fetchall()
            for mbox, fld, okey, sha, size, reason, src, pos in quar:
                data = reader.quarantined(okey, sha)
                base = quarantine_dir(mbox, fld)
                counters[base] = counters.get(base, 0) + 1
                path = f"{base}/{counters[base]:06d}.raw"
                zf.writestr(path, data)
                row(path=path, kind="quarantined", mailbox=mbox, folder=fld, message_id="", date="",
                                size=size, sha256=sha, source=src, source_position=pos, reason=reason)
                n_q += 1
                total += len(data)
                tick()
        zf.writestr("manifest.csv", manifest.getvalue())
    if on_progress:
        on_progress(n_msg + n_q, total)
    return ExportResult(None, n_msg, n_q, total)


def export_zip(archive: OrgArchive, out: Path, mailbox_id: str | None = None, folder: str | None = None) -> ExportResult:
    """The selection as a local zip file, written to a temporary file and renamed at the end."""
    sel = Selection(mailbox_ids=(mailbox_id,) if mailbox_id else None, folder=folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    tmp.unlink(missing_ok=True)  # left by an export of the same file that was killed
    try:
        with tmp.open("wb") as f:
            result = write_zip(archive, sel, f)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    result.path = out
    return result
