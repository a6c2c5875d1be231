"""Test helpers: corpus messages, and what the catalogue holds for a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def corpus_messages(corpus: Path, n: int, skip: int = 0) -> list[bytes]:
    """n distinct real messages (the `letters` grid: every file a different message)."""
    files = sorted((corpus / "letters").rglob("*.txt"))
    files = [f for f in files if 0 < f.stat().st_size < 20_000 and f.read_bytes().startswith(b"Date: ")]
    out = [f.read_bytes() for f in files[skip:skip + n]]
    assert len(out) == n and len(set(out)) == n
    return out


def items(rt: Any, where: str = "1=1", args: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """(mailbox, folder, source_position, copy_sha256, message_key, delta_ref) of every archived copy."""
    return rt.lake.execute(
        f"SELECT i.mailbox, i.folder, i.source_position, i.copy_sha256, m.skeleton_ref, i.delta_ref "
        f"FROM lake.mailbox_items i JOIN lake.messages m USING (org_id, message_key) WHERE {where} "
        "ORDER BY i.mailbox, i.folder, i.source_position", args or []).fetchall()


def ledger(rt: Any) -> list[dict[str, Any]]:
    cur = rt.lake.execute("SELECT run_id, mailbox, seen, archived, duplicates, quarantined, deferred, reasons "
                          "FROM lake.ingest_ledger WHERE source = 'graph' ORDER BY started_at")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
