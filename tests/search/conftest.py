"""An organization with two archive mailboxes and a helper that archives messages into them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from mailark.catalog.archive import OrgArchive
from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.catalog.lake import ALIAS


@dataclass
class Box:
    id: str
    address: str


@dataclass
class Archive:
    archive: OrgArchive
    ann: Box
    info: Box
    db_dir: object

    def put(self, box: Box, raws: list[bytes], folder: str = "INBOX") -> list[str]:
        """Archive `raws` into `box`; the item ids of the new copies, in order."""
        con = self.archive.lake
        before = {r[0] for r in con.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE org_id = ?",
                                            [self.archive.org_id]).fetchall()}
        BatchWriter(self.archive, "test", "test").write(
            [Incoming(raw, box.id, box.address, folder, "test", f"{folder}/{i}/{len(before)}") for i, raw in enumerate(raws)])
        rows = con.execute(f"SELECT item_id FROM {ALIAS}.mailbox_items WHERE org_id = ? ORDER BY source_position",
                           [self.archive.org_id]).fetchall()
        return sorted(r[0] for r in rows if r[0] not in before)


@pytest.fixture
def arc(rt, org) -> Archive:  # type: ignore[no-untyped-def]
    from mailark.control.orgs import ensure_mailbox

    with rt.session() as s:
        ann, _ = ensure_mailbox(s, org, "ann@acme.example")
        info, _ = ensure_mailbox(s, org, "info@acme.example")
        boxes = Box(ann.id, ann.primary_address), Box(info.id, info.primary_address)
    return Archive(rt.archive_for(org), *boxes, rt.settings.db_dir)


Put = Callable[..., list[str]]
