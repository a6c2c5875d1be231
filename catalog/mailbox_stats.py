"""Figures for the quota dashboard that the metering table does not hold: the largest mailboxes by
size and by count, and archived messages per day. Read-only catalogue queries of one organization."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from mailark.catalog.archive import OrgArchive
from mailark.catalog.lake import ALIAS


@dataclass(frozen=True)
class MailboxTotal:
    mailbox: str
    copies: int
    bytes: int


def mailbox_totals(archive: OrgArchive, limit: int = 10) -> tuple[list[MailboxTotal], list[MailboxTotal]]:
    """(the `limit` largest mailboxes by bytes, the `limit` largest by copies)."""
    rows = archive.lake.execute(
        # per mailbox, named by the address its newest copy was archived under (a primary address may change)
        f"SELECT arg_max(mailbox, archived_at), count(*), coalesce(sum(size), 0) FROM {ALIAS}.mailbox_items "
        f"WHERE org_id = ? GROUP BY mailbox_id",
        [archive.org_id]).fetchall()
    totals = [MailboxTotal(r[0], int(r[1]), int(r[2])) for r in rows]
    by_size = sorted(totals, key=lambda t: (-t.bytes, t.mailbox))[:limit]
    by_count = sorted(totals, key=lambda t: (-t.copies, t.mailbox))[:limit]
    return by_size, by_count


def archived_per_day(archive: OrgArchive, since: datetime) -> list[tuple[date, int]]:
    """Copies archived per calendar day (UTC) since `since`, oldest first; days without mail left out."""
    rows = archive.lake.execute(
        f"SELECT CAST(archived_at AS DATE) AS d, count(*) FROM {ALIAS}.mailbox_items "
        f"WHERE org_id = ? AND archived_at >= ? GROUP BY d ORDER BY d", [archive.org_id, since]).fetchall()
    return [(r[0], int(r[1])) for r in rows]


def per_mailbox(archive: OrgArchive) -> dict[str, tuple[int, int]]:
    """Mailbox id -> (copies, bytes as received) for every mailbox of the organization that holds mail."""
    rows = archive.lake.execute(
        f"SELECT mailbox_id, count(*), coalesce(sum(size), 0) FROM {ALIAS}.mailbox_items WHERE org_id = ? "
        f"GROUP BY mailbox_id", [archive.org_id]).fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}
