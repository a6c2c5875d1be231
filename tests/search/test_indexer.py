"""Incremental indexing follows the catalogue; deletions disappear; rebuild and drop."""

from __future__ import annotations

import itertools

from mailark.catalog.deletion import delete_copies
from mailark.catalog.search.index import drop_index, index_dir, read_state
from mailark.catalog.search.indexer import documents_in, rebuild_index, sync_index
from mailark.catalog.search.searcher import IndexCache, search
from tests.search.conftest import Archive
from tests.search.mails import message


def ids(arc: Archive, q: str, cache: IndexCache) -> set[str]:
    page = search(arc.db_dir, arc.archive.org_id, q, {arc.ann.id, arc.info.id}, per_page=100, cache=cache)  # type: ignore[arg-type]
    return {h.item_id for h in page.hits}


def test_incremental_runs_add_new_copies_and_remove_deleted_ones(arc: Archive) -> None:
    cache = IndexCache()  # one reader for the whole test, as the web app keeps it
    first = arc.put(arc.ann, [message(i, subject=f"alpha {i}") for i in range(3)])
    run = sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert (run.mode, run.indexed) == ("rebuild", 3)
    assert ids(arc, "alpha", cache) == set(first)
    assert sync_index(arc.archive, arc.db_dir).mode == "unchanged"  # type: ignore[arg-type]

    # the same message in a second mailbox is a copy of its own, with its own document
    second = arc.put(arc.info, [message(0, subject="alpha 0"), message(7, subject="beta")])
    run = sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert (run.mode, run.indexed, run.deleted) == ("incremental", 2, 0)
    alpha = ids(arc, "alpha", cache)
    assert len(alpha) == 4 and alpha > set(first) and len(alpha & set(second)) == 1
    assert len(ids(arc, "beta", cache)) == 1

    # a compliance deletion: the copies go from the index at the next run (and only those)
    gone = [first[0], *ids(arc, "beta", cache)]
    delete_copies(arc.archive, gone)
    run = sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert run.mode == "incremental" and run.deleted == 2
    assert not ids(arc, "alpha OR beta", cache) & set(gone)
    assert len(ids(arc, "alpha", cache)) == 3
    assert documents_in(index_dir(arc.db_dir, arc.archive.org_id)) == 3  # type: ignore[arg-type]


class _CountingIndex:
    """An open index that counts its reloads (each one reopens every segment's readers)."""

    def __init__(self, index: object) -> None:
        self.index, self.reloads = index, 0

    def reload(self) -> None:
        self.reloads += 1
        self.index.reload()  # type: ignore[attr-defined]

    def searcher(self) -> object:
        return self.index.searcher()  # type: ignore[attr-defined]


def test_a_cached_reader_reloads_only_after_a_commit(arc: Archive) -> None:
    cache = IndexCache()
    arc.put(arc.ann, [message(i, subject=f"delta {i}") for i in range(2)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert len(ids(arc, "delta", cache)) == 2
    entry = cache._open[index_dir(arc.db_dir, arc.archive.org_id)]  # type: ignore[arg-type]
    entry.parts[0] = counting = _CountingIndex(entry.parts[0])  # type: ignore[call-overload]
    for _ in range(3):
        assert len(ids(arc, "delta", cache)) == 2
    assert counting.reloads == 0  # nothing committed: the open readers serve
    arc.put(arc.ann, [message(9, subject="delta 9")])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert len(ids(arc, "delta", cache)) == 3  # the commit is seen at once
    assert len(ids(arc, "delta", cache)) == 3
    assert counting.reloads == 1


def test_rerunning_a_range_changes_nothing(arc: Archive) -> None:
    arc.put(arc.ann, [message(i) for i in range(2)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    state = read_state(path)
    arc.put(arc.ann, [message(5)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    # as if the index had committed but state.json had not been written (a crash in between)
    from mailark.catalog.search.index import write_state

    write_state(path, state)  # type: ignore[arg-type]
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert documents_in(path) == 3


def test_rebuild_recreates_the_index_and_readers_follow(arc: Archive) -> None:
    cache = IndexCache()
    arc.put(arc.ann, [message(i, subject=f"gamma {i}") for i in range(4)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    before = read_state(path)
    assert len(ids(arc, "gamma", cache)) == 4
    run = rebuild_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    after = read_state(path)
    assert run.mode == "rebuild" and run.indexed == 4
    assert after.generation != before.generation and after.snapshot == before.snapshot  # type: ignore[union-attr]
    assert len(ids(arc, "gamma", cache)) == 4  # the cached reader reopened the new index
    assert not path.with_name(path.name + ".new").exists() and not path.with_name(path.name + ".old").exists()


def test_deleting_the_organization_deletes_its_index(arc: Archive) -> None:
    arc.put(arc.ann, [message(1)])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    assert path.is_dir()
    assert drop_index(arc.db_dir, arc.archive.org_id) is True  # type: ignore[arg-type]
    assert not path.exists()
    assert drop_index(arc.db_dir, arc.archive.org_id) is False  # type: ignore[arg-type]
    page = search(arc.db_dir, arc.archive.org_id, "", {arc.ann.id}, cache=IndexCache())  # type: ignore[arg-type]
    assert page.ready is False and page.total == 0


def test_expired_catalogue_history_means_a_rebuild(arc: Archive) -> None:
    from datetime import UTC, datetime, timedelta

    first = arc.put(arc.ann, [message(1, subject="delta one")])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    arc.put(arc.ann, [message(2, subject="delta two")])
    delete_copies(arc.archive, first)
    # maintenance expires every snapshot before now: the changes since the watermark are gone
    con = arc.archive.lake
    with arc.archive.lane():
        con.execute("CALL ducklake_expire_snapshots('lake', older_than => ?::TIMESTAMPTZ)",
                    [datetime.now(UTC) + timedelta(seconds=1)])
    run = sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert run.mode == "rebuild" and run.indexed == 1
    live = {r[0] for r in con.execute("SELECT item_id FROM lake.mailbox_items").fetchall()}
    assert len(live) == 1 and ids(arc, "delta", IndexCache()) == live


def test_a_copy_moved_to_another_folder_is_found_there(arc: Archive) -> None:
    """Mirrored sources apply server-side moves as an UPDATE of the copy's folder: the change feed
    reports it and the copy is written again."""
    (item,) = arc.put(arc.ann, [message(1, subject="epsilon")])
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    cache = IndexCache()
    assert ids(arc, "folder:INBOX epsilon", cache) == {item}
    with arc.archive.lane():
        arc.archive.lake.execute("UPDATE lake.mailbox_items SET folder = 'Archive/2024' WHERE item_id = ?", [item])
    run = sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    assert (run.mode, run.indexed, run.deleted) == ("incremental", 1, 0)
    assert ids(arc, "folder:INBOX epsilon", cache) == set()
    assert ids(arc, "folder:archive epsilon", cache) == {item}
    assert documents_in(index_dir(arc.db_dir, arc.archive.org_id)) == 1  # type: ignore[arg-type]


def test_rows_come_in_pack_order_with_copies_together(arc: Archive) -> None:
    """The indexer reads skeletons pack by pack, block by block (its block cache hits), and the
    copies of one message one after another (their text is extracted once)."""
    from mailark.catalog.search.documents import item_rows
    from mailark.storage.packs import EntryRef

    arc.put(arc.ann, [message(i, body=f"first batch {i} " + "x" * 3000) for i in range(40)])
    arc.put(arc.info, [message(i, body=f"second batch {i} " + "y" * 3000) for i in range(100, 140)])
    arc.put(arc.info, [message(i, body=f"first batch {i} " + "x" * 3000) for i in range(0, 40, 3)])  # copies
    rows = [r for rows in item_rows(arc.archive) for r in rows]  # type: ignore[arg-type]
    assert len(rows) == 94
    refs = [EntryRef.parse(r.skeleton_ref) for r in rows]
    positions = [(ref.pack_id, ref.block_offset) for ref in refs]
    assert positions == sorted(positions)
    keys = [r.message_key for r in rows]
    runs = [k for k, _ in itertools.groupby(keys)]
    assert len(runs) == len(set(keys)) == 80  # each message's copies in one run


def test_stats_show_the_index_size_outside_the_quota(arc: Archive) -> None:
    from mailark.catalog.ingest import storage_used
    from mailark.catalog.stats import org_stats

    arc.put(arc.ann, [message(i, body="quarterly figures " * 50) for i in range(5)])
    assert arc.archive.index_path == index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    before = org_stats(arc.archive)
    assert before["index_bytes"] == 0
    sync_index(arc.archive, arc.db_dir)  # type: ignore[arg-type]
    after = org_stats(arc.archive)
    on_disk = sum(p.stat().st_size for p in arc.archive.index_path.rglob("*") if p.is_file())  # type: ignore[union-attr]
    assert after["index_bytes"] == on_disk > 0
    assert after["stored_bytes"] == before["stored_bytes"] == storage_used(arc.archive)  # the quota does not count it
