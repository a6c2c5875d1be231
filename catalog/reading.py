"""Reading the archive: folders with counts, a folder's copies page by page, one copy's bytes.

Callers decide who may read what (control/reading.py) and pass the mailbox ids allowed; this
module only asks the catalogue and rebuilds copies (byte-identical, SHA-256 checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from mailark.catalog.archive import OrgArchive
from mailark.catalog.export import Selection
from mailark.catalog.lake import ALIAS
from mailark.catalog.search.documents import ITEM_COLUMNS, ItemRow


@dataclass(frozen=True)
class FolderCount:
    mailbox_id: str
    folder: str
    count: int


@dataclass(frozen=True)
class CopySummary:
    item_id: str
    mailbox_id: str
    mailbox: str
    folder: str
    date: datetime | None
    subject: str | None
    sender: str | None
    to: list[str]
    size: int
    attachments: int
    archived_at: datetime


def folder_counts(archive: OrgArchive, mailbox_ids: set[str]) -> list[FolderCount]:
    if not mailbox_ids:
        return []
    con = archive.lake
    con.register("_read_mb", pa.table({"v": pa.array(sorted(mailbox_ids), pa.string())}))
    try:
        rows = con.execute(f"SELECT mailbox_id, folder, count(*) FROM {ALIAS}.mailbox_items WHERE org_id = ? "
                           f"AND mailbox_id IN (SELECT v FROM _read_mb) GROUP BY ALL ORDER BY 1, 2",
                           [archive.org_id]).fetchall()
    finally:
        con.unregister("_read_mb")
    return [FolderCount(*r) for r in rows]


def list_copies(archive: OrgArchive, mailbox_id: str, folder: str | None, *, page: int, per_page: int,
                subfolders: bool = False) -> tuple[int, list[CopySummary]]:
    """(total, one page) of a mailbox's copies (in one folder, or all), newest first."""
    where, params = ["i.org_id = ?", "i.mailbox_id = ?"], [archive.org_id, mailbox_id]
    if folder is not None:
        if subfolders:
            where.append("(i.folder = ? OR starts_with(i.folder, ? || '/'))")
            params += [folder, folder]
        else:
            where.append("i.folder = ?")
            params.append(folder)
    cond = " AND ".join(where)
    con = archive.lake
    total = con.execute(f"SELECT count(*) FROM {ALIAS}.mailbox_items i WHERE {cond}", params).fetchone()[0]  # type: ignore[index]
    rows = con.execute(
        f"""SELECT i.item_id, i.mailbox_id, i.mailbox, i.folder, m.date, m.subject,
                   CASE WHEN m.from_name IS NOT NULL AND m.from_addr IS NOT NULL THEN m.from_name || ' <' || m.from_addr || '>'
                        ELSE coalesce(m.from_addr, m.from_name) END,
                   coalesce(m.to_addrs, []), i.size, coalesce(m.attachment_count, 0), i.archived_at
            FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m ON m.org_id = i.org_id AND m.message_key = i.message_key
            WHERE {cond} ORDER BY coalesce(m.date, i.archived_at) DESC, i.item_id DESC LIMIT ? OFFSET ?""",
        [*params, per_page, (page - 1) * per_page],
    ).fetchall()
    return int(total), [CopySummary(*r) for r in rows]


def find_copy(archive: OrgArchive, item_id: str) -> ItemRow | None:
    row = archive.lake.execute(
        f"SELECT {ITEM_COLUMNS} FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m "
        f"ON m.org_id = i.org_id AND m.message_key = i.message_key WHERE i.org_id = ? AND i.item_id = ?",
        [archive.org_id, item_id],
    ).fetchone()
    return ItemRow(*row) if row else None


def copy_bytes(archive: OrgArchive, row: ItemRow) -> bytes:
    """The copy exactly as it was received (the rebuild checks it against its SHA-256)."""
    return archive.reader().rebuild(row.skeleton_ref, row.delta_ref, row.copy_sha256)


def selected_copies(archive: OrgArchive, sel: Selection, limit: int) -> list[ItemRow]:
    """The copies of a selection (export's `Selection`), oldest first, at most `limit` + 1 of them
    (the caller tells "too many" from "exactly the limit")."""
    cond, params = sel._where("i", "archived_at", dated=True)
    rows = archive.lake.execute(
        f"SELECT {ITEM_COLUMNS} FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m "
        f"ON m.org_id = i.org_id AND m.message_key = i.message_key WHERE {cond} "
        f"ORDER BY coalesce(m.date, i.archived_at), i.item_id LIMIT ?",
        [archive.org_id, *params, limit + 1],
    ).fetchall()
    return [ItemRow(*r) for r in rows]
