"""catalog.folders: moving items and renaming folders in the catalogue, and the item_moves table
reaching catalogues made before it existed."""

from __future__ import annotations

from pathlib import Path

from mailark.catalog import folders
from mailark.catalog.ingest import BatchWriter, Incoming


def _archive(rt, org, corpus: Path):  # type: ignore[no-untyped-def]
    arch = rt.archive_for(org)
    raws = [p.read_bytes() for p in sorted((corpus / "cpython-test_email").glob("msg_0*.txt"))[:5]]
    items = [Incoming(r, "mb1", "ann@acme", "Work" if i < 3 else "INBOX", "imap", f"1:{i + 1}:E{i}:") for i, r in enumerate(raws[:4])]
    items.append(Incoming(raws[4], "mb1", "ann@acme", "Work", "file-import", "x"))  # another source's item
    BatchWriter(arch, "run1", "imap").write(items[:4])
    BatchWriter(arch, "run1", "file-import").write(items[4:])
    return arch


def test_rename_and_move(rt, org, corpus: Path) -> None:  # type: ignore[no-untyped-def]
    arch = _archive(rt, org, corpus)
    # Only the source's own items follow a rename on its server.
    assert folders.rename_folder(arch, "mb1", "Work", "Done", source="imap", run_id="r2") == 3
    rows = rt.lake.execute("SELECT folder, source FROM lake.mailbox_items ORDER BY 1, 2").fetchall()
    assert rows == [("Done", "imap")] * 3 + [("INBOX", "imap"), ("Work", "file-import")]
    found = folders.find_items(arch, "mb1", "imap", {3: ["E1", "E3"]}, [])
    assert sorted((f.field(3), f.folder) for f in found) == [("E1", "Done"), ("E3", "INBOX")]
    e1 = next(f for f in found if f.field(3) == "E1")
    assert folders.move_items(arch, "mb1", [folders.Move(e1.item_id, "Done", "INBOX", "2:7:E1:")], source="imap",
                              run_id="r3") == 1
    (after,) = folders.find_items(arch, "mb1", "imap", {3: ["E1"]}, [])
    assert (after.folder, after.position) == ("INBOX", "2:7:E1:")
    moves = rt.lake.execute("SELECT kind, from_folder, to_folder, items, item_id IS NULL FROM lake.item_moves "
                            "ORDER BY moved_at").fetchall()
    assert moves == [("rename", "Work", "Done", 3, True), ("move", "Done", "INBOX", 1, False)]
    # Message-ID + size finds a copy too; an unknown id finds nothing.
    mid, size = rt.lake.execute(
        "SELECT m.message_id, i.size FROM lake.mailbox_items i JOIN lake.messages m USING (org_id, message_key) "
        "WHERE i.source_position LIKE '%:E2:%'").fetchone()
    assert [f.field(3) for f in folders.find_items(arch, "mb1", "imap", {}, [(mid, size)])] == ["E2"]
    assert folders.find_items(arch, "mb1", "imap", {3: ["nope"]}, []) == []


def test_existing_catalogue_gains_item_moves(rt, org, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mailark.catalog import lake, schema

    old = {k: v for k, v in schema.TABLES.items() if k != "item_moves"}
    rt.close()
    monkeypatch.setattr(lake, "TABLES", old)
    con = lake.open_lake(rt.settings, rt.store)
    con.execute("DROP TABLE IF EXISTS lake.item_moves")
    con.close()
    monkeypatch.setattr(lake, "TABLES", schema.TABLES)
    con = lake.open_lake(rt.settings, rt.store)
    assert con.execute("SELECT count(*) FROM lake.item_moves").fetchone() == (0,)
    con.close()
