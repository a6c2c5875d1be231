"""The facts retention rules need about every archived copy of an organization, streamed.

One row per copy in `mailbox_items` (with its message's date) and per quarantined item (no date:
the rules count from when it was archived). Sizes are the bytes as received, what a person means
by "how much mail"; what the store frees is smaller (single instance) and comes from the deletion.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

from mailark.catalog.archive import OrgArchive
from mailark.catalog.lake import ALIAS


class CopyRow(NamedTuple):
    item_id: str
    mailbox_id: str
    mailbox: str
    folder: str
    date: datetime | None
    archived_at: datetime
    size: int
    quarantined: bool


def iter_copies(archive: OrgArchive, *, chunk: int = 50_000) -> Iterator[CopyRow]:
    """Every copy of the organization (in no particular order), `chunk` rows in memory at a time."""
    con = archive.lake.cursor()
    try:
        con.execute(
            f"SELECT i.item_id, i.mailbox_id, i.mailbox, i.folder, m.date, i.archived_at, coalesce(i.size, 0), false "
            f"FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m ON m.org_id = i.org_id AND m.message_key = i.message_key "
            f"WHERE i.org_id = ? "
            f"UNION ALL SELECT q.item_id, q.mailbox_id, q.mailbox, q.folder, NULL, q.quarantined_at, coalesce(q.size, 0), true "
            f"FROM {ALIAS}.quarantine q WHERE q.org_id = ?", [archive.org_id, archive.org_id])
        while rows := con.fetchmany(chunk):
            for r in rows:
                yield CopyRow(*r)
    finally:
        con.close()


def existing_item_ids(archive: OrgArchive, item_ids: list[str]) -> set[str]:
    """Which of these copies are still in the catalogue."""
    import pyarrow as pa

    if not item_ids:
        return set()
    con = archive.lake.cursor()
    try:
        con.register("_ids", pa.table({"v": pa.array(sorted(set(item_ids)), pa.string())}))
        rows = con.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE org_id = ? AND item_id IN (SELECT v FROM _ids) "
                           f"UNION ALL SELECT item_id FROM {ALIAS}.quarantine WHERE org_id = ? "
                           f"AND item_id IN (SELECT v FROM _ids)", [archive.org_id, archive.org_id]).fetchall()
        return {r[0] for r in rows}
    finally:
        con.close()
