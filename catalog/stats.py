"""Figures of one organization's archive, read from the catalogue (never by listing objects)."""

from __future__ import annotations

from datetime import UTC, datetime

from mailark.catalog.archive import OrgArchive
from mailark.catalog.ingest import storage_used
from mailark.catalog.lake import ALIAS, org_lake_bytes


def index_bytes(archive: OrgArchive) -> int:
    """Bytes of the organization's search index on disk (0 when it has none). The index lives with
    the service's databases, not in the object store, so the storage quota does not count it."""
    path = archive.index_path
    if path is None or not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def org_stats(archive: OrgArchive) -> dict[str, int | float]:
    con, org = archive.lake, archive.org_id

    def one(sql: str) -> int:
        row = con.execute(sql, [org]).fetchone()
        return int(row[0] or 0) if row else 0

    copies, raw = con.execute(
        f"SELECT count(*), coalesce(sum(size), 0) FROM {ALIAS}.mailbox_items WHERE org_id = ?", [org]
    ).fetchone() or (0, 0)
    stored = storage_used(archive)
    return {
        "messages": one(f"SELECT count(*) FROM {ALIAS}.messages WHERE org_id = ?"),
        "copies": int(copies),
        "quarantined": one(f"SELECT count(*) FROM {ALIAS}.quarantine WHERE org_id = ?"),
        "raw_bytes": int(raw),
        "quarantined_bytes": one(f"SELECT coalesce(sum(size), 0) FROM {ALIAS}.quarantine WHERE org_id = ?"),
        "stored_bytes": stored,
        "object_bytes": one(f"SELECT coalesce(sum(stored_size), 0) FROM {ALIAS}.objects WHERE org_id = ?"),
        "catalogue_bytes": org_lake_bytes(con, org),
        "objects": one(f"SELECT count(*) FROM {ALIAS}.objects WHERE org_id = ?"),
        "index_bytes": index_bytes(archive),
        "stored_ratio": round(stored / raw, 4) if raw else 0.0,
    }


def message_date_span(archive: OrgArchive) -> tuple[datetime, datetime] | None:
    """The first and last message date of the organization's archived copies (None: nothing dated), so
    that an export whose dates cover all of it can be told from one that leaves some out."""
    row = archive.lake.execute(
        f"""SELECT min(m.date), max(m.date) FROM {ALIAS}.mailbox_items i JOIN {ALIAS}.messages m
            ON m.org_id = i.org_id AND m.message_key = i.message_key WHERE i.org_id = ?""", [archive.org_id]).fetchone()
    if not row or row[0] is None:
        return None
    first, last = (d if d.tzinfo else d.replace(tzinfo=UTC) for d in row)
    return first, last
