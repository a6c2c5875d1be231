"""An index written as parts answers as one index does: the same hits, totals, order and pages;
incremental runs reach the right part; an index that grows past its parts is rebuilt in more; a
shared index with parts travels to another home whole."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailark.catalog.deletion import delete_copies
from mailark.catalog.search.index import index_dir, open_index, part_of, part_paths, parts_for, read_state
from mailark.catalog.search.indexer import IndexOptions, documents_in, rebuild_index, sync_index
from mailark.catalog.search.searcher import IndexCache, matching_item_ids, search
from tests.search.conftest import Archive
from tests.search.mails import message

ONE = IndexOptions(part_documents=1_000_000)
TWO = IndexOptions(part_documents=5, max_parts=2)
QUERIES = ("", "report", "quarterly OR report", '"quarterly report"', "from:ann", "-report", "has:attachment")


def _fill(arc: Archive) -> list[str]:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    raws = [message(i, subject=f"{'quarterly' if i % 3 else 'weekly'} report {i}" if i % 4 else f"note {i}",
                    body=f"the quarterly report number {i}" if i % 2 else f"plain words {i}",
                    date=start + timedelta(hours=i // 2),  # pairs of equal dates: ties across parts
                    attachments=[("a.txt", "text/plain", b"x")] if i % 5 == 0 else [])
            for i in range(23)]
    return arc.put(arc.ann, raws[:12]) + arc.put(arc.info, raws[12:])


def _everything(arc: Archive, q: str, sort: str, per_page: int) -> tuple[int, list[str]]:
    """Every page of `q`, in order (each page asked separately, as a client pages)."""
    cache, ids, page, total = IndexCache(), [], 1, 0
    while True:
        got = search(arc.db_dir, arc.archive.org_id, q, {arc.ann.id, arc.info.id}, page=page, per_page=per_page,  # type: ignore[arg-type]
                     sort=sort, cache=cache)
        total = got.total
        ids += [h.item_id for h in got.hits]
        if len(got.hits) < per_page:
            return total, ids
        page += 1


def _dates(arc: Archive, ids: list[str]) -> list[datetime | None]:
    got = search(arc.db_dir, arc.archive.org_id, "", {arc.ann.id, arc.info.id}, per_page=100, cache=IndexCache())  # type: ignore[arg-type]
    by_id = {h.item_id: h.date for h in got.hits}
    return [by_id[i] for i in ids]


def test_parts_answer_as_one_index(arc: Archive) -> None:
    items = _fill(arc)
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    sync_index(arc.archive, arc.db_dir, ONE)  # type: ignore[arg-type]
    assert read_state(path).parts == 1 and (path / "meta.json").is_file()  # type: ignore[union-attr]
    one = {(q, sort): _everything(arc, q, sort, 4) for q in QUERIES for sort in ("newest", "oldest", "relevance")}
    one_selection = matching_item_ids(arc.db_dir, arc.archive.org_id, "report", {arc.ann.id, arc.info.id}, cache=IndexCache())  # type: ignore[arg-type]

    run = rebuild_index(arc.archive, arc.db_dir, TWO)  # type: ignore[arg-type]
    assert run.indexed == len(items) == 23 and run.as_dict()["parts"] == 2
    assert read_state(path).parts == 2 and not (path / "meta.json").exists()  # type: ignore[union-attr]
    assert all(open_index(p).searcher().num_docs > 0 for p in part_paths(path, 2))  # each part an index of its own
    assert documents_in(path) == 23
    spread = {part_of(i, 2) for i in items}
    assert spread == {0, 1}, "the test needs copies in both parts"

    for (q, sort), (total, ids) in one.items():
        got_total, got_ids = _everything(arc, q, sort, 4)
        assert got_total == total and len(got_ids) == total, (q, sort)
        assert len(set(got_ids)) == len(got_ids), (q, sort)  # paging neither repeats nor skips
        assert set(got_ids) == set(ids), (q, sort)
        if sort != "relevance":  # the same dates in the same order (equal dates may come in another order)
            assert _dates(arc, got_ids) == _dates(arc, ids), (q, sort)
    two_selection = matching_item_ids(arc.db_dir, arc.archive.org_id, "report", {arc.ann.id, arc.info.id}, cache=IndexCache())  # type: ignore[arg-type]
    assert sorted(two_selection) == sorted(one_selection) and _dates(arc, two_selection) == _dates(arc, one_selection)


def test_incremental_runs_write_and_delete_in_the_right_part(arc: Archive) -> None:
    items = _fill(arc)
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    sync_index(arc.archive, arc.db_dir, TWO)  # type: ignore[arg-type]
    assert read_state(path).parts == 2  # type: ignore[union-attr]
    cache = IndexCache()

    def found(q: str) -> set[str]:
        page = search(arc.db_dir, arc.archive.org_id, q, {arc.ann.id, arc.info.id}, per_page=100, cache=cache)  # type: ignore[arg-type]
        return {h.item_id for h in page.hits}

    assert len(found("")) == 23
    added = arc.put(arc.info, [message(100 + i, subject=f"zebra {i}") for i in range(6)])
    run = sync_index(arc.archive, arc.db_dir, TWO)  # type: ignore[arg-type]
    assert (run.mode, run.indexed, run.parts) == ("incremental", 6, 2)
    assert found("zebra") == set(added)
    gone = [items[0], items[1], added[0]]
    delete_copies(arc.archive, gone)
    run = sync_index(arc.archive, arc.db_dir, TWO)  # type: ignore[arg-type]
    assert (run.mode, run.deleted) == ("incremental", 3)
    assert not found("") & set(gone) and len(found("")) == 26
    assert documents_in(path) == 26


def test_an_index_that_outgrows_its_parts_is_rebuilt_in_more(arc: Archive) -> None:
    arc.put(arc.ann, [message(i) for i in range(4)])
    grows = IndexOptions(part_documents=6, max_parts=2, grow_parts=True)
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    sync_index(arc.archive, arc.db_dir, grows)  # type: ignore[arg-type]
    assert read_state(path).parts == 1  # type: ignore[union-attr]
    before = read_state(path).generation  # type: ignore[union-attr]
    arc.put(arc.info, [message(10 + i) for i in range(9)])
    run = sync_index(arc.archive, arc.db_dir, grows)  # type: ignore[arg-type]
    state = read_state(path)
    assert run.mode == "rebuild" and run.indexed == 13
    assert state.parts == 2 and state.generation != before  # type: ignore[union-attr]
    page = search(arc.db_dir, arc.archive.org_id, "", {arc.ann.id, arc.info.id}, per_page=100, cache=IndexCache())  # type: ignore[arg-type]
    assert page.total == 13
    assert sync_index(arc.archive, arc.db_dir, grows).mode == "unchanged"  # type: ignore[arg-type]


def test_a_catch_up_run_does_not_rebuild_for_growth(arc: Archive) -> None:
    """An import's or a legal hold's catch-up indexes the new copies and leaves the parts to the
    index-mail flow: a rebuild reads every message again, and someone is waiting."""
    arc.put(arc.ann, [message(i) for i in range(4)])
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    opts = IndexOptions(part_documents=6, max_parts=2)
    sync_index(arc.archive, arc.db_dir, opts)  # type: ignore[arg-type]
    arc.put(arc.info, [message(10 + i) for i in range(9)])
    run = sync_index(arc.archive, arc.db_dir, opts)  # type: ignore[arg-type]
    assert (run.mode, run.indexed, run.parts) == ("incremental", 9, 1)
    assert read_state(path).parts == 1  # type: ignore[union-attr]
    run = sync_index(arc.archive, arc.db_dir, replace(opts, grow_parts=True))  # type: ignore[arg-type]
    assert run.mode == "unchanged"  # growth is looked at when a run writes something
    arc.put(arc.info, [message(40)])
    run = sync_index(arc.archive, arc.db_dir, replace(opts, grow_parts=True))  # type: ignore[arg-type]
    assert (run.mode, run.parts, run.indexed) == ("rebuild", 2, 14)


def test_an_index_with_a_part_missing_is_not_ready_and_is_rebuilt(arc: Archive) -> None:
    """No traceback for a part lost on disk: searches say the index is not ready (as with no index),
    and the next indexing run rebuilds it whole."""
    import shutil

    _fill(arc)
    path = index_dir(arc.db_dir, arc.archive.org_id)  # type: ignore[arg-type]
    sync_index(arc.archive, arc.db_dir, TWO)  # type: ignore[arg-type]
    shutil.rmtree(part_paths(path, 2)[1])
    page = search(arc.db_dir, arc.archive.org_id, "report", {arc.ann.id, arc.info.id}, cache=IndexCache())  # type: ignore[arg-type]
    assert not page.ready and page.total == 0
    run = sync_index(arc.archive, arc.db_dir, TWO)  # type: ignore[arg-type]
    assert (run.mode, run.indexed, run.parts) == ("rebuild", 23, 2)
    page = search(arc.db_dir, arc.archive.org_id, "", {arc.ann.id, arc.info.id}, cache=IndexCache())  # type: ignore[arg-type]
    assert page.ready and page.total == 23


@pytest.mark.parametrize(("documents", "expected"), [(0, 1), (399_999, 1), (800_000, 2), (5_000_000, 2)])
def test_parts_for_a_size(documents: int, expected: int) -> None:
    assert parts_for(documents, 400_000, 2) == expected


def test_settings_reach_the_indexer(tmp_path: Path) -> None:
    from mailark.config.settings import SearchSettings

    opts = IndexOptions.from_settings(SearchSettings(part_documents=7, max_parts=3))
    assert (opts.part_documents, opts.max_parts, opts.grow_parts) == (7, 3, False)
    assert IndexOptions.from_settings(SearchSettings(), grow_parts=True).grow_parts
    assert opts.parts(30) == 3 and opts.parts(13) == 1
